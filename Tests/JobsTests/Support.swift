// Shared helpers for the Jobs tests: scratch folders, the demo data, small manifests, running the
// built `rlhf` binary (kills, signals, exit codes), and comparing final checkpoints tensor by tensor.

import Checkpoint
import Foundation
import Stages
import Testing

/// A fresh folder under the system temporary folder, removed when the test ends.
final class Scratch: Sendable {
    let url: URL

    init(_ label: String = #function) {
        let name = "rlhf-jobs-" + label.filter { $0.isLetter || $0.isNumber } + "-" + UUID().uuidString.prefix(8)
        url = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    var path: String { url.path }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes `text` to `name` in the folder and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) -> String {
        let file = path(name)
        try! FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }
}

/// The demo task's datasets, written once per test process.
let demoData: String = {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rlhf-jobs-demo-\(getpid())").path
    try! DemoTask.write(to: folder)
    return folder
}()

/// A two-stage job (SFT → reward) on the demo data with a tiny model.
func tinyJob(name: String = "tiny", output: String = "out", sftSteps: Int = 12, rmSteps: Int = 8, checkpointEvery: Int = 4,
             seed: Int = 7, extra: String = "") -> String {
    """
    name: \(name)
    seed: \(seed)
    output: \(output)
    model: { vocab: byte, context: 32, layers: 2, heads: 2, embedding: 32 }
    stages:
      - name: sft
        kind: sft
        data: { train: \(demoData)/sft.jsonl, eval: \(demoData)/sft_eval.jsonl }
        steps: \(sftSteps)
        batch: 4
        checkpoint_every: \(checkpointEvery)
        keep: 2
      - name: rm
        kind: reward
        init: sft
        data: { train: \(demoData)/prefs.jsonl, eval: \(demoData)/prefs_eval.jsonl }
        steps: \(rmSteps)
        batch: 4
        checkpoint_every: \(checkpointEvery)
    \(extra)
    """
}

// MARK: - The built binary

/// The `rlhf` executable built beside the test bundle (`swift build --build-tests`), or `$RLHF_BINARY`.
func rlhfBinary() throws -> URL {
    var candidates: [URL] = []
    if let path = ProcessInfo.processInfo.environment["RLHF_BINARY"] { candidates.append(URL(fileURLWithPath: path)) }
    candidates.append(Bundle.main.bundleURL.appendingPathComponent("rlhf"))
    candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("rlhf"))
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    candidates.append(root.appendingPathComponent(".build/debug/rlhf"))
    return try #require(candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) },
                        "rlhf binary not found (run `swift build --build-tests`); looked in \(candidates.map(\.path))")
}

/// A started `rlhf` process whose output goes to files (a full pipe would block it).
final class RLHFProcess {
    let process = Process()
    let stdoutFile: URL
    let stderrFile: URL

    init(_ arguments: [String], in folder: String, environment: [String: String] = [:]) throws {
        let id = UUID().uuidString.prefix(8)
        stdoutFile = URL(fileURLWithPath: folder).appendingPathComponent(".stdout-\(id)")
        stderrFile = URL(fileURLWithPath: folder).appendingPathComponent(".stderr-\(id)")
        _ = FileManager.default.createFile(atPath: stdoutFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        process.executableURL = try rlhfBinary()
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        process.standardOutput = try FileHandle(forWritingTo: stdoutFile)
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        process.standardInput = FileHandle.nullDevice
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        try process.run()
    }

    var stdout: String { (try? String(contentsOf: stdoutFile, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }

    deinit {
        try? FileManager.default.removeItem(at: stdoutFile)
        try? FileManager.default.removeItem(at: stderrFile)
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits until `event` holds (true) or the process has exited (false). No deadline: the child's
    /// own progress is the clock, so a loaded machine only makes the wait longer.
    func wait(for event: () -> Bool) -> Bool {
        while !event() {
            if !process.isRunning { return event() }
            usleep(2_000)
        }
        return true
    }

    /// Whether the process has stopped itself (SIGSTOP at a commit stop point, AtomicCommit.swift):
    /// state `T` in /proc/PID/stat, after the `(name)` field.
    var isStopped: Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return stat[close...].dropFirst().trimmingCharacters(in: .whitespaces).hasPrefix("T")
    }

    /// Waits for the exit; returns the status (or 128 + signal when killed).
    @discardableResult
    func wait() -> Int32 {
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }
}

struct Finished {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `rlhf ARGUMENTS` in `folder` to completion (with `environment` added to ours).
func rlhf(_ arguments: [String], in folder: String, environment: [String: String] = [:]) throws -> Finished {
    let child = try RLHFProcess(arguments, in: folder, environment: environment)
    let status = child.wait()
    return Finished(status: status, stdout: child.stdout, stderr: child.stderr)
}

// MARK: - Comparing results

/// Every tensor of a checkpoint, by path.
func tensors(_ file: String) throws -> [String: Tensor] {
    Dictionary(uniqueKeysWithValues: try CheckpointFile.read(from: URL(fileURLWithPath: file)).root.allTensors.map { ($0.path, $0.tensor) })
}

/// Expects two final checkpoints to hold the same tensors, bit for bit.
func expectIdenticalTensors(_ a: String, _ b: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let (left, right) = (try tensors(a), try tensors(b))
    #expect(left.keys.sorted() == right.keys.sorted(), sourceLocation: sourceLocation)
    for (path, tensor) in left {
        let other = try #require(right[path], sourceLocation: sourceLocation)
        let same = tensor.shape == other.shape && zip(tensor.values, other.values).allSatisfy { $0.bitPattern == $1.bitPattern }
        #expect(same, "\(path) differs between \(a) and \(b)", sourceLocation: sourceLocation)
    }
}

/// A metrics.jsonl without its clock fields: (step, split, metrics) per line.
func metricLines(_ file: String) -> [String] {
    ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n").map { line in
        var object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        object["time_utc"] = nil
        object["elapsed_s"] = nil
        return String(decoding: try! JSONSerialization.data(withJSONObject: object, options: .sortedKeys), as: UTF8.self)
    }
}
