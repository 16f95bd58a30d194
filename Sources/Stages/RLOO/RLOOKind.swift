// The `rloo` stage kind: its declaration and its settings section (`rloo: {...}`). Defaults follow TRL's
// RLOOConfig (trl 1.x) where the two share a key (β = 0.05, G = 2 is TRL's; we default to 4), except
// the sizes, which suit this project's small models.

import Transformer

extension StageKind {
    public static let rloo = StageKind("rloo")
}

/// An RLOO stage: GroupPolicyStage with RLOO's leave-one-out advantages and sequence-level loss.
public typealias RLOOStage = GroupPolicyStage<RLOO>

extension RLOO {
    static let declaration = StageKindDeclaration(
        .rloo, summary: "RLOO: G completions per prompt, leave-one-out baseline, KL to the reference as a reward penalty",
        settings: RLOOSettings.self,
        sources: [SourceUse(.policy, required: true, "the policy's start, also the frozen reference"),
                  SourceUse(.reward, required: false, "the reward model of a `reward_model` grader", kinds: [.reward])],
        data: [DataUse(.prompts, required: true, "`{\"prompt\"}` rows plus any columns the graders read (e.g. `answer`)", PromptRow.self),
               DataUse(.evalPrompts, required: false, "held-out prompt rows: pass@1 and mean reward before → after", PromptRow.self)],
        build: { try RLOOStage(spec: $0, context: $1) })
}

public struct RLOOSettings: GroupSettings {
    public var numGenerations = 4
    public var maxCompletionLength = 64
    public var temperature = 1.0
    public var topK = 0
    public var topP = 1.0
    public var beta = 0.05
    public var epsilon = 0.2
    public var epsilonHigh: Double? = nil
    public var numIterations = 1
    public var maskTruncatedCompletions = false
    public var graders: [GraderSpec] = []
    public var evalSamples = 4
    public var passThreshold = 1.0
    public var normalizeAdvantages = false

    public init() {}

    public static let keys: [Setting<RLOOSettings>] = groupKeys + [
        .value("normalize_advantages", \.normalizeAdvantages, .any, "whiten the advantages over the batch (mean 0, std 1)"),
    ]

    public func crossProblems(in spec: StageSpec, model: ModelConfig) -> [(key: String, message: String)] {
        groupProblems(in: spec, model: model)
    }

    public mutating func resolvePaths(_ absolute: (String) -> String) { graders.resolvePaths(absolute) }
}
