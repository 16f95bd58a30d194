// PPO against a frozen reference (DESIGN §1 item 3). One step is one iteration:
//   1. rollout   sample `batch` prompts, generate up to response_length tokens with the KV cache
//   2. score     policy (old log-probs, entropy), reference (log-probs), reward model (score at the
//                last token), critic (values), all at temperature τ where log-probs are concerned
//   3. rewards   −β·KL per token, + score at the EOS (or last token − missing_eos_penalty)
//   4. GAE       advantages (whitened over the batch) and returns
//   5. update    `epochs` passes over `minibatches` shuffled minibatches; each minibatch is one AdamW
//                step of the policy (clipped surrogate) and one of the critic (clipped value loss)
//   6. β         fixed, or the adaptive controller toward target_kl
// Networks: policy and reference from the `policy` source (the SFT model), reward model and critic
// from the `reward` source (the critic keeps training its own copy of the head).

import Checkpoint
import Dispatch
import Foundation
import Kernels
import Transformer

public final class PPOStage: Stage {
    public let spec: StageSpec
    let settings: PPOSettings
    let policy: NetworkTrainer
    let critic: NetworkTrainer
    let reference: CausalLM
    let rewardModel: CausalLM
    /// The reward model's held-out mean and std, when it recorded them.
    let rewardStats: (mean: Double, std: Double)?
    let prompts: Dataset<PromptRecord>
    let evalPrompts: Dataset<PromptRow>?
    let evalGraders: GraderSet
    let log: (String) -> Void
    var order: DataOrder
    var rolloutRNG: Xoshiro256
    var shuffleRNG: Xoshiro256
    var klController: AdaptiveKLController
    var iterations = 0
    var lastMetrics = Metrics()
    let evalSeed: UInt64

    public var completedSteps: Int { iterations }
    public var notices: [String] { [prompts.skipReport, evalPrompts?.skipReport].compactMap { $0 } }
    public var model: CausalLM { policy.model }

    init(spec: StageSpec, context: StageContext) throws {
        let policySource = try context.source(.policy), rewardSource = try context.source(.reward)
        self.spec = spec
        settings = spec.settings(PPOSettings.self)
        if let problem = settings.problems(in: spec, model: context.model).first {
            throw StageError.invalidInput("stage \(spec.name): ppo.\(problem.key) \(problem.message)")
        }
        prompts = try Dataset(contentsOf: spec.data[.prompts] ?? "", skipBadLines: spec.skipBadLines)
        evalPrompts = try spec.data[.evalPrompts].map { try Dataset(contentsOf: $0, skipBadLines: spec.skipBadLines) }
        let config = context.model
        let seed = { (stream: String) in context.seed(stage: spec.name, stream: stream) }
        let policyName = policySource.reference, rewardName = rewardSource.reference
        let updates = spec.steps * settings.epochs * settings.minibatches
        policy = NetworkTrainer(name: "model", model: try makeNetwork(config: config, scalarHead: false, seed: seed("init"),
                                                                       from: policySource.checkpoint, sourceName: policyName),
                                settings: spec.optimizer, totalSteps: updates)
        reference = try makeNetwork(config: config, scalarHead: false, seed: seed("init"), from: policySource.checkpoint, sourceName: policyName)
        rewardModel = try makeNetwork(config: config, scalarHead: true, seed: seed("init"), from: rewardSource.checkpoint, sourceName: rewardName)
        critic = NetworkTrainer(name: "critic", model: try makeNetwork(config: config, scalarHead: true, seed: seed("critic"),
                                                                        from: rewardSource.checkpoint, sourceName: rewardName),
                                settings: spec.optimizer, totalSteps: updates)
        let stats = StateGroups.metrics(rewardSource.checkpoint.root.groups["reward_stats"])
        rewardStats = stats["mean"].flatMap { mean in stats["std"].map { (mean, max($0, 1e-6)) } }
        if settings.normalizeReward && rewardStats == nil {
            throw StageError.invalidInput("stage \(spec.name): ppo.normalize_reward needs reward statistics, "
                                          + "but \(rewardName) recorded none (evaluate the reward model on held-out data)")
        }
        order = DataOrder(count: prompts.count, seed: seed("data"))
        rolloutRNG = Xoshiro256(seed: seed("rollout"))
        shuffleRNG = Xoshiro256(seed: seed("shuffle"))
        evalSeed = seed("eval")
        evalGraders = try GraderSet(settings.evalGraders, reward: rewardSource, config: config, maxCompletionLength: settings.responseLength)
        log = context.log
        klController = AdaptiveKLController(initial: settings.klCoef, target: settings.targetKL ?? 1, horizon: settings.horizon)
    }

