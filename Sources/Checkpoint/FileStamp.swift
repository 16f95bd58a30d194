// The stamp: the first bytes of every checkpoint file, in HDF5's user block (a region HDF5, h5py and
// h5dump skip: the HDF5 part begins after it). It records what the file was when it was committed, so
// a file is verified before HDF5 parses a byte of it (docs/checkpoints.md):
//
//   swift-rlhf checkpoint stamp\n
//   {"attribute_crc32c":{},"file_crc32c":"1a2b3c4d","file_size":309750,"hdf5_offset":4096,
//    "tensor_crc32c":{"/model/wte":"0a1b2c3d",...},"version":1}\n          (one line)
//   stamp_crc32c 5e6f7a8b\n
//   NUL bytes up to hdf5_offset
//
// `file_crc32c` covers the HDF5 part (bytes hdf5_offset..<file_size); `stamp_crc32c` covers the two
// lines before it; the padding must be zero. So every byte of the file is checked. `tensor_crc32c`
// holds the CRC-32C of each tensor's float32 values and `attribute_crc32c` that of each attribute
// larger than 4 KiB (which HDF5 stores without a checksum of its own): when a file no longer matches
// its stamp (edited with h5py, or damaged), they tell what changed.

import Foundation

struct FileStamp: Equatable, Sendable {
    static let magic = Array("swift-rlhf checkpoint stamp\n".utf8)
    static let version = 1
    static let crcPrefix = Array("stamp_crc32c ".utf8)

    /// Where the HDF5 part begins: the user block's size (a power of two, at least 512).
    var hdf5Offset: Int
    /// The whole file's size in bytes.
    var fileSize: Int
    /// CRC-32C of bytes `hdf5Offset..<fileSize`.
    var fileCRC: UInt32
    /// CRC-32C of each tensor's values (float32, little-endian), by absolute path.
    var tensorCRCs: [String: UInt32]
    /// CRC-32C of each attribute larger than `largeAttribute` bytes, by `/group@name`.
    var attributeCRCs: [String: UInt32] = [:]

    /// HDF5 stores an attribute larger than this (in dense storage: a group with many attributes) as a
    /// "huge object" of its fractal heap, without a checksum.
    static let largeAttribute = 4096

    /// The stamp's text: the magic line, the JSON line and the `stamp_crc32c` line.
    func text() -> [UInt8] {
        let object: [String: Any] = [
            "version": Self.version, "hdf5_offset": hdf5Offset, "file_size": fileSize, "file_crc32c": CRC32C.hex(fileCRC),
            "tensor_crc32c": tensorCRCs.mapValues(CRC32C.hex), "attribute_crc32c": attributeCRCs.mapValues(CRC32C.hex),
        ]
        let json = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        let body = Self.magic + Array(json) + [0x0A]
        let crc = body.withUnsafeBytes { CRC32C.of($0) }
        return body + Self.crcPrefix + Array(CRC32C.hex(crc).utf8) + [0x0A]
    }

    /// The user block for a stamp of these tensors: the smallest power of two (at least 512) that
    /// holds its text whatever the file's size and CRCs turn out to be.
    static func userBlockSize(for tensorPaths: [String], attributes: [String]) -> Int {
        func crcs(_ paths: [String]) -> [String: UInt32] { Dictionary(paths.map { ($0, UInt32.max) }, uniquingKeysWith: { a, _ in a }) }
        let widest = FileStamp(hdf5Offset: Int(Int32.max), fileSize: Int.max, fileCRC: .max, tensorCRCs: crcs(tensorPaths),
                               attributeCRCs: crcs(attributes))
        var size = 512
        while size < widest.text().count { size *= 2 }
        return size
    }

    /// Writes the stamp into a finished image whose first `hdf5Offset` bytes are HDF5's empty user block.
    static func stamp(_ image: UnsafeMutableRawBufferPointer, hdf5Offset: Int, tensorCRCs: [String: UInt32],
                      attributeCRCs: [String: UInt32]) {
        let hdf5Part = UnsafeRawBufferPointer(rebasing: image[hdf5Offset...])
        let stamp = FileStamp(hdf5Offset: hdf5Offset, fileSize: image.count, fileCRC: CRC32C.of(hdf5Part), tensorCRCs: tensorCRCs,
                              attributeCRCs: attributeCRCs)
        let text = stamp.text()
        precondition(text.count <= hdf5Offset, "the stamp (\(text.count) bytes) outgrew its user block (\(hdf5Offset))")
        image.copyBytes(from: text)
        image[text.count..<hdf5Offset].initializeMemory(as: UInt8.self, repeating: 0)
    }

    // MARK: Checking a file

    enum Check: Equatable, Sendable {
        /// Every byte matches the stamp: the file is exactly as committed.
        case verified(FileStamp)
        /// The stamp is intact, the file is not what it describes (`why`).
        case mismatch(FileStamp, why: String)
        /// The file starts like a stamp, but the stamp itself is damaged (`why`).
        case damagedStamp(why: String)
        /// No stamp: a file from another tool, or from before stamps.
        case unstamped
    }

