// Reinforcement fine-tuning with G completions per prompt and rewards from graders: the machinery GRPO
// and RLOO share. One step is one iteration:
//   1. rollout   `batch` prompts (with every column of their rows), G completions each, sampled with
//                the KV cache at `temperature` (top_k, top_p)
//   2. grade     every grader scores every completion (nil: does not apply); reward = Σ weight · reward
//                over the graders that answered; a completion none answered is unscorable (advantage 0)
//   3. score     sampling-time log-probs (when the objective needs them) and the frozen reference's
//                (when β > 0), at the sampling temperature
//   4. advantage the objective's (GRPO: group-relative; RLOO: leave-one-out)
//   5. update    `num_iterations` AdamW steps on the batch, each accumulating the objective's loss over
//                micro-batches of `micro_batch` prompts (their G completions each)
// A grader that fails (dies, hangs, answers garbage) stops the step before any weight changes, with the
// data order and generator put back: the stage is exactly as after the previous step, so the runner can
// checkpoint it and a resume replays the step.
//
// Legend: B prompts per step, G completions per prompt, N = B·G completions; completions of prompt b are
// rows b·G ..< (b+1)·G of every per-completion array.

import Checkpoint
import Dispatch
import Foundation
import Kernels
import Transformer

public final class GroupPolicyStage<Objective: GroupObjective>: Stage {
    public let spec: StageSpec
    let settings: Objective.Settings
    let policy: NetworkTrainer
    /// The frozen starting policy, loaded only when β > 0.
    let reference: CausalLM?
    let graders: GraderSet
    let prompts: Dataset<PromptRow>
    let evalPrompts: Dataset<PromptRow>?
    var order: DataOrder
    var rolloutRNG: Xoshiro256
    var iterations = 0
    var lastMetrics = Metrics()
    let evalSeed: UInt64
    let log: (String) -> Void

    public var completedSteps: Int { iterations }
    public var notices: [String] { [prompts.skipReport, evalPrompts?.skipReport].compactMap { $0 } }
    public var model: CausalLM { policy.model }

    init(spec: StageSpec, context: StageContext) throws {
        self.spec = spec
        settings = spec.settings(Objective.Settings.self)
        let name = Objective.kind.rawValue
        if let problem = settings.problems(in: spec, model: context.model).first {
            throw StageError.invalidInput("stage \(spec.name): \(name).\(problem.key) \(problem.message)")
        }
        let policySource = try context.source(.policy)
        prompts = try Dataset(contentsOf: spec.data[.prompts] ?? "", skipBadLines: spec.skipBadLines)
        evalPrompts = try spec.data[.evalPrompts].map { try Dataset(contentsOf: $0, skipBadLines: spec.skipBadLines) }
        let seed = { (stream: String) in context.seed(stage: spec.name, stream: stream) }
        let network = try makeNetwork(config: context.model, scalarHead: false, seed: seed("init"),
                                      from: policySource.checkpoint, sourceName: policySource.reference)
        policy = NetworkTrainer(name: "model", model: network, settings: spec.optimizer,
                                totalSteps: spec.steps * settings.numIterations)
        reference = settings.beta == 0 ? nil
            : try makeNetwork(config: context.model, scalarHead: false, seed: seed("init"), from: policySource.checkpoint,
                              sourceName: policySource.reference)
        graders = try GraderSet(settings.graders, reward: context.sources[.reward], config: context.model,
                                maxCompletionLength: settings.maxCompletionLength)
        order = DataOrder(count: prompts.count, seed: seed("data"))
        rolloutRNG = Xoshiro256(seed: seed("rollout"))
        evalSeed = seed("eval")
        log = context.log
    }

    var maxPromptLength: Int { model.config.context - settings.maxCompletionLength }
    var groupSize: Int { settings.numGenerations }

    // MARK: - One iteration

