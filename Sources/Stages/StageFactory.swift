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

/// Reads one of a stage's data files (`key` as the manifest names it: `train`, `eval`, `prompts`,
/// `eval_prompts`) exactly as the stage will: the record type its kind expects, `skip_bad_lines`
/// honoured. Jobs calls it for every data file of every stage before it creates or changes anything,
/// so bad data is reported with nothing touched.
public func readData(_ key: String, of spec: StageSpec) throws {
    guard let path = spec.dataFiles.first(where: { $0.key == key })?.path else { return }
    switch spec.kind {
    case .sft, .distill: _ = try Dataset<SFTRecord>(contentsOf: path, skipBadLines: spec.skipBadLines)
    case .reward, .dpo: _ = try Dataset<PreferenceRecord>(contentsOf: path, skipBadLines: spec.skipBadLines)
    case .ppo: _ = try Dataset<PromptRecord>(contentsOf: path, skipBadLines: spec.skipBadLines)
    }
}

extension StageSpec {
    /// The data files by manifest key (`train`, `eval`, `prompts`, `eval_prompts`), those that are set.
    public var dataFiles: [(key: String, path: String)] {
        [("train", data.train), ("eval", data.eval), ("prompts", data.prompts), ("eval_prompts", data.evalPrompts)]
            .compactMap { key, value in value.map { (key, $0) } }
    }
}
