// Shared helpers for the checkpoint tests: scratch folders, small checkpoints, damaging files, and
// running the built `rlhf` binary (for the crash, full-disk and end-to-end tests).

@testable import Checkpoint
import Foundation
import Testing

/// A fresh folder under the system temporary folder, removed when the test ends.
final class ScratchFolder: Sendable {
    let url: URL

    init(_ label: String = #function) {
        let name = "rlhf-test-" + label.filter { $0.isLetter || $0.isNumber } + "-" + UUID().uuidString.prefix(8)
        url = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func file(_ name: String) -> URL { url.appendingPathComponent(name) }
}

/// A small checkpoint with one tensor of a recognisable constant (to find its bytes in the file).
func smallCheckpoint(step: Int = 1, marker: Float = 1234.5678) -> CheckpointFile {
    var checkpoint = CheckpointFile(metadata: CheckpointMetadata(stageKind: "sft", stageName: "sft", step: step, totalSteps: 10,
                                                                 configJSON: #"{"layers":1}"#))
    checkpoint[tensor: "/model/wte"] = Tensor(shape: [64, 16], values: [Float](repeating: marker, count: 64 * 16))
    checkpoint[tensor: "/model/h.0.ln_1.weight"] = Tensor(shape: [16], values: (0..<16).map(Float.init))
    checkpoint[group: "optimizer/policy"].attributes["step"] = .int64(Int64(step))
    return checkpoint
}

/// Writes `checkpoint` to `url` without fsync (tests need atomicity, not durability).
func save(_ checkpoint: CheckpointFile, _ url: URL) throws {
    try checkpoint.write(to: url, durability: .pageCache)
}

/// Flips every bit of one byte in the middle of the first run of `marker` floats in the file.
func flipByteInside(marker: Float, of url: URL) throws {
    var bytes = [UInt8](try Data(contentsOf: url))
    let pattern = Array(repeating: withUnsafeBytes(of: marker.bitPattern.littleEndian, Array.init), count: 8).flatMap { $0 }
    let start = try #require((0...(bytes.count - pattern.count)).first { bytes[$0..<($0 + pattern.count)].elementsEqual(pattern) },
                             "marker data not found in \(url.path)")
    bytes[start + 13] ^= 0xFF
    try Data(bytes).write(to: url)
}

/// Edits a file in place with HDF5 (to delete a dataset or rewrite an attribute, as h5py would).
func editWithHDF5(_ url: URL, _ body: (HDF5File) throws -> Void) throws {
    try HDF5.exclusive {
        let file = try HDF5File.openReadWrite(url.path)
        defer { file.close() }
        try body(file)
    }
}

/// Expects `body` to throw a CheckpointError and returns it.
func expectCheckpointError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> CheckpointError? {
    do {
        try body()
        Issue.record("expected a CheckpointError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as CheckpointError {
        return error
    } catch {
        Issue.record("expected a CheckpointError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

// MARK: - The built binary

/// The `rlhf` executable built beside this test bundle (`swift build --build-tests` builds it), or
/// `$RLHF_BINARY`.
func rlhfBinary() throws -> URL {
    var candidates: [URL] = []
    if let path = ProcessInfo.processInfo.environment["RLHF_BINARY"] { candidates.append(URL(fileURLWithPath: path)) }
    candidates.append(Bundle.main.bundleURL.appendingPathComponent("rlhf"))
    candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("rlhf"))
    let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    candidates.append(packageRoot.appendingPathComponent(".build/debug/rlhf"))
    return try #require(candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) },
                        "rlhf binary not found (run `swift build --build-tests`); looked in \(candidates.map(\.path))")
}

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program to completion and captures its output (through files: a full pipe would block it).
func run(_ executable: URL, _ arguments: [String]) throws -> RunResult {
    let scratch = ScratchFolder("run")
    let outURL = scratch.file("stdout"), errURL = scratch.file("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return RunResult(status: process.terminationStatus,
                     stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                     stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

/// A started writer the test kills at an event: stopped at its stop point, or N lines printed.
final class WriterProcess {
    private let process = Process()
    private let scratch = ScratchFolder("writer")

    init(_ executable: URL, _ arguments: [String], environment: [String: String]) throws {
        _ = FileManager.default.createFile(atPath: scratch.file("stdout").path, contents: nil)
        _ = FileManager.default.createFile(atPath: scratch.file("stderr").path, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: scratch.file("stdout"))
        process.standardError = try FileHandle(forWritingTo: scratch.file("stderr"))
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var stdout: String { (try? String(contentsOf: scratch.file("stdout"), encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: scratch.file("stderr"), encoding: .utf8)) ?? "" }

    /// Waits until the process has stopped itself (SIGSTOP at its stop point): true, or exited: false.
    func waitUntilStopped() -> Bool {
        while process.isRunning {
            if isStopped(process.processIdentifier) { return true }
            usleep(2_000)
        }
        return false
    }

    /// Waits until the process has printed `count` lines: true, or exited first: false.
    func waitForStdoutLines(_ count: Int) -> Bool {
        while stdout.filter({ $0 == "\n" }).count < count {
            if !process.isRunning { return stdout.filter { $0 == "\n" }.count >= count }
            usleep(2_000)
        }
        return true
    }

    /// SIGKILL (if still running) and wait for the exit.
    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    var killedBySignal: Bool { process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL }
}

/// Whether process `pid` is stopped (state `T` in /proc/PID/stat; the state follows the `(name)`).
func isStopped(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    return stat[close...].dropFirst().trimmingCharacters(in: .whitespaces).hasPrefix("T")
}

/// Runs `rlhf` with arguments.
func rlhf(_ arguments: String...) throws -> RunResult { try run(try rlhfBinary(), arguments) }

/// A value handed from another thread to the test's thread.
final class Mutexed<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T

    init(_ value: T) { stored = value }

    func set(_ value: T) { lock.withLock { stored = value } }
    func update(_ body: (inout T) -> Void) { lock.withLock { body(&stored) } }
    var value: T { lock.withLock { stored } }
}
