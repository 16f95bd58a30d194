// What a running job tells its caller (STYLE 7: the library trains, the CLI prints). The runner calls
// the caller's handler with each event; at a step event the handler may answer `.stop`, and the
// runner then commits a checkpoint and throws `JobError.interrupted` (signals, `rlhf cancel`).
// `ProgressText` renders events as the plain log lines that go to job.log and to a non-TTY stdout.

import Foundation
import Stages

public enum JobProgress {
    case jobStarted(name: String, output: String, stages: Int, threads: Int)
    /// A stage whose final.h5 is present and valid is not run again.
    case stageSkipped(name: String, finalCheckpoint: String)
    /// `resumedFrom` is the step restored from `checkpoint`, nil for a fresh start.
    case stageStarted(name: String, kind: StageKind, totalSteps: Int, resumedFrom: Int?, checkpoint: String?)
    case warning(String)
    /// `rate` is steps per second in this run; `elapsed` the stage's training seconds across runs.
    case step(stage: String, step: Int, totalSteps: Int, metrics: Metrics, rate: Double, elapsed: Double)
    case evaluated(stage: String, step: Int, metrics: Metrics)
    case checkpointed(stage: String, step: Int, file: String)
    case stageFinished(StageReport)
    case jobFinished(JobReport)
}

public enum ProgressAction: Sendable {
    case proceed
    /// Stop after this step: commit a checkpoint and throw `JobError.interrupted`.
    case stop
}

public typealias ProgressHandler = (JobProgress) -> ProgressAction

/// One stage's outcome, read back from its metrics log and checkpoint folder.
public struct StageReport: Sendable {
    public var name: String
    public var kind: StageKind
    public var steps: Int
    public var totalSteps: Int
    /// Training seconds across all runs of the stage.
    public var seconds: Double
    public var train: [String: Double]
    public var eval: [String: Double]
    /// The evaluation before the first step (step 0), the baseline.
    public var evalBefore: [String: Double]
    /// final.h5 when the stage is done, else the newest step checkpoint.
    public var checkpoint: String?
}

public struct JobReport: Sendable {
    public var name: String
    public var output: String
    public var stages: [StageReport]
}

/// Events as plain lines (job.log, non-TTY output). Step lines every `every` steps and at the last one.
public struct ProgressText {
    public var every: Int

    public init(every: Int = 10) { self.every = every }

    /// The line for an event, or nil for events not worth a line (most steps).
    public func line(for event: JobProgress) -> String? {
        switch event {
        case let .jobStarted(name, output, stages, threads):
            return "job \(name): \(stages) stage\(stages == 1 ? "" : "s"), output \(output), threads \(threads == 0 ? "all" : String(threads))"
        case let .stageSkipped(name, file):
            return "stage \(name): already done (\(file))"
        case let .stageStarted(name, kind, total, resumed, checkpoint):
            if let resumed, let checkpoint { return "stage \(name) (\(kind.rawValue)): resuming at step \(resumed)/\(total) from \(checkpoint)" }
            return "stage \(name) (\(kind.rawValue)): \(total) steps"
        case let .warning(message):
            return "warning: \(message)"
        case let .step(stage, step, total, metrics, rate, _):
            guard step % every == 0 || step == total else { return nil }
            return "stage \(stage) step \(step)/\(total) " + Self.format(metrics) + String(format: "  %.2f steps/s", rate)
                + (step < total ? "  ETA " + Self.eta(step: step, total: total, rate: rate) : "")
        case let .evaluated(stage, step, metrics):
            return "stage \(stage) eval at step \(step) " + Self.format(metrics)
        case let .checkpointed(stage, step, file):
            return "stage \(stage) checkpoint step \(step) \(file)"
        case let .stageFinished(report):
            return "stage \(report.name) done: \(report.steps) steps in " + Self.duration(report.seconds)
        case .jobFinished(let report):
            return Self.summary(report).joined(separator: "\n")
        }
    }

    /// The end-of-job summary: per stage its steps, time, last training metrics, eval metrics and checkpoint.
    public static func summary(_ report: JobReport) -> [String] {
        var lines = ["job \(report.name) done (\(report.output))"]
        for stage in report.stages {
            lines.append("  \(stage.name) (\(stage.kind.rawValue)): \(stage.steps)/\(stage.totalSteps) steps, " + duration(stage.seconds))
            if !stage.train.isEmpty { lines.append("    train  " + format(stage.train)) }
            if !stage.eval.isEmpty {
                // Metrics evaluated before the first step too are shown as "before → after".
                let parts = stage.eval.keys.sorted().map { key -> String in
                    let before = stage.evalBefore[key].map { number($0) + " → " } ?? ""
                    return "\(key) \(before)\(number(stage.eval[key]!))"
                }
                lines.append("    eval   " + parts.joined(separator: "  "))
            }
            if let checkpoint = stage.checkpoint { lines.append("    final  " + checkpoint) }
        }
        return lines
    }

    /// The metrics a one-line view shows first, in this order (the report orders its charts so too).
    public static let keyMetricNames = ["loss", "reward_mean", "score_mean", "kl", "beta", "accuracy", "reward_accuracy",
                                        "margin", "lexicon_mean", "response_length", "entropy", "perplexity", "grad_norm", "lr"]

    /// Up to `count` of the key metrics that `metrics` has, as `loss 2.4103 kl 0.5120`.
    public static func keyMetrics(_ metrics: Metrics, count: Int = 3) -> String {
        keyMetricNames.compactMap { name in metrics[name].map { "\(name) \(number($0))" } }.prefix(count).joined(separator: " ")
    }

    /// The time left at `rate` steps per second, or "?" before a rate is known.
    public static func eta(step: Int, total: Int, rate: Double) -> String {
        rate > 0 && rate.isFinite ? duration(Double(max(0, total - step)) / rate) : "?"
    }

    /// `loss 2.4103 lr 3.00e-04 ...` in the metrics' own order.
    public static func format(_ metrics: Metrics) -> String {
        metrics.map { "\($0.name) \(number($0.value))" }.joined(separator: " ")
    }

    public static func format(_ metrics: [String: Double]) -> String {
        metrics.keys.sorted().map { "\($0) \(number(metrics[$0]!))" }.joined(separator: " ")
    }

    public static func number(_ x: Double) -> String {
        if x == x.rounded(), abs(x) < 1e9 { return String(Int(x)) }
        if abs(x) >= 1e-3 && abs(x) < 1e5 { return String(format: "%.4f", x) }
        return String(format: "%.3e", x)
    }

    public static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return String(format: "%.1f s", seconds) }
        if s < 3600 { return "\(s / 60) min \(s % 60) s" }
        return "\(s / 3600) h \(s % 3600 / 60) min"
    }
}
