// The whole-file stamp (docs/checkpoints.md): CRC-32C against a bit-by-bit reference; every file is
// stamped and verified before HDF5 parses it; a file that no longer matches its stamp is read in a
// child process and accepted with a notice when HDF5 verifies it (an edit), refused when it does not
// or when a tensor turned into a zero-filled chunk (damage Fletcher-32 cannot see).

@testable import Checkpoint
import Foundation
import Testing

/// CRC-32C one bit at a time, straight from the definition (reflected polynomial 0x82F63B78).
func referenceCRC32C(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return ~crc
}

@Suite struct StampTests {
    let scratch = ScratchFolder()

    func written(_ checkpoint: CheckpointFile = smallCheckpoint(), _ name: String = "good.h5") throws -> URL {
        let url = scratch.file(name)
        try save(checkpoint, url)
        return url
    }

    /// Reads `url` expecting a CheckpointError that says the file no longer matches its stamp.
    func refusedAsMismatch(_ url: URL, sourceLocation: SourceLocation = #_sourceLocation) -> CheckpointError? {
        let error = expectCheckpointError({ _ = try CheckpointFile.readChecked(from: url) }, sourceLocation: sourceLocation)
        #expect(error?.description.hasPrefix("\(url.path): file checksum mismatch") == true, "\(String(describing: error))",
                sourceLocation: sourceLocation)
        #expect(error?.description.contains("\n") == false, sourceLocation: sourceLocation)
        return error
    }

    @Test func crc32cIsTheStandardOne() {
        #expect(CRC32C.of(Array("123456789".utf8).withUnsafeBytes { $0 }) == 0xE306_9283)
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<(3 * 8192 * 3 + 77)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        // Every alignment, and lengths around the three-stream blocks (3 × 8 KiB) of the fast path.
        for (offset, length) in [(0, 0), (1, 1), (3, 7), (5, 64), (0, 3 * 8192), (7, 3 * 8192 + 9), (2, 6 * 8192 + 13),
                                 (0, bytes.count), (6, bytes.count - 6)] {
            let slice = Array(bytes[offset..<(offset + length)])
            #expect(slice.withUnsafeBytes { CRC32C.of($0) } == referenceCRC32C(slice), "offset \(offset), length \(length)")
        }
        // Continuing over a split equals one pass.
        let whole = bytes.withUnsafeBytes { CRC32C.of($0) }
        let split = bytes.withUnsafeBytes { CRC32C.of(UnsafeRawBufferPointer(rebasing: $0[1000...]), continuing: CRC32C.of(UnsafeRawBufferPointer(rebasing: $0[..<1000]))) }
        #expect(whole == split)
    }

    @Test func everyFileIsStampedAndVerifiedBeforeHDF5ReadsIt() throws {
        let checkpoint = smallCheckpoint()
        let url = try written(checkpoint)
        let bytes = [UInt8](try Data(contentsOf: url))
        #expect(bytes.starts(with: Array("swift-rlhf checkpoint stamp\n".utf8)))
        #expect(Array(bytes[512..<520]) == Validation.hdf5Signature, "HDF5's superblock follows a 512-byte user block")
        let (read, integrity) = try CheckpointFile.readChecked(from: url)
        #expect(read.root == checkpoint.root)
        let stamp = try #require(bytes.withUnsafeBytes { bytes -> FileStamp? in
            if case .verified(let stamp) = FileStamp.check(bytes) { return stamp } else { return nil }
        })
        #expect(integrity == .verified(crc32c: stamp.fileCRC, bytes: bytes.count))
        #expect(stamp.fileSize == bytes.count && stamp.hdf5Offset == 512)
        #expect(stamp.fileCRC == referenceCRC32C(Array(bytes[512...])))
        for (path, tensor) in checkpoint.root.allTensors {
            #expect(stamp.tensorCRCs[path] == tensor.values.withUnsafeBytes { referenceCRC32C(Array($0)) }, "\(path)")
        }
        #expect(integrity.notice(file: url.path) == nil)
    }

    @Test func theUserBlockGrowsWithTheTensorList() throws {
        #expect(FileStamp.userBlockSize(for: [], attributes: []) == 512)
        let paths = (0..<500).map { "/optimizer/critic/m/h.\($0).mlp.c_proj.weight" }
        let size = FileStamp.userBlockSize(for: paths, attributes: [])
        #expect(size >= 32768 && size & (size - 1) == 0)
        var many = smallCheckpoint()
        for path in paths.prefix(120) { many[tensor: path] = Tensor(shape: [2], values: [1, 2]) }
        let url = try written(many, "many.h5")
        guard case .verified = try CheckpointFile.readChecked(from: url).integrity else { Issue.record("not verified"); return }
    }

    @Test func aChangedByteInHDF5sMetadataIsAMismatch() throws {
        let url = try written()
        var bytes = [UInt8](try Data(contentsOf: url))
        bytes[512 + 20] ^= 0x01  // inside the superblock
        try Data(bytes).write(to: url)
        let error = refusedAsMismatch(url)
        #expect(error?.context?.contains("CRC-32C") == true)
    }

    @Test func attributeAndTensorEditsLoadWithANoticeNamingTheChangedTensors() throws {
        let url = try written()
        try editWithHDF5(url) { file in
            try file.deleteAttribute("stage_name", on: "/")
            try file.writeAttribute("stage_name", on: "/", .string("renamed by hand"))
        }
        let renamed = try CheckpointFile.readChecked(from: url)
        #expect(renamed.checkpoint.metadata.stageName == "renamed by hand")
        guard case .checkedInChild(let why, let changed) = renamed.integrity else { Issue.record("verified?"); return }
        #expect(why.hasPrefix("it changed since it was written ("), "\(why)")
        #expect(changed == [])
        #expect(renamed.integrity.notice(file: url.path)?.hasSuffix("every HDF5 checksum verified; no tensor changed") == true)

        try editWithHDF5(url) { file in
            try file.unlink("/model/h.0.ln_1.weight")
            try [Float](repeating: 0.5, count: 16).withUnsafeBufferPointer {
                try file.writeFloats("/model/h.0.ln_1.weight", shape: [16], chunk: [16], values: $0)
            }
        }
        var lines: [String] = []
        let edited = try CheckpointFile.read(from: url, notice: { lines.append($0) })
        #expect(edited[tensor: "/model/h.0.ln_1.weight"]?.values == [Float](repeating: 0.5, count: 16))
        #expect(lines.count == 1 && lines[0].hasSuffix("changed tensors: /model/h.0.ln_1.weight"), "\(lines)")
    }

    @Test func aZeroFilledChunkIsDamageNotAnEdit() throws {
        // A 16-float tensor is one 64-byte chunk followed by its 4-byte Fletcher-32 sum; zeroing both
        // gives a chunk HDF5 reads as valid zeros.
        var checkpoint = smallCheckpoint()
        checkpoint[tensor: "/model/h.0.ln_1.weight"] = Tensor(shape: [16], values: [Float](repeating: 4321.5, count: 16))
        let url = try written(checkpoint)
        var bytes = [UInt8](try Data(contentsOf: url))
        let pattern = Array(repeating: withUnsafeBytes(of: Float(4321.5).bitPattern.littleEndian, Array.init), count: 16).flatMap { $0 }
        let start = try #require((0...(bytes.count - pattern.count)).first { bytes[$0..<($0 + pattern.count)].elementsEqual(pattern) })
        for i in start..<(start + pattern.count + 4) { bytes[i] = 0 }
        try Data(bytes).write(to: url)
        let error = refusedAsMismatch(url)
        #expect(error?.reason == .zeroFilled)
        #expect(error?.object == "/model/h.0.ln_1.weight")
    }

    @Test func withoutAStampOrWithADamagedOneHDF5sChecksDecide() throws {
        let url = try written()
        let original = [UInt8](try Data(contentsOf: url))
        let textEnd = try #require(original.firstIndex(of: 0))  // the stamp's text, then NUL padding

        var damaged = original
        damaged[40] ^= 0x20  // inside the JSON line
        try Data(damaged).write(to: url)
        let fromDamaged = try CheckpointFile.readChecked(from: url)
        guard case .checkedInChild(let why, nil) = fromDamaged.integrity else { Issue.record("\(fromDamaged.integrity)"); return }
        #expect(why.hasPrefix("its stamp is damaged (its own CRC-32C is "), "\(why)")
        #expect(fromDamaged.checkpoint.root == smallCheckpoint().root)

        var unstamped = original
        for i in 0..<textEnd { unstamped[i] = 0 }
        try Data(unstamped).write(to: url)
        let fromUnstamped = try CheckpointFile.readChecked(from: url)
        #expect(fromUnstamped.integrity == .checkedInChild(why: "it has no stamp (another tool wrote it, or a version before stamps)",
                                                          changedTensors: nil))
        #expect(fromUnstamped.checkpoint.root == smallCheckpoint().root)

        try Data(original.prefix(300)).write(to: url)
        let error = expectCheckpointError { _ = try CheckpointFile.readChecked(from: url) }
        #expect(error?.reason == .truncated, "\(String(describing: error))")
    }
}
