// Building a stage from its manifest entry and what the job resolved for it.

import Checkpoint
import Kernels
import Transformer

/// What a job gives a stage besides its own settings.
public struct StageContext {
    /// The job's seed; each stage derives its own streams from it and its name.
    public var jobSeed: UInt64
    /// The job's model shape (a distillation student may override it with `spec.model`).
    public var model: GPTConfig
    /// Loaded checkpoints the stage starts from, by role: "init", "policy", "reward", "teacher".
    public var sources: [String: CheckpointFile]

    public init(jobSeed: UInt64, model: GPTConfig, sources: [String: CheckpointFile] = [:]) {
        self.jobSeed = jobSeed
        self.model = model
        self.sources = sources
    }

    /// A seed for one named stream of one stage: the same job, stage and stream always get the same
    /// seed, and different ones get unrelated seeds.
    public func seed(stage: String, stream: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325                       // FNV-1a over the names
        for byte in (stage + "/" + stream).utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        var mix = SplitMix64(seed: jobSeed ^ hash)
        return mix.next()
    }
}

/// The stage for a manifest entry. Data files are read here, so bad data fails before any work.
public func makeStage(_ spec: StageSpec, context: StageContext) throws -> Stage {
    switch spec.kind {
    case .sft: return try SFTStage(spec: spec, context: context)
    case .reward: return try RewardStage(spec: spec, context: context)
    case .ppo: return try PPOStage(spec: spec, context: context)
    case .dpo: return try DPOStage(spec: spec, context: context)
    case .distill: return try DistillStage(spec: spec, context: context)
    }
}
