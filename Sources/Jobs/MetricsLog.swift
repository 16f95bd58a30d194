// `OUTPUT/STAGE/metrics.jsonl`: one JSON object per logged training step or evaluation,
//
//   {"elapsed_s":12.5,"metrics":{"grad_norm":0.93,"loss":2.41,"lr":0.0003},"split":"train","step":40,"time_utc":"..."}
//
// and `OUTPUT/STAGE/samples.jsonl`: one per generation kept by an evaluation (`Sample`),
//
//   {"index":0,"prompt":"...","response":"...","scores":{"kl":1.2,"reward":3.4},"seed":77,"step":60,"time_utc":"..."}
//
// `elapsed_s` is the stage's training time across all its runs (resumes continue the count saved in
// the checkpoint). Resume rule, the same for both files (`StepLog`): lines are appended as steps
// happen, possibly beyond the checkpoint a later run resumes from; so at start-up every line whose
// step is greater than the restored step is removed (and a torn last line from a kill mid-write),
// then the log continues. The result is the same set of lines, in the same order, as an
// uninterrupted run — no step is missing or repeated. The logs are fsync'ed before each checkpoint
// commit, so lines up to a committed step survive a power cut.

import Foundation
import Stages

/// A line of a `StepLog`: it belongs to an optimizer step.
public protocol StepEntry: Codable, Sendable {
    static var fileName: String { get }
    var step: Int { get }
}

public struct MetricsEntry: StepEntry, Equatable {
    public static let fileName = "metrics.jsonl"
    /// The optimizer step the metrics belong to (evaluations: the step they were taken after).
    public var step: Int
    /// "train" or "eval".
    public var split: String
    public var timeUTC: String
    public var elapsedSeconds: Double
    public var metrics: [String: Double]

    enum CodingKeys: String, CodingKey {
        case step, split, timeUTC = "time_utc", elapsedSeconds = "elapsed_s", metrics
    }

    public init(step: Int, split: String, elapsedSeconds: Double, metrics: Metrics, time: Date = Date()) {
        self.step = step
        self.split = split
        self.timeUTC = utcTimestamp(time)
        self.elapsedSeconds = elapsedSeconds
        self.metrics = Dictionary(metrics.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
    }
}

/// One evaluation sample (`Sample`) as a line of samples.jsonl.
public struct SampleEntry: StepEntry, Equatable {
    public static let fileName = "samples.jsonl"
    /// The step of the evaluation that generated it (0: before training).
    public var step: Int
    public var index: Int
    public var seed: UInt64
    public var prompt: String
    public var response: String
    public var scores: [String: Double]
    public var timeUTC: String

    enum CodingKeys: String, CodingKey { case step, index, seed, prompt, response, scores, timeUTC = "time_utc" }

    public init(step: Int, sample: Sample, time: Date = Date()) {
        self.step = step
        index = sample.index
        seed = sample.seed
        prompt = sample.prompt
        response = sample.response
        scores = Dictionary(sample.scores.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        timeUTC = utcTimestamp(time)
    }
}

public typealias MetricsLog = StepLog<MetricsEntry>
public typealias SampleLog = StepLog<SampleEntry>

/// An append-only JSONL file of step entries, cut back to a step on resume.
public struct StepLog<Entry: StepEntry>: Sendable {
    public static var fileName: String { Entry.fileName }
    public let url: URL

    public init(folder: URL) { url = folder.appendingPathComponent(Entry.fileName) }

    /// Appends one line with a single write(2), so a kill leaves at most one torn last line.
    public func append(_ entry: Entry) throws {
        var line = try JSONLCoding.encoder.encode(entry)
        line.append(UInt8(ascii: "\n"))
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let fd = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw JobError.system(path: url.path, call: "open", code: errno) }
        defer { close(fd) }
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else { throw JobError.system(path: url.path, call: "write", code: errno) }
    }

    /// Every entry that parses, in file order (a torn line is skipped).
    public func entries() -> [Entry] {
        guard let data = FileManager.default.contents(atPath: url.path) else { return [] }
        return data.split(separator: UInt8(ascii: "\n")).compactMap { try? JSONLCoding.decoder.decode(Entry.self, from: Data($0)) }
    }

    /// Keeps the entries with `step <= step` (and drops torn lines); the file is replaced atomically.
    /// Returns how many lines were removed.
    @discardableResult
    public func truncate(throughStep step: Int) throws -> Int {
        guard let data = FileManager.default.contents(atPath: url.path) else { return 0 }
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).filter { !$0.isEmpty }
        let kept = lines.filter { line in
            (try? JSONLCoding.decoder.decode(Entry.self, from: Data(line))).map { $0.step <= step } ?? false
        }
        let endsWithNewline = data.last == UInt8(ascii: "\n")
        guard kept.count != lines.count || !endsWithNewline && !lines.isEmpty else { return 0 }
        var text = Data()
        for line in kept { text.append(contentsOf: line); text.append(UInt8(ascii: "\n")) }
        try text.write(to: url, options: .atomic)
        return lines.count - kept.count
    }

    /// Flushes the log to disk (before a checkpoint that covers its lines is committed).
    public func sync() {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}

/// How log lines are encoded: sorted keys, non-finite numbers as strings.
enum JSONLCoding {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }()
}

/// ISO 8601 in UTC, to the second: `2025-11-25T12:00:00Z`.
func utcTimestamp(_ date: Date = Date()) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: date)
}
