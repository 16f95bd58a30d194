// `logging: { tensorboard: true }`: each stage also writes its metrics.jsonl lines as TensorBoard
// scalars under `OUTPUT/tensorboard/STAGE/`, so `tensorboard --logdir OUTPUT/tensorboard` shows the
// job with one run per stage. Tags follow Hugging Face's TensorBoard callback: a training metric
// `loss` is `train/loss`, an evaluation metric `eval_loss` is `eval/loss`.
//
// Resume (the rule of StepLog, for event files): each run of a stage opens a new event file. Before
// that, the files of earlier runs lose their events past the restored step R (written after the last
// checkpoint, before the interruption; the file is rewritten atomically, only when there are such
// events) and their torn last record; events up to R are kept as they are. The new file starts with
// a SessionLog START at step R + 1 (0 for a fresh start), TensorBoard's restart marker, so a
// TensorBoard that was already showing the dropped steps forgets them too. A stage that has event
// files for none of its logged lines (TensorBoard switched on later) gets them from metrics.jsonl.

import Foundation
import TensorBoard

public struct TensorBoardLog {
    public let folder: URL
    private var writer: EventFileWriter?

    public init(folder: URL) { self.folder = folder }

    /// The tag of a metrics.jsonl entry's metric.
    public static func tag(split: String, name: String) -> String {
        let prefix = split + "_"
        return split + "/" + (name.hasPrefix(prefix) && name.count > prefix.count ? String(name.dropFirst(prefix.count)) : name)
    }

    /// Prepares the folder for a run restored at `restoredStep` (nil: a fresh start, which removes
    /// every earlier event file) whose metrics log holds `logged`, and opens this run's event file.
    /// Returns how many events of earlier runs were dropped.
    @discardableResult
    public mutating func start(restoredStep: Int?, logged: [MetricsEntry]) throws -> Int {
        var dropped = 0
        let earlier = EventFile.files(in: folder)
        if let restoredStep {
            for file in earlier { dropped += try EventFile.truncate(file, throughStep: Int64(restoredStep)) }
        } else {
            for file in earlier { try FileManager.default.removeItem(at: file) }
        }
        let writer = try EventFileWriter(folder: folder)
        try writer.write(Event(wallTime: Date().timeIntervalSince1970, step: Int64(restoredStep.map { $0 + 1 } ?? 0), content: .sessionStart))
        self.writer = writer
        if restoredStep != nil && !earlier.contains(where: Self.hasScalars) {
            let parser = ISO8601DateFormatter()
            for entry in logged { try append(entry, time: parser.date(from: entry.timeUTC) ?? Date()) }
        }
        return dropped
    }

    /// Writes one metrics line as one event.
    public func append(_ entry: MetricsEntry, time: Date = Date()) throws {
        guard let writer else { return }
        let scalars = entry.metrics.keys.sorted().map { (tag: Self.tag(split: entry.split, name: $0), value: Float(entry.metrics[$0]!)) }
        try writer.write(Event(wallTime: time.timeIntervalSince1970, step: Int64(entry.step), content: .scalars(scalars)))
    }

    public func sync() { writer?.sync() }

    private static func hasScalars(_ file: URL) -> Bool {
        ((try? EventFile.records(at: file).records) ?? []).contains { record in
            if case .scalars? = Event(decoding: record)?.content { return true }
            return false
        }
    }
}
