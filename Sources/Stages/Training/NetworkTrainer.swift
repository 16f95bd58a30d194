// One trainable network with its optimizer: the part every stage shares. A stage zeroes the
// gradients, accumulates them over its micro-batches, then `finishStep` reduces, checks, clips and
// applies AdamW at the scheduled learning rate. Saving and restoring cover weights and moments.

import Checkpoint
import Kernels
import Transformer

final class NetworkTrainer {
    /// The group name in checkpoints: "model" (the trained network) or "critic".
    let name: String
    let model: CausalLM
    let optimizer: AdamW
    let settings: OptimizerSettings
    let totalSteps: Int
    let reducer: GradientReducer

    init(name: String, model: CausalLM, settings: OptimizerSettings, totalSteps: Int, reducer: GradientReducer = SingleProcess()) {
        self.name = name
        self.model = model
        self.settings = settings
        self.totalSteps = totalSteps
        self.reducer = reducer
        optimizer = AdamW(layout: model.parameters.layout,
                          settings: AdamWSettings(beta1: Float(settings.beta1), beta2: Float(settings.beta2),
                                                  epsilon: Float(settings.eps)))
    }

    /// Optimizer steps taken.
    var step: Int { optimizer.step }

    func beginStep() { model.gradients.zero() }

    /// Reduce → norm (NaN/Inf check) → clip → AdamW. Returns the learning rate used and the
    /// gradient norm before clipping. Throws without touching the weights when the norm is not finite.
    func finishStep(stage: String) throws -> (lr: Double, gradNorm: Double) {
        reducer.reduce(model.gradients)
        let norm = clipGradientNorm(model.gradients, maxNorm: Float(settings.clip))
        guard norm.isFinite else { throw StageError.nonFinite(stage: stage, step: step + 1, what: "the \(name) gradient norm") }
        let lr = settings.learningRate(step: optimizer.step, total: totalSteps)
        optimizer.update(model.parameters, gradients: model.gradients, learningRate: Float(lr),
                         weightDecay: Float(settings.weightDecay))
        return (lr, Double(norm))
    }

    func save(into root: inout CheckpointGroup) {
        root.groups[name] = StateGroups.group(of: model.parameters)
        root[group: "optimizer"].groups[name] = StateGroups.group(of: optimizer, weightDecay: settings.weightDecay)
    }

    func restore(from root: CheckpointGroup, source: String) throws {
        guard let weights = root.groups[name], let moments = root.groups["optimizer"]?.groups[name] else {
            throw StageError.badCheckpoint("\(source): /\(name) or /optimizer/\(name) is missing")
        }
        try StateGroups.load(weights, into: model.parameters, source: source)
        try StateGroups.load(moments, into: optimizer, source: source)
    }
}

extension NetworkTrainer {
    /// The network a single-network stage trains (group "model"), with the stage's optimizer and
    /// schedule: loaded from `source`, by default the stage's `init` source, or freshly initialised
    /// from the stage's seed when there is none. `config` defaults to the job's model.
    convenience init(stage spec: StageSpec, context: StageContext, config: ModelConfig? = nil, scalarHead: Bool = false,
                     source: StageSource? = nil) throws {
        let source = source ?? context.sources[.initial]
        let model = try makeNetwork(config: config ?? context.model, scalarHead: scalarHead,
                                    seed: context.seed(stage: spec.name, stream: "init"),
                                    from: source?.checkpoint, sourceName: source?.reference ?? "init")
        self.init(name: "model", model: model, settings: spec.optimizer, totalSteps: spec.steps)
    }
}

/// Builds a network for a stage: fresh (seeded GPT-2 initialisation), or from the /model group of a
/// source checkpoint (its recorded shape must equal `config`). A scalar head missing from the source
/// keeps its fresh initialisation (SFT weights → reward model).
func makeNetwork(config: ModelConfig, scalarHead: Bool, seed: UInt64, from source: CheckpointFile?, sourceName: String,
                 group: String = "model") throws -> CausalLM {
    let model = try CausalLM(config: config, scalarHead: scalarHead, seed: seed)
    guard let source else { return model }
    let sourceConfig = try StateGroups.config(of: source, source: sourceName)
    guard sourceConfig == config else {
        throw StageError.invalidInput("\(sourceName): the checkpoint's model \(StateGroups.json(sourceConfig)) "
                                      + "does not match the stage's \(StateGroups.json(config))")
    }
    guard let weights = source.root.groups[group] else {
        throw StageError.badCheckpoint("\(sourceName): /\(group) is missing")
    }
    try StateGroups.load(weights, into: model.parameters, source: sourceName, optional: ["score.weight", "score.bias"])
    return model
}

/// The metadata every stage checkpoint carries.
func stageMetadata(_ spec: StageSpec, step: Int, config: ModelConfig) -> CheckpointMetadata {
    CheckpointMetadata(stageKind: spec.kind.rawValue, stageName: spec.name, step: step, totalSteps: spec.steps,
                       configJSON: StateGroups.json(config), manifestJSON: StateGroups.json(spec))
}

/// Checks that a checkpoint belongs to this stage before restoring it.
func checkOwnership(_ file: CheckpointFile, spec: StageSpec) throws {
    guard file.metadata.stageKind == spec.kind.rawValue, file.metadata.stageName == spec.name else {
        throw StageError.badCheckpoint("checkpoint of stage \(file.metadata.stageName) (\(file.metadata.stageKind)) "
                                       + "cannot resume stage \(spec.name) (\(spec.kind.rawValue))")
    }
}

/// Throws when a loss is NaN or infinite (before any weight changes).
func requireFinite(_ value: Double, _ what: String, stage: String, step: Int) throws {
    guard value.isFinite else { throw StageError.nonFinite(stage: stage, step: step, what: what) }
}

/// Splits `indices` into consecutive runs of at most `size`.
func microBatches(_ indices: [Int], size: Int) -> [[Int]] {
    stride(from: 0, to: indices.count, by: size).map { Array(indices[$0..<min(indices.count, $0 + size)]) }
}
