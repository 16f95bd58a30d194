// The settings of one stage, exactly as a job manifest spells them (DESIGN §3.2), with every default
// in one place. Jobs decodes the manifest into these; stages read nothing else.
//
// Keys are snake_case, as in TRL configs and YAML manifests. Missing keys take the defaults below;
// unknown keys are rejected by the manifest validator, which enumerates `allowedKeys` of each type.

import Transformer

/// The stage kinds of DESIGN §1.
public enum StageKind: String, Codable, CaseIterable, Sendable {
    case sft, reward, ppo, dpo, distill
}

/// Every type a manifest section decodes into lists its keys, so a validator can reject the others.
public protocol ManifestSection: Codable {
    static var allowedKeys: [String] { get }
}

extension ManifestSection where Self: Codable {
    /// Decodes `key` when present, else returns `fallback`: how every default below is applied.
    static func value<T: Decodable, K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ key: K, _ fallback: T) throws -> T {
        try c.decodeIfPresent(T.self, forKey: key) ?? fallback
    }
}

/// Where a stage's data lives. Paths are resolved against the manifest's folder by Jobs.
public struct DataSpec: ManifestSection, Equatable, Sendable {
    /// Training rows: SFT (`prompt`/`completion` or `text`), preferences, or (distill) SFT rows.
    public var train: String?
    /// Held-out rows of the same kind, for `evaluate()`.
    public var eval: String?
    /// PPO prompts (`{"prompt": ...}`).
    public var prompts: String?
    /// Held-out PPO prompts, for the before/after report.
    public var evalPrompts: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case train, eval, prompts, evalPrompts = "eval_prompts"
    }
    public static var allowedKeys: [String] { CodingKeys.allCases.map(\.rawValue) }

    public init(train: String? = nil, eval: String? = nil, prompts: String? = nil, evalPrompts: String? = nil) {
        self.train = train; self.eval = eval; self.prompts = prompts; self.evalPrompts = evalPrompts
    }
}

/// AdamW and its learning-rate schedule.
public struct OptimizerSettings: ManifestSection, Equatable, Sendable {
    public enum Schedule: String, Codable, CaseIterable, Sendable { case constant, linear, cosine }
    /// Peak learning rate.
    public var lr: Double = 3e-4
    /// Linear warm-up steps from 0 to `lr`.
    public var warmup: Int = 0
    /// Decay after warm-up: constant, linear to `min_lr`, or cosine to `min_lr`.
    public var schedule: Schedule = .cosine
    /// The learning rate the decay ends at, as a fraction of `lr`.
    public var minLRRatio: Double = 0.1
    /// Decoupled weight decay, applied to matrices only.
    public var weightDecay: Double = 0.1
    /// Global gradient-norm clip (0 = off).
    public var clip: Double = 1.0
    public var beta1: Double = 0.9
    public var beta2: Double = 0.95
    public var eps: Double = 1e-8

    enum CodingKeys: String, CodingKey, CaseIterable {
        case lr, warmup, schedule, minLRRatio = "min_lr_ratio", weightDecay = "weight_decay", clip, beta1, beta2, eps
    }
    public static var allowedKeys: [String] { CodingKeys.allCases.map(\.rawValue) }

    public init() {}
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self), d = Self()
        lr = try Self.value(c, .lr, d.lr); warmup = try Self.value(c, .warmup, d.warmup)
        schedule = try Self.value(c, .schedule, d.schedule); minLRRatio = try Self.value(c, .minLRRatio, d.minLRRatio)
        weightDecay = try Self.value(c, .weightDecay, d.weightDecay); clip = try Self.value(c, .clip, d.clip)
        beta1 = try Self.value(c, .beta1, d.beta1); beta2 = try Self.value(c, .beta2, d.beta2); eps = try Self.value(c, .eps, d.eps)
    }
}