    public func step() throws -> Metrics {
        let iteration = iterations + 1
        let clock = DispatchTime.now().uptimeNanoseconds
        let (savedOrder, savedRNG) = (order, rolloutRNG)
        var batch: GroupBatch
        do {
            batch = try rollout(order.next(spec.batch), rng: &rolloutRNG)
        } catch let error as GraderError {
            (order, rolloutRNG) = (savedOrder, savedRNG)
            throw StageError.graderFailed(stage: spec.name, step: iteration, message: error.description)
        }
        score(&batch)
        let rolloutSeconds = Double(DispatchTime.now().uptimeNanoseconds - clock) / 1e9

        var statistics = LossStatistics(), losses: [Double] = [], norms: [Double] = [], entropy = (sum: 0.0, count: 0)
        let prompts = spec.batch, perPass = spec.rowsPerPass
        let shape = BatchShape(microBatches: prompts / perPass, batchTokens: batch.lossTokens,
                               maxCompletionLength: settings.maxCompletionLength)
        for _ in 0..<settings.numIterations {
            policy.beginStep()
            var loss = 0.0
            for start in stride(from: 0, to: prompts, by: perPass) {
                let rows = Array(start * groupSize..<(start + perPass) * groupSize)
                let part = objective(batch, rows: rows, shape: shape, entropy: &entropy)
                loss += part.loss
                statistics.add(part.statistics)
            }
            try requireFinite(loss, "the policy loss", stage: spec.name, step: iteration)
            let (_, norm) = try policy.finishStep(stage: spec.name)
            losses.append(loss)
            norms.append(norm)
        }
        iterations = iteration
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - clock) / 1e9

