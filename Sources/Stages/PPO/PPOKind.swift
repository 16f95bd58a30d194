// The `ppo` stage kind: its declaration and its settings section (`ppo: {...}`).

import Transformer

extension StageKind {
    public static let ppo = StageKind("ppo")
}

extension PPOStage {
    static let declaration = StageKindDeclaration(
        .ppo, summary: "PPO against a frozen reference with a learned reward model and a critic",
        settings: PPOSettings.self,
        sources: [SourceUse(.policy, required: true, "the policy's start, also the frozen reference"),
                  SourceUse(.reward, required: true, "the reward model (a reward stage or a reward-model checkpoint); the critic starts from it",
                            kinds: [.reward])],
        data: [DataUse(.prompts, required: true, "`{\"prompt\"}` rows", PromptRecord.self),
               DataUse(.evalPrompts, required: false, "held-out prompt rows (any columns the eval graders read) for the before/after evaluation",
                       PromptRow.self)],
        build: { try PPOStage(spec: $0, context: $1) })
}

/// PPO (InstructGPT; Ziegler et al. 2019; TRL's PPO trainer).
public struct PPOSettings: SettingsSection {
    public enum KLEstimator: String, Codable, CaseIterable, Sendable { case k1, k3 }
    public var klCoef: Double = 0.05
    public var targetKL: Double? = nil
    public var horizon: Double = 10_000
    public var klEstimator: KLEstimator = .k1
    public var gamma: Double = 1.0
    public var lam: Double = 0.95
    public var clip: Double = 0.2
    public var vfClip: Double = 0.2
    public var vfCoef: Double = 0.1
    public var epochs: Int = 4
    public var minibatches: Int = 4
    public var responseLength: Int = 48
    public var temperature: Double = 1.0
    public var topK: Int = 0
    public var topP: Double = 1.0
    public var missingEOSPenalty: Double = 1.0
    public var normalizeReward: Bool = false
    /// Graders of the held-out samples (the demo's lexicon sentiment), reported beside the reward model's score.
    public var evalGraders: [GraderSpec] = []

    public init() {}

    public static let keys: [Setting<PPOSettings>] = [
        .value("kl_coef", \.klCoef, .atLeast(0), "β, the per-token KL penalty (initial value when adaptive)"),
        .optional("target_kl", \.targetKL, .above(0), "adaptive β (Ziegler): the target KL per sequence; fixed β without it"),
        .value("horizon", \.horizon, .above(0), "the adaptive controller's horizon, in rollout sequences"),
        .choice("kl_estimator", \.klEstimator, "per-token KL estimate: `k1` = logπ − logπ_ref, `k3` = e^−k1 − 1 + k1"),
        .value("gamma", \.gamma, .within(0, 1), "GAE discount γ"),
        .value("lam", \.lam, .within(0, 1), "GAE λ"),
        .value("clip", \.clip, .between(0, 1), "policy ratio clip ε"),
        .value("vf_clip", \.vfClip, .above(0), "value clip around the rollout's values"),
        .value("vf_coef", \.vfCoef, .atLeast(0), "weight of the value loss"),
        .value("epochs", \.epochs, .positive, "passes over each rollout"),
        .value("minibatches", \.minibatches, .positive, "minibatches per pass; must divide `batch`"),
        .value("response_length", \.responseLength, .positive, "tokens sampled per prompt; below the model's context"),
        .value("temperature", \.temperature, .above(0), "sampling temperature (log-probs are taken at it too)"),
        .value("top_k", \.topK, Bounds.atLeast(0).noting("(0 = off)"), "sample among the k most likely tokens"),
        .value("top_p", \.topP, .above(0, through: 1), "nucleus sampling"),
        .value("missing_eos_penalty", \.missingEOSPenalty, .any, "subtracted from the score of responses without EOS"),
        .value("normalize_reward", \.normalizeReward, .any, "normalise scores with the reward model's stored mean and std"),
        .list("eval_graders", \.evalGraders, "graders reported on the held-out samples as `eval_NAME_mean` (the demo: its lexicon `sentiment`)"),
    ]

    public func crossProblems(in spec: StageSpec, model: ModelConfig) -> [(key: String, message: String)] {
        var found: [(String, String)] = []
        if minibatches > 0 && spec.batch > 0 && spec.batch % minibatches != 0 {
            found.append(("minibatches", "must be positive and divide batch (\(spec.batch))"))
        }
        if responseLength >= model.context {
            found.append(("response_length", "must be below the model's context (\(model.context))"))
        }
        return found + evalGraders.listProblems(key: "eval_graders")
    }

    public mutating func resolvePaths(_ absolute: (String) -> String) { evalGraders.resolvePaths(absolute) }
}
