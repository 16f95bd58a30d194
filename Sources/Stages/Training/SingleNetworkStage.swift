// What the stages that train one network on one dataset share (SFT, reward model, DPO, distillation):
// the training and held-out data with the order rows are drawn in, the metrics every step reports
// beside its loss, and a checkpoint of weights, moments, data order and last metrics, to which a
// stage adds its own groups (reward statistics, reference log-probs).

import Checkpoint
import Transformer

/// A stage's datasets: `data.train` (required) and `data.eval`, and the seeded order of training rows.
struct StageData<Record: JSONLRecord> {
    let train: Dataset<Record>
    let eval: Dataset<Record>?
    var order: DataOrder

    init(spec: StageSpec, context: StageContext) throws {
        guard let trainPath = spec.data[.train] else { throw StageError.invalidInput("stage \(spec.name): data.train is required") }
        train = try Dataset(contentsOf: trainPath, skipBadLines: spec.skipBadLines)
        eval = try spec.data[.eval].map { try Dataset(contentsOf: $0, skipBadLines: spec.skipBadLines) }
        order = DataOrder(count: train.count, seed: context.seed(stage: spec.name, stream: "data"))
    }

    /// Reports of skipped bad lines, one per file that had any.
    var notices: [String] { [train.skipReport, eval?.skipReport].compactMap { $0 } }
}

protocol SingleNetworkStage: Stage {
    associatedtype Record: JSONLRecord
    var trainer: NetworkTrainer { get }
    var data: StageData<Record> { get set }
    var lastMetrics: Metrics { get set }
    /// Adds the stage's own state to a checkpoint (nothing by default).
    func saveExtras(into root: inout CheckpointGroup)
    /// Restores what `saveExtras` wrote (nothing by default).
    func restoreExtras(from root: CheckpointGroup, source: String) throws
}

extension SingleNetworkStage {
    public var completedSteps: Int { trainer.step }
    public var notices: [String] { data.notices }

    func saveExtras(into root: inout CheckpointGroup) {}
    func restoreExtras(from root: CheckpointGroup, source: String) throws {}

    /// Reduce, check, clip and step the optimizer, then record `metrics` with the learning rate,
    /// gradient norm and epoch as the step's result.
    func finishStep(_ metrics: Metrics) throws -> Metrics {
        let (lr, norm) = try trainer.finishStep(stage: spec.name)
        var result = metrics
        result["lr"] = lr
        result["grad_norm"] = norm
        result["epoch"] = data.order.epochs
        lastMetrics = result
        return result
    }

    public func checkpoint() -> CheckpointFile {
        var file = CheckpointFile(metadata: stageMetadata(spec, step: trainer.step, config: trainer.model.config))
        trainer.save(into: &file.root)
        file.root[group: "data"].groups["train"] = StateGroups.group(of: data.order)
        file.root.groups["metrics"] = StateGroups.group(of: lastMetrics)
        saveExtras(into: &file.root)
        return file
    }

    public func restore(from file: CheckpointFile) throws {
        try checkOwnership(file, spec: spec)
        let source = "stage \(spec.name)"
        try trainer.restore(from: file.root, source: source)
        data.order = try StateGroups.loadOrder(file.root.groups["data"]?.groups["train"], datasetCount: data.train.count, source: source)
        lastMetrics = StateGroups.metrics(file.root.groups["metrics"])
        try restoreExtras(from: file.root, source: source)
    }
}