/// PPO (DESIGN §1 item 3).
public struct PPOSettings: ManifestSection, Equatable, Sendable {
    public enum KLEstimator: String, Codable, CaseIterable, Sendable { case k1, k3 }
    /// β, the per-token KL penalty coefficient (initial value when adaptive).
    public var klCoef: Double = 0.05
    /// Target KL per sequence for the adaptive controller; nil = fixed β.
    public var targetKL: Double? = nil
    /// Horizon of the adaptive controller, in rollout sequences.
    public var horizon: Double = 10_000
    public var klEstimator: KLEstimator = .k1
    public var gamma: Double = 1.0
    public var lam: Double = 0.95
    /// Policy ratio clip ε.
    public var clip: Double = 0.2
    /// Value clip around the rollout's values.
    public var vfClip: Double = 0.2
    public var vfCoef: Double = 0.1
    public var epochs: Int = 4
    public var minibatches: Int = 4
    /// Tokens sampled per prompt.
    public var responseLength: Int = 48
    public var temperature: Double = 1.0
    public var topK: Int = 0
    public var topP: Double = 1.0
    /// Subtracted from the score of responses that hit `response_length` without EOS.
    public var missingEOSPenalty: Double = 1.0
    /// Normalise RM scores with the reward model's stored mean and std.
    public var normalizeReward: Bool = false

    enum CodingKeys: String, CodingKey, CaseIterable {
        case klCoef = "kl_coef", targetKL = "target_kl", horizon, klEstimator = "kl_estimator", gamma, lam, clip,
             vfClip = "vf_clip", vfCoef = "vf_coef", epochs, minibatches, responseLength = "response_length",
             temperature, topK = "top_k", topP = "top_p", missingEOSPenalty = "missing_eos_penalty",
             normalizeReward = "normalize_reward"
    }
    public static var allowedKeys: [String] { CodingKeys.allCases.map(\.rawValue) }

    public init() {}
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self), d = Self()
        klCoef = try Self.value(c, .klCoef, d.klCoef); targetKL = try c.decodeIfPresent(Double.self, forKey: .targetKL)
        horizon = try Self.value(c, .horizon, d.horizon); klEstimator = try Self.value(c, .klEstimator, d.klEstimator)
        gamma = try Self.value(c, .gamma, d.gamma); lam = try Self.value(c, .lam, d.lam); clip = try Self.value(c, .clip, d.clip)
        vfClip = try Self.value(c, .vfClip, d.vfClip); vfCoef = try Self.value(c, .vfCoef, d.vfCoef)
        epochs = try Self.value(c, .epochs, d.epochs); minibatches = try Self.value(c, .minibatches, d.minibatches)
        responseLength = try Self.value(c, .responseLength, d.responseLength)
        temperature = try Self.value(c, .temperature, d.temperature); topK = try Self.value(c, .topK, d.topK)
        topP = try Self.value(c, .topP, d.topP); missingEOSPenalty = try Self.value(c, .missingEOSPenalty, d.missingEOSPenalty)
        normalizeReward = try Self.value(c, .normalizeReward, d.normalizeReward)
    }
}

/// DPO (DESIGN §1, after item 3).
public struct DPOSettings: ManifestSection, Equatable, Sendable {
    public enum Loss: String, Codable, CaseIterable, Sendable { case sigmoid, ipo, hinge }
    public var loss: Loss = .sigmoid
    public var beta: Double = 0.1
    /// cDPO: the probability that a preference label is flipped.
    public var labelSmoothing: Double = 0

    enum CodingKeys: String, CodingKey, CaseIterable { case loss, beta, labelSmoothing = "label_smoothing" }
    public static var allowedKeys: [String] { CodingKeys.allCases.map(\.rawValue) }

    public init() {}
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self), d = Self()
        loss = try Self.value(c, .loss, d.loss); beta = try Self.value(c, .beta, d.beta)
        labelSmoothing = try Self.value(c, .labelSmoothing, d.labelSmoothing)
    }
}

/// Knowledge distillation.
public struct DistillSettings: ManifestSection, Equatable, Sendable {
    public enum Loss: String, Codable, CaseIterable, Sendable { case forwardKL = "forward_kl", reverseKL = "reverse_kl" }
    public var loss: Loss = .forwardKL
    /// τ: both distributions are softened by it; the KL term is scaled by τ² (Hinton et al.).
    public var temperature: Double = 2.0
    /// Weight of the KL term; 1 − alpha weighs the plain SFT loss.
    public var alpha: Double = 0.5

