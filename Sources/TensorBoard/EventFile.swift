// TensorBoard event files: TFRecord framing around serialized `Event`s.
//
//   record = uint64 length · uint32 masked_crc32c(length bytes) · data[length] · uint32 masked_crc32c(data)
//   (little-endian; see CRC32C.swift for the mask)
//
// A file is named `events.out.tfevents.TTTTTTTTTT.HOST.PID.N` (TensorFlow's pattern, T = Unix seconds,
// so files sort by creation time) and starts with a `file_version` event "brain.Event:2". A writer
// appends each record with one write(2): a kill leaves at most one torn record at the end, which
// TensorBoard's reader treats as not-yet-written data and `EventFile.records` stops before.

import Foundation

public struct EventFileError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var call: String
    public var code: Int32

    public var description: String { "\(path): \(call) failed: \(String(cString: strerror(code)))" }
}

/// Appends events to a new event file.
public final class EventFileWriter {
    public static let fileVersion = "brain.Event:2"
    public static let namePrefix = "events.out.tfevents."
    public let url: URL
    private let fd: Int32

    /// Creates a new file in `folder` (made if missing) and writes the file_version event.
    public init(folder: URL, time: Date = Date()) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var host = [CChar](repeating: 0, count: 256)
        if gethostname(&host, host.count - 1) != 0 { host = Array("localhost".utf8CString) }
        let stem = Self.namePrefix + String(format: "%010d", Int(time.timeIntervalSince1970)) + "."
            + String(cString: host) + ".\(getpid())."
        var n = 0, url: URL, fd: Int32
        repeat {   // a second writer of this process in the same second takes the next number
            url = folder.appendingPathComponent(stem + String(n))
            fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
            n += 1
        } while fd < 0 && errno == EEXIST
        guard fd >= 0 else { throw EventFileError(path: url.path, call: "open", code: errno) }
        self.url = url
        self.fd = fd
        try write(Event(wallTime: time.timeIntervalSince1970, step: 0, content: .fileVersion(Self.fileVersion)))
    }

    deinit { close(fd) }

    public func write(_ event: Event) throws {
        let record = EventFile.record(event.encoded())
        let written = record.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == record.count else { throw EventFileError(path: url.path, call: "write", code: errno) }
    }

    /// Flushes the file to disk (before a checkpoint that covers its events is committed).
    public func sync() { fsync(fd) }
}

public enum EventFile {
    /// The framed record of `data`.
    public static func record(_ data: [UInt8]) -> [UInt8] {
        var length: [UInt8] = []
        for k in 0..<8 { length.append(UInt8(truncatingIfNeeded: UInt64(data.count) >> (8 * UInt64(k)))) }
        return length + bytes(CRC32C.masked(length)) + data + bytes(CRC32C.masked(data))
    }

    private static func bytes(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }

    /// The data of every whole, intact record of the file at `url`, in order, and whether the file
    /// ends cleanly after them (false: a torn or corrupt record follows, as a kill mid-write leaves).
    public static func records(at url: URL) throws -> (records: [[UInt8]], clean: Bool) {
        guard let contents = FileManager.default.contents(atPath: url.path) else {
            throw EventFileError(path: url.path, call: "read", code: errno == 0 ? ENOENT : errno)
        }
        let file = [UInt8](contents)
        var records: [[UInt8]] = [], i = 0
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(file[at + $1]) << (8 * UInt32($1)) } }
        while file.count - i >= 12 {
            let lengthBytes = Array(file[i..<i + 8])
            let length = lengthBytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            guard u32(i + 8) == CRC32C.masked(lengthBytes), length <= UInt64(file.count - i - 16) else { break }
            let data = Array(file[i + 12..<i + 12 + Int(length)])
            guard u32(i + 12 + Int(length)) == CRC32C.masked(data) else { break }
            records.append(data)
            i += 16 + Int(length)
        }
        return (records, i == file.count)
    }

    /// The event files of `folder`, in TensorBoard's reading order (by name).
    public static func files(in folder: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasPrefix(EventFileWriter.namePrefix) && !$0.hasSuffix(".tmp") }.sorted()
            .map { folder.appendingPathComponent($0) }
    }

    /// Keeps the records of `url` whose event step is ≤ `step` (and none past a torn record); the file
    /// is replaced atomically, and only when something is dropped. Returns how many records were dropped.
    @discardableResult
    public static func truncate(_ url: URL, throughStep step: Int64) throws -> Int {
        let (records, clean) = try records(at: url)
        let kept = records.filter { record in Event.step(ofEncoded: record).map { $0 <= step } ?? true }
        guard kept.count < records.count || !clean else { return 0 }
        let temporary = url.appendingPathExtension("tmp")
        let data = Data(kept.flatMap { Self.record($0) })
        do {
            try data.write(to: temporary)
            guard rename(temporary.path, url.path) == 0 else { throw EventFileError(path: url.path, call: "rename", code: errno) }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        return records.count - kept.count + (clean ? 0 : 1)
    }
}

extension Event {
    /// The step of a serialized event (0 when absent, as in protobuf), or nil for bytes that do not parse.
    public static func step(ofEncoded bytes: [UInt8]) -> Int64? {
        guard let fields = ProtoFields.parse(bytes[...]) else { return nil }
        for case (2, .varint(let v)) in fields.map({ ($0.number, $0.value) }) { return Int64(bitPattern: v) }
        return 0
    }
}