    var sampling: SamplingSettings {
        SamplingSettings(temperature: Float(settings.temperature), topK: settings.topK, topP: Float(settings.topP))
    }

    // MARK: - One iteration

    public func step() throws -> Metrics {
        let iteration = iterations + 1
        let clock = DispatchTime.now().uptimeNanoseconds
        var rollout = generate(prompts.batch(order.next(spec.batch), maxLength: model.config.context - settings.responseLength),
                               rng: &rolloutRNG)
        score(&rollout)
        let beta = klController.value
        let klPerSequence = assignRewards(&rollout, beta: beta)
        let rolloutSeconds = Double(DispatchTime.now().uptimeNanoseconds - clock) / 1e9
        for value in rollout.scores + klPerSequence {
            try requireFinite(value, "the rollout's scores or KL", stage: spec.name, step: iteration)
        }

        var update = UpdateStatistics()
        let size = spec.batch / settings.minibatches
        for _ in 0..<settings.epochs {
            let permutation = shuffled(rollout.rows)
            for start in stride(from: 0, to: rollout.rows, by: size) {
                try updatePolicyAndCritic(rollout, rows: Array(permutation[start..<min(rollout.rows, start + size)]),
                                          statistics: &update, iteration: iteration)
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - clock) / 1e9
        let meanKL = klPerSequence.reduce(0, +) / Double(rollout.rows)
        if settings.targetKL != nil { klController.update(currentKL: meanKL, sequences: rollout.rows) }
        iterations = iteration

        var metrics = Metrics()
        let (scoreMean, scoreStd) = meanAndStd(rollout.scores)
        metrics["score_mean"] = scoreMean
        metrics["score_std"] = scoreStd
        metrics["kl"] = meanKL
        metrics["beta"] = beta
        metrics["entropy"] = mean(rollout.entropy.flatMap { $0 })
        metrics["response_length"] = Double(rollout.tokenCount) / Double(rollout.rows)
        metrics["eos_fraction"] = Double(rollout.stopped.filter { $0 }.count) / Double(rollout.rows)
        for (name, value) in update.metrics { metrics[name] = value }
        metrics["lr"] = spec.optimizer.learningRate(step: policy.step - 1, total: policy.totalSteps)
        metrics["rollout_tokens_per_s"] = Double(rollout.rows * rollout.width) / rolloutSeconds
        metrics["update_tokens_per_s"] = Double(rollout.rows * rollout.width * settings.epochs * 2) / max(1e-9, seconds - rolloutSeconds)
        if meanKL < 0 {
            metrics.warnings.append("mean KL to the reference is negative (\(String(format: "%.4f", meanKL))): "
                                    + "the sampled log-probs disagree with the policy's; check temperature, top_k and top_p")
        }
        lastMetrics = metrics
        return metrics
    }

    /// Samples responses for a batch of prompts with the policy.
    func generate(_ batch: PromptBatch, rng: inout Xoshiro256) -> Rollout {
        let queries = (0..<batch.rows).map { Array(batch.tokens[$0 * batch.width..<$0 * batch.width + batch.lengths[$0]]) }
        let generation = model.generate(prompts: queries, maxNewTokens: settings.responseLength, settings: sampling,
                                        stopToken: ByteTokenizer.eos, rng: &rng)
        return Rollout(prompts: queries, generation: generation, pad: ByteTokenizer.pad)
    }

    /// Old and reference log-probs, entropy, values and raw scores of a rollout.
    func score(_ rollout: inout Rollout) {
        let (b, t) = (rollout.rows, rollout.width), temperature = Float(settings.temperature)
        model.forward(tokens: rollout.tokens, batch: b, time: t)
        let (logp, entropy) = model.tokenLogProbs(targets: rollout.targets, entropy: true, temperature: temperature)
        rollout.oldLogp = rollout.gather(logp)
        rollout.entropy = rollout.gather(entropy!)
        reference.forward(tokens: rollout.tokens, batch: b, time: t)
        rollout.refLogp = rollout.gather(reference.tokenLogProbs(targets: rollout.targets, temperature: temperature).logp)
        critic.model.forward(tokens: rollout.tokens, batch: b, time: t)
        rollout.values = rollout.gather(critic.model.scalarValues())
        rewardModel.forward(tokens: rollout.tokens, batch: b, time: t)
        let scores = rewardModel.scalarValues()
        rollout.scores = (0..<b).map { Double(scores[rollout.lastTokenPosition($0)]) }
    }

    /// Per-token rewards, advantages and returns; returns each sequence's KL (Σ_t logπ − logπ_ref).
    func assignRewards(_ rollout: inout Rollout, beta: Double) -> [Double] {
        var klPerSequence: [Double] = []
        rollout.rewards = []
        for b in 0..<rollout.rows {
            var score = rollout.scores[b]
            if let stats = rewardStats, settings.normalizeReward { score = (score - stats.mean) / stats.std }
            if !rollout.stopped[b] { score -= settings.missingEOSPenalty }
            rollout.scores[b] = score
            var rewards = zip(rollout.oldLogp[b], rollout.refLogp[b]).map {
                -beta * KLEstimate.perToken(logp: $0, refLogp: $1, estimator: settings.klEstimator)
            }
            rewards[rewards.count - 1] += score
            rollout.rewards.append(rewards)
            klPerSequence.append(zip(rollout.oldLogp[b], rollout.refLogp[b]).reduce(0) { $0 + $1.0 - $1.1 })
        }
        var advantages: [[Double]] = [], returns: [[Double]] = []
        for b in 0..<rollout.rows {
            let gae = generalizedAdvantages(rewards: rollout.rewards[b], values: rollout.values[b],
                                            gamma: settings.gamma, lambda: settings.lam)
            advantages.append(gae.advantages)
            returns.append(gae.returns)
        }
        let flat = whitened(advantages.flatMap { $0 })
        var offset = 0
        rollout.advantages = advantages.map { row in
            defer { offset += row.count }
            return Array(flat[offset..<offset + row.count])
        }
        rollout.returns = returns
        return klPerSequence
    }

    /// One AdamW step of the policy and one of the critic on the rollout rows `rows`.
    func updatePolicyAndCritic(_ rollout: Rollout, rows: [Int], statistics: inout UpdateStatistics, iteration: Int) throws {
        policy.beginStep()
        let policyLoss = policyObjective(rollout, rows: rows, statistics: &statistics, backward: true)
        try requireFinite(policyLoss, "the policy loss", stage: spec.name, step: iteration)
        _ = try policy.finishStep(stage: spec.name)
        critic.beginStep()
        let valueLoss = valueObjective(rollout, rows: rows, statistics: &statistics, backward: true)
        try requireFinite(valueLoss, "the value loss", stage: spec.name, step: iteration)
        _ = try critic.finishStep(stage: spec.name)
        statistics.addLosses(policy: policyLoss, value: valueLoss)
    }

    /// The clipped surrogate, mean over the response tokens of `rows`; with `backward`, its gradient
    /// is accumulated into the policy's gradients.
    func policyObjective(_ rollout: Rollout, rows: [Int], statistics: inout UpdateStatistics, backward: Bool) -> Double {
        let (tokens, targets) = rollout.slice(rows)
        let count = Double(rows.reduce(0) { $0 + rollout.responses[$1].count })
        model.forward(tokens: tokens, batch: rows.count, time: rollout.width)
        let newLogp = model.tokenLogProbs(targets: targets, temperature: Float(settings.temperature)).logp
        var dlogp = [Float](repeating: 0, count: tokens.count)
        var loss = 0.0
        for (k, b) in rows.enumerated() {
            for j in rollout.responses[b].indices {
                let p = rollout.position(b, j) - (b - k) * rollout.width, new = Double(newLogp[p]), old = rollout.oldLogp[b][j]
                let term = clippedPolicyLoss(newLogp: new, oldLogp: old, advantage: rollout.advantages[b][j], clip: settings.clip)
                loss += term.loss / count
                dlogp[p] = Float(term.gradient / count)
                statistics.addPolicy(clipped: term.clipped, approxKL: 0.5 * (new - old) * (new - old))
            }
        }
        if backward { model.backward(dlogp: dlogp) }
        return loss
    }

    /// The clipped value loss, mean over the response tokens of `rows`; with `backward`, the gradient
    /// of vf_coef × that loss is accumulated into the critic's gradients.
    func valueObjective(_ rollout: Rollout, rows: [Int], statistics: inout UpdateStatistics, backward: Bool) -> Double {
        let (tokens, _) = rollout.slice(rows)
        let count = Double(rows.reduce(0) { $0 + rollout.responses[$1].count })
        critic.model.forward(tokens: tokens, batch: rows.count, time: rollout.width)
        let newValues = critic.model.scalarValues()
        var dvalues = [Float](repeating: 0, count: tokens.count)
        var loss = 0.0
        for (k, b) in rows.enumerated() {
            for j in rollout.responses[b].indices {
                let p = rollout.position(b, j) - (b - k) * rollout.width
                let term = clippedValueLoss(newValue: Double(newValues[p]), oldValue: rollout.values[b][j],
                                            target: rollout.returns[b][j], clip: settings.vfClip)
                loss += term.loss / count
                dvalues[p] = Float(settings.vfCoef * term.gradient / count)
                statistics.addValue(clipped: term.clipped)
            }
        }
        if backward { critic.model.backward(dvalues: dvalues) }
        return loss
    }

    /// A permutation of 0..<n drawn from the shuffle generator (Fisher–Yates).
    func shuffled(_ n: Int) -> [Int] {
        var permutation = Array(0..<n)
        for i in stride(from: n - 1, to: 0, by: -1) {
            let j = Int(shuffleRNG.next() % UInt64(i + 1))
            permutation.swapAt(i, j)
        }
        return permutation
    }

    // MARK: - Evaluation

    /// On the held-out prompts, with the same sampling stream every time (so before/after compare
    /// like with like): reward-model score, each eval grader's reward, KL to the reference, length;
    /// and the first `Sample.perEvaluation` responses with their own measures.
    public func evaluate() throws -> Metrics {
        guard let evalPrompts, evalPrompts.count > 0 else { return Metrics() }
        let evaluation = SampleEvaluation(batch: spec.batch, maxNewTokens: settings.responseLength, sampling: sampling, seed: evalSeed)
        let result: SampleEvaluation.Result
        do {
            result = try evaluation.run(model: model, prompts: evalPrompts.records, graders: evalGraders, reward: rewardModel,
                                        reference: reference, log: log)
        } catch let error as GraderError {
            throw StageError.graderFailed(stage: spec.name, step: iterations, message: error.description)
        }
        let (scoreMean, scoreStd) = meanAndStd(result.scores)
        var metrics = Metrics([("eval_score_mean", scoreMean), ("eval_score_std", scoreStd)])
        for (grader, rewards) in zip(evalGraders.graders, result.graded) {
            metrics["eval_\(grader.name)_mean"] = nanMean(rewards)
            metrics["eval_\(grader.name)_std"] = population(rewards)
        }
        metrics["eval_kl"] = mean(result.kls)
        metrics["eval_response_length"] = mean(result.lengths)
        metrics["eval_prompts"] = Double(evalPrompts.count)
        metrics.samples = result.samples
        return metrics
    }

    // MARK: - State

    public func checkpoint() -> CheckpointFile {
        var file = CheckpointFile(metadata: stageMetadata(spec, step: iterations, config: model.config))
        policy.save(into: &file.root)
        critic.save(into: &file.root)
        file.root.groups["ppo"] = CheckpointGroup(attributes: [
            "kl_coef": .double(klController.value), "target_kl": .double(klController.target),
            "horizon": .double(klController.horizon), "iterations": .int64(Int64(iterations)),
        ])
        file.root[group: "rng"].groups["rollout"] = StateGroups.group(of: rolloutRNG)
        file.root[group: "rng"].groups["shuffle"] = StateGroups.group(of: shuffleRNG)
        file.root[group: "data"].groups["prompts"] = StateGroups.group(of: order)
        file.root.groups["metrics"] = StateGroups.group(of: lastMetrics)
        return file
    }

    public func restore(from file: CheckpointFile) throws {
        try checkOwnership(file, spec: spec)
        let source = "stage \(spec.name)"
        try policy.restore(from: file.root, source: source)
        try critic.restore(from: file.root, source: source)
        guard let ppo = file.root.groups["ppo"]?.attributes, case let .double(beta)? = ppo["kl_coef"],
              case let .int64(done)? = ppo["iterations"] else {
            throw StageError.badCheckpoint("\(source): /ppo (KL controller state) is missing")
        }
        klController.value = beta
        iterations = Int(done)
        rolloutRNG = try StateGroups.loadGenerator(file.root.groups["rng"]?.groups["rollout"], source: source)
        shuffleRNG = try StateGroups.loadGenerator(file.root.groups["rng"]?.groups["shuffle"], source: source)
        order = try StateGroups.loadOrder(file.root.groups["data"]?.groups["prompts"], datasetCount: prompts.count, source: source)
        lastMetrics = StateGroups.metrics(file.root.groups["metrics"])
    }
}

/// Accumulates the update phase's statistics over all minibatches of an iteration.
struct UpdateStatistics {
    var policyLoss = 0.0, valueLoss = 0.0, updates = 0
    var tokens = 0, clipped = 0, valueClipped = 0, approxKL = 0.0

    mutating func addPolicy(clipped isClipped: Bool, approxKL kl: Double) {
        tokens += 1
        if isClipped { clipped += 1 }
        approxKL += kl
    }

    mutating func addValue(clipped isClipped: Bool) { if isClipped { valueClipped += 1 } }

    mutating func addLosses(policy: Double, value: Double) {
        policyLoss += policy
        valueLoss += value
        updates += 1
    }

    var metrics: [(String, Double)] {
        let n = Double(max(1, tokens)), u = Double(max(1, updates))
        return [("policy_loss", policyLoss / u), ("value_loss", valueLoss / u), ("clip_fraction", Double(clipped) / n),
                ("value_clip_fraction", Double(valueClipped) / n), ("approx_kl", approxKL / n)]
    }
}

func mean(_ x: [Double]) -> Double { x.isEmpty ? 0 : x.reduce(0, +) / Double(x.count) }

func meanAndStd(_ x: [Double]) -> (Double, Double) {
    let m = mean(x)
    return (m, mean(x.map { ($0 - m) * ($0 - m) }).squareRoot())
}

/// The population std of the values present.
func population(_ x: [Double?]) -> Double { meanAndStd(x.compactMap { $0 }).1 }