        var metrics = rewardMetrics(batch)
        metrics["frac_reward_zero_std"] = Double(batch.zeroStd.filter { $0 }.count) / Double(batch.rows)
        metrics["advantage_abs_mean"] = batch.advantages.reduce(0) { $0 + abs($1) } / Double(batch.rows)
        metrics["loss"] = losses.reduce(0, +) / Double(losses.count)
        metrics["clip_ratio_low"] = Double(statistics.lowClipped) / Double(max(1, statistics.units))
        metrics["clip_ratio_high"] = Double(statistics.highClipped) / Double(max(1, statistics.units))
        metrics["clip_ratio_region"] = Double(statistics.lowClipped + statistics.highClipped) / Double(max(1, statistics.units))
        if settings.beta != 0 {
            metrics["kl"] = Objective.klInLoss ? statistics.klSum / Double(max(1, statistics.klTokens))
                : batch.tokenKL.sum / Double(max(1, batch.tokenKL.count))
        }
        metrics["entropy"] = entropy.sum / Double(max(1, entropy.count))
        metrics["completion_length"] = Double(batch.rollout.tokenCount) / Double(batch.rows)
        metrics["truncated_fraction"] = Double(batch.rollout.stopped.filter { !$0 }.count) / Double(batch.rows)
        metrics["grad_norm"] = norms.reduce(0, +) / Double(norms.count)
        metrics["lr"] = spec.optimizer.learningRate(step: policy.step - 1, total: policy.totalSteps)
        metrics["rollout_tokens_per_s"] = Double(batch.rollout.tokenCount) / max(1e-9, rolloutSeconds)
        metrics["iteration_seconds"] = seconds
        lastMetrics = metrics
        return metrics
    }

    /// A batch of G completions for each prompt of `indices`, graded, with advantages still to come.
    func rollout(_ indices: [Int], rng: inout Xoshiro256) throws -> GroupBatch {
        let tokens = prompts.promptTokens(indices, maxLength: maxPromptLength)
        let queries = tokens.flatMap { Array(repeating: $0, count: groupSize) }
        let generation = model.generate(prompts: queries, maxNewTokens: settings.maxCompletionLength, settings: settings.sampling,
                                        stopToken: ByteTokenizer.eos, rng: &rng)
        let rollout = Rollout(prompts: queries, generation: generation, pad: ByteTokenizer.pad)
        let rows = indices.enumerated().map { k, index in
            let range = k * groupSize..<(k + 1) * groupSize
            return GradingRow(row: prompts[index].row, promptTokens: tokens[k], completionTokens: Array(rollout.responses[range]),
                              truncated: rollout.stopped[range].map { !$0 })
        }
        let graded = try graders.grade(rows, log: log)
        return GroupBatch(rollout: rollout, graded: graded, rewards: graders.combine(graded),
                          inLoss: rollout.stopped.map { $0 || !settings.maskTruncatedCompletions })
    }

    /// Sampling-time and reference log-probs, then advantages.
    func score(_ batch: inout GroupBatch) {
        let rollout = batch.rollout, temperature = Float(settings.temperature)
        if Objective.needsOldLogProbs(settings) {
            batch.oldLogp = logProbs(of: model, rollout, temperature: temperature)
        }
        if let reference {
            batch.refLogp = logProbs(of: reference, rollout, temperature: temperature)
        }
        var sequenceKL: [Double]?
        if let old = batch.oldLogp, let ref = batch.refLogp {
            // k1 per token over the completion's tokens in the loss: RLOO's reward penalty, and its KL metric.
            sequenceKL = (0..<batch.rows).map { b in batch.inLoss[b] ? zip(old[b], ref[b]).reduce(0) { $0 + $1.0 - $1.1 } : 0 }
            batch.tokenKL = (sequenceKL!.reduce(0, +), (0..<batch.rows).reduce(0) { $0 + (batch.inLoss[$1] ? old[$1].count : 0) })
        }
        (batch.advantages, batch.zeroStd) = Objective.advantages(rewards: batch.rewards, sequenceKL: sequenceKL, settings: settings)
    }

    /// Per-token log-probs of every completion of a rollout under `network`, in micro-batches of rows.
    func logProbs(of network: CausalLM, _ rollout: Rollout, temperature: Float) -> [[Double]] {
        var result: [[Double]] = []
        let step = spec.rowsPerPass * groupSize
        for start in stride(from: 0, to: rollout.rows, by: step) {
            let rows = Array(start..<min(rollout.rows, start + step))
            let (tokens, targets) = rollout.slice(rows)
            network.forward(tokens: tokens, batch: rows.count, time: rollout.width)
            let logp = network.tokenLogProbs(targets: targets, temperature: temperature).logp
            for (k, b) in rows.enumerated() {
                result.append(rollout.responses[b].indices.map { Double(logp[rollout.position(b, $0) - (b - k) * rollout.width]) })
            }
        }
        return result
    }

    /// The objective on rows `rows` of the batch: forward, loss, and with `backward` its gradient
    /// accumulated into the policy's.
    func objective(_ batch: GroupBatch, rows: [Int], shape: BatchShape, entropy: inout (sum: Double, count: Int),
                   backward: Bool = true) -> MicroBatchLoss {
        let rollout = batch.rollout
        let (tokens, targets) = rollout.slice(rows)
        model.forward(tokens: tokens, batch: rows.count, time: rollout.width)
        let (logp, entropies) = model.tokenLogProbs(targets: targets, entropy: true, temperature: Float(settings.temperature))
        func local(_ b: Int, _ j: Int) -> Int { rollout.position(b, j) - rows[0] * rollout.width }   // row b is row b − rows[0] of the slice
        let terms = rows.map { b -> CompletionTerms in
            let current = rollout.responses[b].indices.map { Double(logp[local(b, $0)]) }
            return CompletionTerms(logp: current, oldLogp: batch.oldLogp?[b] ?? current, refLogp: batch.refLogp?[b],
                                   advantage: batch.advantages[b], inLoss: batch.inLoss[b])
        }
        for b in rows where batch.inLoss[b] {
            for j in rollout.responses[b].indices { entropy.sum += Double(entropies![local(b, j)]); entropy.count += 1 }
        }
        let part = Objective.loss(terms, shape: shape, settings: settings)
        guard backward else { return part }
        var dlogp = [Float](repeating: 0, count: tokens.count)
        for (k, b) in rows.enumerated() {
            for j in rollout.responses[b].indices { dlogp[local(b, j)] = Float(part.dlogp[k][j]) }
        }
        model.backward(dlogp: dlogp)
        return part
    }

    /// reward_mean/std (over scorable completions), per grader, and the unscorable fraction.
    func rewardMetrics(_ batch: GroupBatch) -> Metrics {
        var metrics = Metrics()
        metrics["reward_mean"] = nanMean(batch.rewards)
        metrics["reward_std"] = nanStd(batch.rewards)
        for (grader, rewards) in zip(graders.graders, batch.graded) {
            let flat = Array(rewards.joined())
            metrics["reward_\(grader.name)_mean"] = nanMean(flat)
            metrics["reward_\(grader.name)_std"] = nanStd(flat)
        }
        let unscorable = batch.rewards.filter { $0 == nil }.count
        if unscorable > 0 { metrics["unscorable_fraction"] = Double(unscorable) / Double(batch.rows) }
        return metrics
    }

    // MARK: - Evaluation

    /// On the held-out prompts: pass@1 greedy (one completion at temperature 0), and pass@1 sampled and
    /// mean reward over `eval_samples` completions at the training temperature, the generator seeded the
    /// same way every time. A completion passes when the first grader gives it at least `pass_threshold`.
    public func evaluate() throws -> Metrics {
        guard let evalPrompts, evalPrompts.count > 0 else { return Metrics() }
        let rows = evalPrompts.records
        func evaluation(_ sampling: SamplingSettings, samples: Int) -> SampleEvaluation {
            SampleEvaluation(batch: spec.batch, maxNewTokens: settings.maxCompletionLength, sampling: sampling, samples: samples, seed: evalSeed)
        }
        do {
            let greedy = try evaluation(SamplingSettings(temperature: 0), samples: 1).run(model: model, prompts: rows, graders: graders, log: log)
            let sampled = try evaluation(settings.sampling, samples: settings.evalSamples).run(model: model, prompts: rows, graders: graders,
                                                                                              log: log)
            var metrics = Metrics([("eval_pass_at_1_greedy", greedy.passRate(threshold: settings.passThreshold)),
                                   ("eval_pass_at_1_sampled", sampled.passRate(threshold: settings.passThreshold)),
                                   ("eval_reward_mean", nanMean(sampled.rewards)), ("eval_reward_greedy_mean", nanMean(greedy.rewards))])
            for (grader, rewards) in zip(graders.graders, sampled.graded) { metrics["eval_reward_\(grader.name)_mean"] = nanMean(rewards) }
            metrics["eval_completion_length"] = sampled.lengths.reduce(0, +) / Double(max(1, sampled.lengths.count))
            metrics["eval_truncated_fraction"] = Double(sampled.truncated.filter { $0 }.count) / Double(max(1, sampled.truncated.count))
            metrics["eval_prompts"] = Double(rows.count)
            metrics.samples = greedy.samples
            return metrics
        } catch let error as GraderError {
            throw StageError.graderFailed(stage: spec.name, step: iterations, message: error.description)
        }
    }

    // MARK: - State

    public func checkpoint() -> CheckpointFile {
        var file = CheckpointFile(metadata: stageMetadata(spec, step: iterations, config: model.config))
        policy.save(into: &file.root)
        file.root[group: "rng"].groups["rollout"] = StateGroups.group(of: rolloutRNG)
        file.root[group: "data"].groups["prompts"] = StateGroups.group(of: order)
        file.root.groups["metrics"] = StateGroups.group(of: lastMetrics)
        return file
    }

    public func restore(from file: CheckpointFile) throws {
        try checkOwnership(file, spec: spec)
        let source = "stage \(spec.name)"
        try policy.restore(from: file.root, source: source)
        iterations = file.metadata.step
        rolloutRNG = try StateGroups.loadGenerator(file.root.groups["rng"]?.groups["rollout"], source: source)
        order = try StateGroups.loadOrder(file.root.groups["data"]?.groups["prompts"], datasetCount: prompts.count, source: source)
        lastMetrics = StateGroups.metrics(file.root.groups["metrics"])
    }
}

/// One iteration's completions and what was measured on them, per completion (N = B·G rows).
struct GroupBatch {
    let rollout: Rollout
    /// [graders][prompts][G]
    let graded: [[[Double?]]]
    /// [N] the weighted sum over the graders that answered; nil: unscorable.
    let rewards: [Double?]
    /// [N] false: left out of the loss (truncated, with mask_truncated_completions).
    let inLoss: [Bool]
    var oldLogp: [[Double]]?
    var refLogp: [[Double]]?
    var advantages: [Double] = []
    var zeroStd: [Bool] = []
    /// Σ and count of per-token k1 = logπ_old − logπ_ref over tokens in the loss (when both are known).
    var tokenKL: (sum: Double, count: Int) = (0, 0)

    init(rollout: Rollout, graded: [[[Double?]]], rewards: [Double?], inLoss: [Bool]) {
        self.rollout = rollout
        self.graded = graded
        self.rewards = rewards
        self.inLoss = inLoss
    }

    var rows: Int { rollout.rows }
    /// Tokens in the loss over the batch (DAPO's normaliser).
    var lossTokens: Int { zip(rollout.responses, inLoss).reduce(0) { $0 + ($1.1 ? $1.0.count : 0) } }
}