    enum CodingKeys: String, CodingKey, CaseIterable { case loss, temperature, alpha }
    public static var allowedKeys: [String] { CodingKeys.allCases.map(\.rawValue) }

    public init() {}
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self), d = Self()
        loss = try Self.value(c, .loss, d.loss); temperature = try Self.value(c, .temperature, d.temperature)
        alpha = try Self.value(c, .alpha, d.alpha)
    }
}

/// One entry of a manifest's `stages` list.
public struct StageSpec: ManifestSection, Equatable, Sendable {
    /// Unique within the job; names the output folder and what later stages refer to.
    public var name: String
    public var kind: StageKind
    /// Starting weights: an earlier stage's name or a checkpoint file (sft: optional, from scratch
    /// when absent; reward, dpo, distill student: required unless from scratch is wanted).
    public var initFrom: String?
    /// PPO and DPO: the policy's starting point (also the frozen reference).
    public var policy: String?
    /// PPO: the reward model.
    public var reward: String?
    /// Distill: the teacher.
    public var teacher: String?
    /// Distill: the student's shape when it differs from the job's model.
    public var model: GPTConfig?
    public var data: DataSpec
    /// Optimizer steps (PPO: iterations).
    public var steps: Int
    /// Rows per optimizer step (preference pairs for reward and dpo; prompts for ppo).
    public var batch: Int = 16
    /// Rows per forward/backward; gradients accumulate over batch / micro_batch passes.
    public var microBatch: Int?
    public var optimizer: OptimizerSettings = OptimizerSettings()
    public var checkpointEvery: Int = 100
    /// Step checkpoints kept (final.h5 is always kept).
    public var keep: Int = 3
    /// Evaluate every N steps (0 = only at the end).
    public var evalEvery: Int = 0
    /// Skip (and count) malformed JSONL lines instead of failing.
    public var skipBadLines: Bool = false
    /// Reward: the centering coefficient of `coef · mean((r_c + r_r)²)`.
    public var centerRewards: Double = 0
    public var ppo: PPOSettings?
    public var dpo: DPOSettings?
    public var distill: DistillSettings?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, kind, initFrom = "init", policy, reward, teacher, model, data, steps, batch,
             microBatch = "micro_batch", optimizer, checkpointEvery = "checkpoint_every", keep,
             evalEvery = "eval_every", skipBadLines = "skip_bad_lines", centerRewards = "center_rewards", ppo, dpo, distill
    }
    public static var allowedKeys: [String] { CodingKeys.allCases.map(\.rawValue) }

    public init(name: String, kind: StageKind, data: DataSpec, steps: Int) {
        self.name = name; self.kind = kind; self.data = data; self.steps = steps
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        kind = try c.decode(StageKind.self, forKey: .kind)
        data = try Self.value(c, .data, DataSpec())
        steps = try c.decode(Int.self, forKey: .steps)
        initFrom = try c.decodeIfPresent(String.self, forKey: .initFrom)
        policy = try c.decodeIfPresent(String.self, forKey: .policy)
        reward = try c.decodeIfPresent(String.self, forKey: .reward)
        teacher = try c.decodeIfPresent(String.self, forKey: .teacher)
        model = try c.decodeIfPresent(GPTConfig.self, forKey: .model)
        batch = try Self.value(c, .batch, 16)
        microBatch = try c.decodeIfPresent(Int.self, forKey: .microBatch)
        optimizer = try Self.value(c, .optimizer, OptimizerSettings())
        checkpointEvery = try Self.value(c, .checkpointEvery, 100)
        keep = try Self.value(c, .keep, 3)
        evalEvery = try Self.value(c, .evalEvery, 0)
        skipBadLines = try Self.value(c, .skipBadLines, false)
        centerRewards = try Self.value(c, .centerRewards, 0)
        ppo = try c.decodeIfPresent(PPOSettings.self, forKey: .ppo)
        dpo = try c.decodeIfPresent(DPOSettings.self, forKey: .dpo)
        distill = try c.decodeIfPresent(DistillSettings.self, forKey: .distill)
    }

    /// Rows per forward/backward pass.
    public var rowsPerPass: Int { min(batch, max(1, microBatch ?? batch)) }

    /// Problems with values (ranges, combinations), each as (key path under the stage, message).
    /// Shapes and references are checked by Jobs, which knows the other stages and files.
    public var problems: [(key: String, message: String)] {
        var found: [(String, String)] = []
        func require(_ ok: Bool, _ key: String, _ message: String) { if !ok { found.append((key, message)) } }
        require(!name.isEmpty && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }, "name",
                "must be letters, digits, '-' or '_' (it names a folder)")
        require(steps > 0, "steps", "must be a positive integer")
        require(batch > 0, "batch", "must be a positive integer")
        if let m = microBatch { require(m > 0 && batch % m == 0, "micro_batch", "must be positive and divide batch (\(batch))") }
        require(checkpointEvery > 0, "checkpoint_every", "must be a positive integer")
        require(keep >= 1, "keep", "must be at least 1")
        require(evalEvery >= 0, "eval_every", "must be 0 (end only) or a positive integer")
        require(optimizer.lr > 0 && optimizer.lr < 1, "optimizer.lr", "must be in (0, 1)")
        require(optimizer.warmup >= 0, "optimizer.warmup", "must be ≥ 0")
        require((0...1).contains(optimizer.minLRRatio), "optimizer.min_lr_ratio", "must be in [0, 1]")
        require(optimizer.weightDecay >= 0, "optimizer.weight_decay", "must be ≥ 0")
        require(optimizer.clip >= 0, "optimizer.clip", "must be ≥ 0 (0 = off)")
        require((0..<1).contains(optimizer.beta1), "optimizer.beta1", "must be in [0, 1)")
        require((0..<1).contains(optimizer.beta2), "optimizer.beta2", "must be in [0, 1)")
        require(optimizer.eps > 0, "optimizer.eps", "must be > 0")
        require(centerRewards >= 0, "center_rewards", "must be ≥ 0")
        if let p = ppo {
            require(p.klCoef >= 0, "ppo.kl_coef", "must be ≥ 0")
            if let t = p.targetKL { require(t > 0, "ppo.target_kl", "must be > 0") }
            require(p.horizon > 0, "ppo.horizon", "must be > 0")
            require((0...1).contains(p.gamma), "ppo.gamma", "must be in [0, 1]")
            require((0...1).contains(p.lam), "ppo.lam", "must be in [0, 1]")
            require(p.clip > 0 && p.clip < 1, "ppo.clip", "must be in (0, 1)")
            require(p.vfClip > 0, "ppo.vf_clip", "must be > 0")
            require(p.vfCoef >= 0, "ppo.vf_coef", "must be ≥ 0")
            require(p.epochs > 0, "ppo.epochs", "must be a positive integer")
            require(p.minibatches > 0 && batch % p.minibatches == 0, "ppo.minibatches", "must be positive and divide batch (\(batch))")
            require(p.responseLength > 0, "ppo.response_length", "must be a positive integer")
            require(p.temperature > 0, "ppo.temperature", "must be > 0")
            require(p.topK >= 0, "ppo.top_k", "must be ≥ 0 (0 = off)")
            require(p.topP > 0 && p.topP <= 1, "ppo.top_p", "must be in (0, 1]")
        }
        if let d = dpo {
            require(d.beta > 0, "dpo.beta", "must be > 0")
            require((0..<0.5).contains(d.labelSmoothing), "dpo.label_smoothing", "must be in [0, 0.5)")
        }
        if let d = distill {
            require(d.temperature > 0, "distill.temperature", "must be > 0")
            require((0...1).contains(d.alpha), "distill.alpha", "must be in [0, 1]")
        }
        return found
    }
}
