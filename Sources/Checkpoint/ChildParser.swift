// Reading a file no stamp vouches for (edited with h5py, damaged, or from another tool) in a child
// process, because HDF5 is not hardened against malformed metadata: it can crash or loop on it. The
// child, `rlhf _checkpoint-parse FILE`, reads the file with HDF5 and writes back either a freshly
// stamped image of what it read (exit 0) or its CheckpointError as JSON (exit 2). The parent checks
// that image's stamp and parses it itself. A crash or a hang kills only the child, and becomes a
// CheckpointError naming the file. (docs/checkpoints.md)

import Foundation

enum ChildParser {
    static let command = "_checkpoint-parse"

    /// The `rlhf` executable that runs the child: `$RLHF_BINARY`, this process when it is `rlhf`,
    /// else `rlhf` beside this process's executable (test bundles sit beside it), else on `PATH`.
    static func executable() -> URL? {
        let environment = ProcessInfo.processInfo.environment
        var candidates: [String] = []
        if let path = environment["RLHF_BINARY"] { candidates.append(path) }
        if let me = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            if (me as NSString).lastPathComponent == "rlhf" { candidates.append(me) }
            candidates.append(((me as NSString).deletingLastPathComponent as NSString).appendingPathComponent("rlhf"))
        }
        for folder in (environment["PATH"] ?? "").split(separator: ":") { candidates.append("\(folder)/rlhf") }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }.map { URL(fileURLWithPath: $0) }
    }

    /// How long the child may take: far more than HDF5 needs to read a file of `size` bytes.
    static func timeout(size: Int) -> Double { 60 + Double(size) / 20e6 }

    /// Parses the file at `path` (`size` bytes) in a child and returns what it read.
    static func parse(_ path: String, size: Int) throws -> CheckpointFile {
        guard let executable = executable() else {
            throw CheckpointError(file: path, reason: .unreadable,
                                  detail: "it must be read in a child process, and no rlhf executable was found (set RLHF_BINARY)")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = [command, path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw CheckpointError(file: path, reason: .unreadable, detail: "cannot start \(executable.path): \(error)")
        }
        let limit = timeout(size: size)
        let timedOut = Flag()
        let pid = process.processIdentifier
        let watchdog = DispatchWorkItem {
            timedOut.set()
            kill(pid, SIGKILL)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + limit, execute: watchdog)
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()

        if process.terminationReason == .uncaughtSignal {
            if timedOut.isSet { throw CheckpointError(file: path, reason: .parserTimedOut(seconds: Int(limit))) }
            throw CheckpointError(file: path, reason: .parserCrashed(signal: process.terminationStatus))
        }
        if process.terminationStatus == 2, var error = try? JSONDecoder().decode(CheckpointError.self, from: data) {
            error.file = path
            throw error
        }
        switch process.terminationStatus {
        case 0:
            return try data.withUnsafeBytes { bytes in
                guard case .verified = FileStamp.check(bytes) else {
                    throw CheckpointError(file: path, reason: .unreadable, detail: "the child process returned a damaged image")
                }
                return try CheckpointFile.parse(image: bytes, label: path)
            }
        default:
            throw CheckpointError(file: path, reason: .unreadable,
                                  detail: "\(executable.path) \(command) exited with status \(process.terminationStatus)")
        }
    }

    /// A flag set on one thread and read on another.
    final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        func set() { lock.withLock { value = true } }
        var isSet: Bool { lock.withLock { value } }
    }
}
