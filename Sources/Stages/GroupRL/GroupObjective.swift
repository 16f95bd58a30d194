// What GRPO and RLOO each define over the machinery they share (GroupPolicyStage): their settings, how
// rewards become advantages, and the loss of a micro-batch with its gradient w.r.t. each token's log-prob.

import Transformer

/// One completion's part in a loss: per response token its log-prob under the policy being trained, at
/// sampling time (old) and under the frozen reference.
public struct CompletionTerms: Sendable {
    public var logp: [Double]
    public var oldLogp: [Double]
    /// Present when the loss has a KL term (GRPO with β > 0).
    public var refLogp: [Double]?
    public var advantage: Double
    /// False when the completion is masked out of the loss (`mask_truncated_completions`).
    public var inLoss: Bool

    public init(logp: [Double], oldLogp: [Double], refLogp: [Double]? = nil, advantage: Double, inLoss: Bool = true) {
        self.logp = logp
        self.oldLogp = oldLogp
        self.refLogp = refLogp
        self.advantage = advantage
        self.inLoss = inLoss
    }

    /// Tokens that count in the loss.
    var lossTokens: Int { inLoss ? logp.count : 0 }
}

/// Counts behind the clip and KL metrics of an update, summed over micro-batches and iterations.
public struct LossStatistics: Sendable, Equatable {
    /// What the clip ratios are a fraction of: tokens in the loss (GRPO) or sequences (RLOO).
    public var units = 0
    public var lowClipped = 0
    public var highClipped = 0
    public var klSum = 0.0
    public var klTokens = 0

    public init() {}

    mutating func add(_ other: LossStatistics) {
        units += other.units
        lowClipped += other.lowClipped
        highClipped += other.highClipped
        klSum += other.klSum
        klTokens += other.klTokens
    }
}

/// A micro-batch's loss (already divided as its loss type says), ∂loss/∂logπ per token, and its counts.
public struct MicroBatchLoss: Sendable {
    public var loss: Double
    public var dlogp: [[Double]]
    public var statistics: LossStatistics
}

/// The shape of the batch a micro-batch belongs to, which some normalisations need.
public struct BatchShape: Sendable {
    /// Micro-batches the optimizer step accumulates over.
    public var microBatches: Int
    /// Tokens in the loss over the whole step's batch (DAPO's normaliser).
    public var batchTokens: Int
    /// The completion length limit (Dr. GRPO's normaliser).
    public var maxCompletionLength: Int

    public init(microBatches: Int, batchTokens: Int, maxCompletionLength: Int) {
        self.microBatches = microBatches
        self.batchTokens = batchTokens
        self.maxCompletionLength = maxCompletionLength
    }
}

/// The settings GRPO and RLOO share (their sections add their own keys).
public protocol GroupSettings: SettingsSection {
    var numGenerations: Int { get set }
    var maxCompletionLength: Int { get set }
    var temperature: Double { get set }
    var topK: Int { get set }
    var topP: Double { get set }
    var beta: Double { get set }
    var epsilon: Double { get set }
    var epsilonHigh: Double? { get set }
    var numIterations: Int { get set }
    var maskTruncatedCompletions: Bool { get set }
    var graders: [GraderSpec] { get set }
    var evalSamples: Int { get set }
    var passThreshold: Double { get set }
}

extension GroupSettings {
    var epsilonLow: Double { epsilon }
    var upperEpsilon: Double { epsilonHigh ?? epsilon }

    var sampling: SamplingSettings {
        SamplingSettings(temperature: Float(temperature), topK: topK, topP: Float(topP))
    }

    /// The keys both kinds have, with the defaults of `defaults` shown in the docs.
    static var groupKeys: [Setting<Self>] {
        [
            .value("num_generations", \.numGenerations, .atLeast(2), "G, completions sampled per prompt (a group)"),
            .value("max_completion_length", \.maxCompletionLength, .positive, "tokens sampled per completion at most; below the model's context"),
            .value("temperature", \.temperature, .above(0), "sampling temperature (log-probs are taken at it too)"),
            .value("top_k", \.topK, Bounds.atLeast(0).noting("(0 = off)"), "sample among the k most likely tokens"),
            .value("top_p", \.topP, .above(0, through: 1), "nucleus sampling"),
            .value("beta", \.beta, .atLeast(0), "KL coefficient to the frozen reference (0: no reference is loaded)"),
            .value("epsilon", \.epsilon, .between(0, 1), "ε_low: the ratio is clipped below at 1 − ε"),
            .optional("epsilon_high", \.epsilonHigh, .above(0), absent: "`epsilon`", "ε_high: the ratio is clipped above at 1 + ε_high (DAPO: 0.28)"),
            .value("num_iterations", \.numIterations, .positive, "μ: optimizer steps on each batch of completions"),
            .value("mask_truncated_completions", \.maskTruncatedCompletions, .any,
                   "leave completions that hit max_completion_length without EOS out of the loss"),
            .list("graders", \.graders, "the reward: graders and weights (docs/graders.md); at least one"),
            .value("eval_samples", \.evalSamples, .positive, "completions sampled per held-out prompt for sampled pass@1 and mean reward"),
            .value("pass_threshold", \.passThreshold, .any, "a held-out completion passes when the first grader gives it at least this"),
        ]
    }

    /// Problems both kinds share: a grader list, a completion that fits the context.
    func groupProblems(in spec: StageSpec, model: ModelConfig) -> [(key: String, message: String)] {
        var found: [(String, String)] = []
        if graders.isEmpty {
            found.append(("graders", "needs at least one grader, e.g. [{type: exact}] (docs/graders.md)"))
        }
        found += graders.listProblems(key: "graders")
        if maxCompletionLength >= model.context {
            found.append(("max_completion_length", "must be below the model's context (\(model.context))"))
        }
        return found
    }
}

/// GRPO or RLOO: how advantages come from rewards, and the loss.
public protocol GroupObjective {
    associatedtype Settings: GroupSettings
    static var kind: StageKind { get }
    /// Whether sampling-time log-probs must be computed (else the loss uses the current ones, ratio 1).
    static func needsOldLogProbs(_ settings: Settings) -> Bool
    /// Whether the reference enters the loss per token (GRPO) rather than the reward (RLOO).
    static var klInLoss: Bool { get }
    /// Advantages [B·G] from rewards (nil: unscorable) and, when β > 0 and the KL is a reward penalty,
    /// each completion's Σ_t (logπ_old − logπ_ref); also whether each completion's group had zero reward std.
    static func advantages(rewards: [Double?], sequenceKL: [Double]?, settings: Settings) -> (advantages: [Double], zeroStd: [Bool])
    /// The loss of one micro-batch.
    static func loss(_ terms: [CompletionTerms], shape: BatchShape, settings: Settings) -> MicroBatchLoss
}
