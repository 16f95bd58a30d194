// The `grpo` stage kind: its declaration and its settings section (`grpo: {...}`). Defaults follow
// TRL's GRPOConfig (trl 1.x) where the two share a key, except the sizes, which suit this project's
// small models (G = 8, 64 tokens).

import Transformer

extension StageKind {
    public static let grpo = StageKind("grpo")
}

/// A GRPO stage: GroupPolicyStage with GRPO's advantages and loss.
public typealias GRPOStage = GroupPolicyStage<GRPO>

extension GRPO {
    static let declaration = StageKindDeclaration(
        .grpo, summary: "GRPO: G completions per prompt, rewards from graders, group-relative advantages, clipped surrogate",
        settings: GRPOSettings.self,
        sources: [SourceUse(.policy, required: true, "the policy's start, also the frozen reference"),
                  SourceUse(.reward, required: false, "the reward model of a `reward_model` grader", kinds: [.reward])],
        data: [DataUse(.prompts, required: true, "`{\"prompt\"}` rows plus any columns the graders read (e.g. `answer`)", PromptRow.self),
               DataUse(.evalPrompts, required: false, "held-out prompt rows: pass@1 and mean reward before → after", PromptRow.self)],
        build: { try GRPOStage(spec: $0, context: $1) })
}

public struct GRPOSettings: GroupSettings {
    /// How a completion's advantage is scaled after its group's mean is subtracted.
    public enum ScaleRewards: String, Codable, CaseIterable, Sendable {
        /// By its group's reward std (GRPO).
        case group
        /// By the whole batch's reward std (PPO Lite).
        case batch
        /// Not at all (Dr. GRPO).
        case none
    }

    /// How the per-token losses of a batch are averaged (TRL's `loss_type`).
    public enum LossType: String, Codable, CaseIterable, Sendable {
        /// Mean over each completion's tokens, then over completions.
        case grpo
        /// Mean over the micro-batch's tokens.
        case bnpo
        /// Sum over tokens / (completions · max_completion_length).
        case drGRPO = "dr_grpo"
        /// Mean over the whole step's tokens.
        case dapo
    }

    public var numGenerations = 8
    public var maxCompletionLength = 64
    public var temperature = 1.0
    public var topK = 0
    public var topP = 1.0
    public var beta = 0.0
    public var epsilon = 0.2
    public var epsilonHigh: Double? = nil
    public var numIterations = 1
    public var maskTruncatedCompletions = false
    public var graders: [GraderSpec] = []
    public var evalSamples = 4
    public var passThreshold = 1.0
    public var scaleRewards = ScaleRewards.group
    public var lossType = LossType.dapo

    public init() {}

    public static let keys: [Setting<GRPOSettings>] = groupKeys + [
        .choice("scale_rewards", \.scaleRewards, "advantage = (r − group mean) / (std + 1e-4) with the `group`'s std, the `batch`'s, or `none`"),
        .choice("loss_type", \.lossType,
                "`grpo`: per-completion token mean; `bnpo`: micro-batch token mean; `dr_grpo`: / (completions · max_completion_length); `dapo`: step token mean"),
    ]

    public func crossProblems(in spec: StageSpec, model: ModelConfig) -> [(key: String, message: String)] {
        groupProblems(in: spec, model: model)
    }

    public mutating func resolvePaths(_ absolute: (String) -> String) { graders.resolvePaths(absolute) }
}
