// What can go wrong with a checkpoint file, in words a user can act on. Every error names the file,
// the object inside it (dataset, group or attribute) where there is one, and the reason; HDF5's own
// message rides along when HDF5 raised it.

import Foundation

public struct CheckpointError: Error, Sendable, CustomStringConvertible, Codable {
    public enum Reason: Sendable, Equatable, Codable {
        // The file as a whole.
        case missingFile
        case emptyFile
        case notHDF5
        case truncated
        case notACheckpoint(format: String?)
        case unsupportedVersion(found: Int64, supported: Int64)
        // One object inside it.
        case checksumMismatch
        /// Absent, though `listedBy` says it should be there (the file's tensor index, the model config).
        case missingObject(listedBy: String)
        case unexpectedObject
        case missingAttribute
        case wrongType(expected: String, found: String)
        case shapeMismatch(expected: [Int], found: [Int])
        case noChecksum
        case unreadable
        /// A value that parses but is not what the format says (the tensor index, say).
        case malformed(String)
        /// An attribute too large for HDF5 to checksum changed since the file was written.
        case uncheckedAttributeChanged(bytes: Int)
        /// A tensor that held other values when written now has a chunk of zeros (a zero-filled block).
        case zeroFilled
        // The child process that reads a file no stamp vouches for.
        case parserCrashed(signal: Int32)
        case parserTimedOut(seconds: Int)
        // Writing.
        case invalidName(String)
        case invalidValue(String)
        case writeFailed(String)
    }

    /// The checkpoint file (the final name, also when the failure hit its `.tmp`).
    public var file: String
    /// The object inside the file: `/model/wte`, `/optimizer/policy@step`, or nil for the whole file.
    public var object: String?
    public var reason: Reason
    /// The underlying library or system message, when there is one (HDF5's innermost message, errno text).
    public var detail: String?
    /// Why the file was read without the protection of its stamp, when that is so: `file checksum
    /// mismatch: CRC-32C …` (it changed since it was written) or `…: its stamp is damaged (…)`.
    public var context: String?

    public init(file: String, object: String? = nil, reason: Reason, detail: String? = nil, context: String? = nil) {
        self.file = file
        self.object = object
        self.reason = reason
        self.detail = detail
        self.context = context
    }

    /// True when the file is bad (reading it failed validation); false when the failure is the
    /// machine's (a write that could not complete). The CLI maps these to exit codes 2 and 1.
    public var isInvalidFile: Bool {
        switch reason {
        case .writeFailed, .invalidName, .invalidValue: false
        default: true
        }
    }

    public var reasonText: String {
        switch reason {
        case .missingFile: "no such file"
        case .emptyFile: "empty file (0 bytes): not a checkpoint"
        case .notHDF5: "not an HDF5 file (no HDF5 signature)"
        case .truncated: "truncated file: it ends before the size HDF5 recorded"
        case .notACheckpoint(let format?): "not a swift-rlhf checkpoint (format = \"\(format)\")"
        case .notACheckpoint(nil): "not a swift-rlhf checkpoint (no format attribute)"
        case .unsupportedVersion(let found, let supported):
            "format_version \(found) is not supported (this build reads version \(supported))"
        case .checksumMismatch: "Fletcher-32 checksum mismatch: the data is corrupt"
        case .missingObject(let listedBy): "missing, but \(listedBy) lists it"
        case .unexpectedObject: "present in the file but not listed in its tensor index"
        case .missingAttribute: "required attribute is missing"
        case .wrongType(let expected, let found): "wrong type: expected \(expected), found \(found)"
        case .shapeMismatch(let expected, let found): "shape \(found) does not match the expected \(expected)"
        case .noChecksum: "dataset has no Fletcher-32 checksum filter (the format requires one)"
        case .unreadable: "unreadable"
        case .malformed(let why): "malformed: \(why)"
        case .uncheckedAttributeChanged(let bytes):
            "changed since it was written, and HDF5 keeps an attribute this large (\(bytes) bytes) without a checksum, so a change cannot be told from damage"
        case .zeroFilled: "a chunk reads as zeros where other values were written (a zero-filled block, which Fletcher-32 cannot see)"
        case .parserCrashed(let signal): "HDF5 crashed reading it (signal \(signal), in a child process): the file is malformed"
        case .parserTimedOut(let seconds): "HDF5 did not finish reading it in \(seconds) s (in a child process): the file is malformed"
        case .invalidName(let why): "invalid name: \(why)"
        case .invalidValue(let why): "invalid value: \(why)"
        case .writeFailed(let why): "could not write the checkpoint: \(why)"
        }
    }

    /// One line: `FILE: [CONTEXT; ]OBJECT: reason [detail]`.
    public var description: String {
        var line = file + ": "
        if let context { line += context + "; " }
        if let object { line += object + ": " }
        line += reasonText
        if let detail, !detail.isEmpty { line += " [\(detail)]" }
        return line
    }
}

extension CheckpointError {
    /// Classifies a failed HDF5 call met while reading, by HDF5's own messages.
    init(reading error: HDF5Error, file: String) {
        let reason: Reason =
            if error.mentions("Fletcher32") { .checksumMismatch }
            else if error.mentions("truncated file") { .truncated }
            else if error.mentions("file signature not found") { .notHDF5 }
            else if error.mentions("not found") || error.mentions("doesn't exist") { .missingObject(listedBy: "the file's structure") }
            else { .unreadable }
        self.init(file: file, object: error.object == "/" ? nil : error.object, reason: reason,
                  detail: "HDF5 \(error.call): \(error.innermost)")
    }

    /// A failed HDF5 call met while building a file (in memory: disk errors come from AtomicCommit).
    init(writing error: HDF5Error, file: String) {
        self.init(file: file, object: error.object == "/" ? nil : error.object, reason: .writeFailed(error.innermost),
                  detail: "HDF5 \(error.call)")
    }

    /// A failed system call (open, fsync, rename) while committing.
    static func system(_ call: String, errno code: Int32, file: String, path: String) -> CheckpointError {
        CheckpointError(file: file, reason: .writeFailed("\(call) \(path): \(String(cString: strerror(code)))"))
    }
}
