// What a stage writes besides its checkpoints — metrics.jsonl, samples.jsonl and, with
// `logging.tensorboard`, event files — started, appended and flushed together, so that all of them
// are cut back to the same restored step on resume (docs/jobs.md).

import Foundation
import Stages

struct StageLogs {
    let stage: String
    let metrics: MetricsLog
    let samples: SampleLog
    var board: TensorBoardLog?

    init(folder: JobFolder, stage: String, tensorboard: Bool) {
        self.stage = stage
        metrics = folder.metricsLog(stage)
        samples = folder.sampleLog(stage)
        board = tensorboard ? TensorBoardLog(folder: folder.tensorboard(stage)) : nil
    }

    /// Cuts every log back to `restoredStep` (nil: a fresh start keeps no line, not even a step-0
    /// evaluation of a run killed before its first checkpoint). Returns warnings about what went.
    mutating func start(restoredStep: Int?) throws -> [String] {
        let keep = restoredStep ?? -1
        var warnings: [String] = []
        let removed = try metrics.truncate(throughStep: keep)
        if removed > 0 { warnings.append("metrics.jsonl of stage \(stage): removed \(removed) line(s) beyond step \(restoredStep ?? 0)") }
        try samples.truncate(throughStep: keep)
        if board != nil {
            let dropped = try board!.start(restoredStep: restoredStep, logged: metrics.entries())
            if dropped > 0 { warnings.append("tensorboard events of stage \(stage): removed \(dropped) beyond step \(restoredStep ?? 0)") }
        }
        return warnings
    }

    /// Appends a metrics line (and an evaluation's samples).
    func record(_ entry: MetricsEntry, samples kept: [Sample] = []) throws {
        try metrics.append(entry)
        for sample in kept { try samples.append(SampleEntry(step: entry.step, sample: sample)) }
        try board?.append(entry)
    }

    /// Flushes every log to disk before a checkpoint that covers their lines is committed.
    func sync() {
        metrics.sync()
        samples.sync()
        board?.sync()
    }
}