    /// Reads and checks the stamp of a whole file's bytes. Never trusts a field before the stamp's
    /// own CRC has verified it; bounded work whatever the bytes are.
    static func check(_ file: UnsafeRawBufferPointer) -> Check {
        guard file.count >= magic.count, file.prefix(magic.count).elementsEqual(magic) else { return .unstamped }
        let (stamp, textEnd): (FileStamp, Int)
        switch parse(file) {
        case .success(let parsed): (stamp, textEnd) = parsed
        case .failure(let problem): return .damagedStamp(why: problem.why)
        }
        if file.count < stamp.hdf5Offset {
            return .mismatch(stamp, why: "it is \(file.count) bytes long and ends inside its stamp (\(stamp.hdf5Offset) bytes)")
        }
        if file[textEnd..<stamp.hdf5Offset].contains(where: { $0 != 0 }) {
            return .mismatch(stamp, why: "the padding after its stamp is not zero")
        }
        if file.count != stamp.fileSize {
            return .mismatch(stamp, why: "it is \(file.count) bytes long; \(stamp.fileSize) were written")
        }
        let crc = CRC32C.of(UnsafeRawBufferPointer(rebasing: file[stamp.hdf5Offset...]))
        if crc != stamp.fileCRC {
            return .mismatch(stamp, why: "CRC-32C \(CRC32C.hex(crc)), \(CRC32C.hex(stamp.fileCRC)) when written")
        }
        return .verified(stamp)
    }

    struct Problem: Error { var why: String }

    /// The stamp at the start of `file` and where its text ends.
    private static func parse(_ file: UnsafeRawBufferPointer) -> Result<(FileStamp, Int), Problem> {
        func fail(_ why: String) -> Result<(FileStamp, Int), Problem> { .failure(Problem(why: why)) }
        // The JSON line ends at the first newline after the magic (JSON text holds none of its own);
        // a stamp is never longer than its user block, which is at most 64 MiB.
        let searchEnd = min(file.count, 64 << 20)
        guard let jsonEnd = file[magic.count..<searchEnd].firstIndex(of: 0x0A) else { return fail("its first line never ends") }
        let crcStart = jsonEnd + 1, crcEnd = crcStart + crcPrefix.count + 8
        guard crcEnd < file.count, file[crcStart..<(crcStart + crcPrefix.count)].elementsEqual(crcPrefix), file[crcEnd] == 0x0A,
              let recorded = CRC32C.parse(String(decoding: file[(crcStart + crcPrefix.count)..<crcEnd], as: UTF8.self)) else {
            return fail("no stamp_crc32c line after its JSON line")
        }
        let actual = CRC32C.of(UnsafeRawBufferPointer(rebasing: file[0..<crcStart]))
        guard actual == recorded else { return fail("its own CRC-32C is \(CRC32C.hex(actual)), \(CRC32C.hex(recorded)) when written") }
        // From here on the text is what was written; the checks below guard against a bug, not damage.
        let json = Data(file[magic.count..<jsonEnd])
        guard let object = (try? JSONSerialization.jsonObject(with: json)) as? [String: Any] else { return fail("its JSON line is not an object") }
        guard let version = object["version"] as? Int, version == Self.version else {
            return fail("stamp version \(object["version"].map { "\($0)" } ?? "missing") is not \(Self.version)")
        }
        guard let offset = object["hdf5_offset"] as? Int, offset >= 512, offset & (offset - 1) == 0, offset > crcEnd,
              let size = object["file_size"] as? Int, size >= offset,
              let fileCRC = (object["file_crc32c"] as? String).flatMap(CRC32C.parse),
              let tensors = object["tensor_crc32c"] as? [String: String] else {
            return fail("its JSON line lacks a valid hdf5_offset, file_size, file_crc32c or tensor_crc32c")
        }
        var tensorCRCs: [String: UInt32] = [:], attributeCRCs: [String: UInt32] = [:]
        for (path, hex) in tensors {
            guard let crc = CRC32C.parse(hex) else { return fail("tensor_crc32c of \(path) is not 8 hexadecimal digits") }
            tensorCRCs[path] = crc
        }
        guard let attributes = (object["attribute_crc32c"] ?? [String: String]()) as? [String: String] else {
            return fail("its attribute_crc32c is not an object")
        }
        for (path, hex) in attributes {
            guard let crc = CRC32C.parse(hex) else { return fail("attribute_crc32c of \(path) is not 8 hexadecimal digits") }
            attributeCRCs[path] = crc
        }
        return .success((FileStamp(hdf5Offset: offset, fileSize: size, fileCRC: fileCRC, tensorCRCs: tensorCRCs,
                                   attributeCRCs: attributeCRCs), crcEnd + 1))
    }
}

/// How a checkpoint that was read had been verified.
public enum FileIntegrity: Equatable, Sendable {
    /// Every byte matched its stamp: HDF5 parsed exactly the file that was committed.
    case verified(crc32c: UInt32, bytes: Int)
    /// No stamp vouched for it (`why`): a child process read it and every check HDF5 makes passed.
    /// `changedTensors` lists the tensors whose values differ from the stamp's record (nil without one).
    case checkedInChild(why: String, changedTensors: [String]?)

    /// The one-line notice for a file read without its stamp's protection (nil for a verified one).
    public func notice(file: String) -> String? {
        guard case let .checkedInChild(why, changed) = self else { return nil }
        var line = "\(file): \(why); read in a child process, every HDF5 checksum verified"
        if let changed {
            line += changed.isEmpty ? "; no tensor changed"
                : "; changed tensors: " + changed.prefix(5).joined(separator: ", ") + (changed.count > 5 ? " and \(changed.count - 5) more" : "")
        }
        return line
    }
}
