// A job's output folder and what it holds besides the stages' checkpoints:
//
//   OUTPUT/job.json        the resolved manifest the job started with (absolute paths, defaults filled)
//   OUTPUT/state.json      the job's state: running, interrupted, failed or done, with stage and step
//   OUTPUT/job.log         the plain progress lines of every run, appended
//   OUTPUT/.lock           flock'ed while a process runs the job
//   OUTPUT/STAGE/          step-NNNNNN.h5, final.h5, metrics.jsonl, samples.jsonl
//   OUTPUT/tensorboard/STAGE/  events.out.tfevents.* (with `logging.tensorboard`)
//   OUTPUT/report.html     `rlhf report`, written by `rlhf run` when a run ends
//
// A rerun compares its manifest with job.json key path by key path (`threads` and `logging`
// excepted: results do not depend on them) and refuses to continue a job whose settings changed, unless forced.

import Checkpoint
import Foundation

public struct JobFolder: Sendable {
    public let url: URL

    public init(_ path: String) { url = URL(fileURLWithPath: path) }

    public var manifestFile: URL { url.appendingPathComponent("job.json") }
    public var stateFile: URL { url.appendingPathComponent("state.json") }
    public var logFile: URL { url.appendingPathComponent("job.log") }
    public var lockFile: URL { url.appendingPathComponent(".lock") }

    public func checkpoints(_ stage: String) -> CheckpointFolder { CheckpointFolder(url.appendingPathComponent(stage)) }
    public func metricsLog(_ stage: String) -> MetricsLog { MetricsLog(folder: url.appendingPathComponent(stage)) }
    public func sampleLog(_ stage: String) -> SampleLog { SampleLog(folder: url.appendingPathComponent(stage)) }
    public func tensorboard(_ stage: String) -> URL { url.appendingPathComponent("tensorboard").appendingPathComponent(stage) }
    public var reportFile: URL { url.appendingPathComponent("report.html") }

    /// The manifest stored by the job's first run, if any.
    public func storedManifest() throws -> JobManifest? {
        guard let data = FileManager.default.contents(atPath: manifestFile.path) else { return nil }
        do {
            return try JSONDecoder().decode(JobManifest.self, from: data)
        } catch {
            throw JobError.invalid("\(manifestFile.path) is not a job manifest (\(error)); move it away to start afresh")
        }
    }

    public func store(_ job: JobManifest) throws { try job.json().write(to: manifestFile, options: .atomic) }

    public func state() -> JobState? {
        FileManager.default.contents(atPath: stateFile.path).flatMap { try? JSONDecoder().decode(JobState.self, from: $0) }
    }

    public func store(_ state: JobState) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try encoder.encode(state).write(to: stateFile, options: .atomic)
    }

    /// Appends lines to job.log.
    public func log(_ lines: [String]) {
        guard !lines.isEmpty, let handle = FileHandle(forWritingAtPath: logFile.path) ?? {
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
            return FileHandle(forWritingAtPath: logFile.path)
        }() else { return }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        handle.write(Data(lines.map { $0 + "\n" }.joined().utf8))
    }
}

/// What state.json holds.
public struct JobState: Codable, Equatable, Sendable {
    public enum Phase: String, Codable, Sendable {
        case running, interrupted, failed, done
    }
    public var phase: Phase
    public var stage: String?
    public var step: Int?
    public var message: String?
    public var pid: Int32
    public var updatedUTC: String

    enum CodingKeys: String, CodingKey { case phase = "state", stage, step, message, pid, updatedUTC = "updated_utc" }

    public init(_ phase: Phase, stage: String? = nil, step: Int? = nil, message: String? = nil) {
        self.phase = phase
        self.stage = stage
        self.step = step
        self.message = message
        pid = getpid()
        updatedUTC = utcTimestamp()
    }
}

/// The key paths where two manifests differ, as `stages[0].steps: 600 → 800`.
public func manifestDifferences(_ old: JobManifest, _ new: JobManifest, ignoring: Set<String> = ["threads", "logging.tensorboard"]) -> [String] {
    let before = flatten(old), after = flatten(new)
    return Set(before.keys).union(after.keys).filter { !ignoring.contains($0) && before[$0] != after[$0] }.sorted()
        .map { "\($0): \(before[$0] ?? "(absent)") → \(after[$0] ?? "(absent)")" }
}

/// Leaf values of a manifest's JSON by key path.
private func flatten(_ job: JobManifest) -> [String: String] {
    var leaves: [String: String] = [:]
    func visit(_ value: Any, _ path: String) {
        switch value {
        case let object as [String: Any]: for (key, child) in object { visit(child, KeyPath.child(path, key)) }
        case let array as [Any]:
            if array.isEmpty { leaves[path] = "[]" }
            for (index, child) in array.enumerated() { visit(child, KeyPath.element(path, index)) }
        default: leaves[path] = "\(value)"
        }
    }
    visit((try? JSONSerialization.jsonObject(with: job.json())) ?? [:], "")
    return leaves
}
