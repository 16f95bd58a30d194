// GRPO and RLOO: advantages, each loss type's normalisation, the asymmetric clip, k3 and the
// leave-one-out baseline against values computed by hand; the policy gradient against finite
// differences on a tiny model; exact resume.

import Checkpoint
import Foundation
import Kernels
@testable import Stages
import Testing
import Transformer

private func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-12) -> Bool { abs(a - b) <= tolerance * max(1, abs(b)) }

@Suite struct GroupMathTests {
    /// Two groups of four: one with rewards 1, 0, 0, 1 (mean 0.5, Bessel std √(1/3)), one all 1 (std 0).
    @Test func groupAdvantagesByHand() {
        let rewards: [Double?] = [1, 0, 0, 1, 1, 1, 1, 1]
        let std = (1.0 / 3).squareRoot()
        let group = groupAdvantages(rewards, groupSize: 4, scale: .group)
        #expect(zip(group.advantages, [0.5, -0.5, -0.5, 0.5].map { $0 / (std + 1e-4) } + [0, 0, 0, 0]).allSatisfy { close($0, $1) })
        #expect(group.zeroStd == [false, false, false, false, true, true, true, true])
        // Batch std: mean 0.75, Σ(r − 0.75)² = 6·0.0625 + 2·0.5625 = 1.5, over n − 1 = 7.
        let batchStd = (1.5 / 7).squareRoot()
        let batch = groupAdvantages(rewards, groupSize: 4, scale: .batch)
        #expect(zip(batch.advantages, [0.5, -0.5, -0.5, 0.5].map { $0 / (batchStd + 1e-4) } + [0, 0, 0, 0]).allSatisfy { close($0, $1) })
        #expect(batch.zeroStd == Array(repeating: false, count: 8))
        let none = groupAdvantages(rewards, groupSize: 4, scale: .none)
        #expect(none.advantages == [0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0])
        #expect(none.zeroStd == group.zeroStd)
    }

    /// An unscorable completion takes no part in its group's mean and std, and gets advantage 0.
    @Test func unscorableCompletionsAreLeftOut() {
        let result = groupAdvantages([1, nil, 0, 0], groupSize: 4, scale: .group)
        let mean = 1.0 / 3, std = ((4.0 / 9 + 1.0 / 9 + 1.0 / 9) / 2).squareRoot()
        #expect(close(result.advantages[0], (1 - mean) / (std + 1e-4)))
        #expect(result.advantages[1] == 0)
        #expect(close(result.advantages[2], (0 - mean) / (std + 1e-4)))
        // A group nobody could score: every advantage 0 (TRL: NaN → 0).
        #expect(groupAdvantages([nil, nil], groupSize: 2, scale: .group).advantages == [0, 0])
    }

    @Test func leaveOneOutBaselineByHand() {
        // Scorable 1, 0, 0.5 (sum 1.5, n = 3): A_i = r_i − (1.5 − r_i)/2.
        let result = leaveOneOutAdvantages([1, 0, 0.5, nil], groupSize: 4, normalize: false)
        #expect(result.advantages == [0.75, -0.75, 0, 0])
        // RLOO puts β·KL into the reward first: 1 − 0.1·2 = 0.8, 0, 0.5 − 0.1·1 = 0.4.
        var settings = RLOOSettings()
        settings.numGenerations = 4
        settings.beta = 0.1
        let penalised = RLOO.advantages(rewards: [1, 0, 0.5, nil], sequenceKL: [2, 0, 1, 5], settings: settings)
        #expect(zip(penalised.advantages, [0.8 - 0.2, 0 - 0.6, 0.4 - 0.4, 0]).allSatisfy { close($0, $1) })
        // Whitened over the batch (scorable ones): mean 0, Bessel std 0.75.
        let whitened = leaveOneOutAdvantages([1, 0, 0.5, nil], groupSize: 4, normalize: true)
        #expect(zip(whitened.advantages, [0.75 / 0.7501, -0.75 / 0.7501, 0, 0]).allSatisfy { close($0, $1) })
        // A group with one scorable completion has no baseline.
        #expect(leaveOneOutAdvantages([1, nil], groupSize: 2, normalize: false).advantages == [0, 0])
    }

    @Test func clipWithEpsilonHigh() {
        // A > 0, ρ = 1.3: clipped at 1 + ε_high = 1.28 (no gradient), or inside when ε_high = 0.35.
        let high = clippedSurrogate(logRatio: log(1.3), advantage: 1, epsilonLow: 0.2, epsilonHigh: 0.28)
        #expect(close(high.loss, -1.28) && high.gradient == 0 && high.highClipped && !high.lowClipped)
        let inside = clippedSurrogate(logRatio: log(1.3), advantage: 1, epsilonLow: 0.2, epsilonHigh: 0.35)
        #expect(close(inside.loss, -1.3) && close(inside.gradient, -1.3) && !inside.highClipped)
        // A < 0, ρ = 0.7: clipped at 1 − ε_low = 0.8.
        let low = clippedSurrogate(logRatio: log(0.7), advantage: -1, epsilonLow: 0.2, epsilonHigh: 0.28)
        #expect(close(low.loss, 0.8) && low.gradient == 0 && low.lowClipped)
        // A < 0, ρ = 1.3: the unclipped term is the larger loss, so it stays, with its gradient.
        let pessimistic = clippedSurrogate(logRatio: log(1.3), advantage: -1, epsilonLow: 0.2, epsilonHigh: 0.28)
        #expect(close(pessimistic.loss, 1.3) && close(pessimistic.gradient, 1.3) && !pessimistic.highClipped)
    }

    @Test func k3ByHand() {
        // d = logπ_ref − logπ = −0.5: k3 = e^−0.5 + 0.5 − 1, ∂k3/∂logπ = 1 − e^−0.5.
        let kl = k3(logp: -1, refLogp: -1.5)
        #expect(close(kl.value, exp(-0.5) - 0.5) && close(kl.gradient, 1 - exp(-0.5)))
        #expect(k3(logp: -2, refLogp: -2).value == 0)
    }

    /// Two completions of 2 and 3 tokens at ratio 1 with advantages 1 and −2 (per-token loss −A), one
    /// of K = 2 micro-batches, 10 tokens in the whole step, max_completion_length 4.
    @Test func lossTypesNormaliseAsTRL() {
        let terms = [CompletionTerms(logp: [-1, -2], oldLogp: [-1, -2], advantage: 1),
                     CompletionTerms(logp: [-1, -1, -3], oldLogp: [-1, -1, -3], advantage: -2)]
        let shape = BatchShape(microBatches: 2, batchTokens: 10, maxCompletionLength: 4)
        func loss(_ type: GRPOSettings.LossType) -> MicroBatchLoss {
            grpoLoss(terms, type: type, epsilonLow: 0.2, epsilonHigh: 0.2, beta: 0, shape: shape)
        }
        let sum = -1.0 * 2 + 2.0 * 3                                  // Σ_t −A = 4
        #expect(close(loss(.grpo).loss, ((-1.0 * 2 / 2) + (2.0 * 3 / 3)) / 2 / 2))
        #expect(close(loss(.bnpo).loss, sum / 5 / 2))
        #expect(close(loss(.drGRPO).loss, sum / (2 * 4) / 2))
        #expect(close(loss(.dapo).loss, sum / 10))
        let grpoExpected: [[Double]] = [[-0.125, -0.125], [2.0 / 12, 2.0 / 12, 2.0 / 12]]
        let dapoExpected: [[Double]] = [[-0.1, -0.1], [0.2, 0.2, 0.2]]
        #expect(loss(.grpo).dlogp == grpoExpected)
        #expect(loss(.dapo).dlogp == dapoExpected)
        // A completion masked out of the loss adds nothing, but still counts as a row for grpo and dr_grpo.
        var masked = terms
        masked[1].inLoss = false
        let m = grpoLoss(masked, type: .grpo, epsilonLow: 0.2, epsilonHigh: 0.2, beta: 0, shape: shape)
        #expect(close(m.loss, -1.0 / 2 / 2) && m.dlogp[1] == [0, 0, 0])
        let b = grpoLoss(masked, type: .bnpo, epsilonLow: 0.2, epsilonHigh: 0.2, beta: 0, shape: shape)
        #expect(close(b.loss, -2.0 / 2 / 2))
    }

    @Test func klEntersTheLossPerToken() {
        let term = CompletionTerms(logp: [-1], oldLogp: [-1], refLogp: [-1.5], advantage: 0)
        let shape = BatchShape(microBatches: 1, batchTokens: 1, maxCompletionLength: 4)
        let result = grpoLoss([term], type: .dapo, epsilonLow: 0.2, epsilonHigh: 0.2, beta: 0.04, shape: shape)
        #expect(close(result.loss, 0.04 * (exp(-0.5) - 0.5)) && close(result.dlogp[0][0], 0.04 * (1 - exp(-0.5))))
        #expect(result.statistics.klTokens == 1 && close(result.statistics.klSum, exp(-0.5) - 0.5))
    }

    /// RLOO's loss is on sequence log-probs: ρ = e^{Σ logπ − Σ logπ_old}, mean over completions.
    @Test func rlooLossOnSequences() {
        let terms = [CompletionTerms(logp: [-1, -1], oldLogp: [-1.1, -1.1], advantage: 1),
                     CompletionTerms(logp: [-2], oldLogp: [-2], advantage: -1)]
        let shape = BatchShape(microBatches: 1, batchTokens: 3, maxCompletionLength: 4)
        let result = rlooLoss(terms, epsilonLow: 0.2, epsilonHigh: 0.2, shape: shape)
        let rho = exp(0.2)                                            // 1.2214 > 1.2: clipped, A > 0
        #expect(rho > 1.2 && close(result.loss, (-1.2 + 1) / 2) && result.dlogp[0] == [0, 0] && result.statistics.highClipped == 1)
        #expect(result.dlogp[1] == [0.5])                             // −(−1)·1 / 2
    }
}

let groupModel = ModelConfig(context: 32, layers: 1, heads: 2, embedding: 16)

/// The arithmetic demo's files, written once per test process.
let arithmeticFolder: String = {
    let folder = TestFiles.folder()
    try! DemoTask.write(to: folder)
    return folder
}()

/// A GRPO or RLOO stage on the arithmetic prompts from a briefly trained SFT model.
func makeGroupStage<Objective: GroupObjective>(_ objective: Objective.Type, steps: Int, seed: UInt64 = 3,
                                               configure: (inout Objective.Settings) -> Void = { _ in }) throws -> GroupPolicyStage<Objective> {
    var sftSpec = StageSpec(name: "sft", kind: .sft, data: DataSpec(train: arithmeticFolder + "/arith_sft.jsonl"), steps: 3)
    sftSpec.batch = 8
    sftSpec.optimizer.lr = 3e-3
    let sft = try makeStage(sftSpec, context: StageContext(jobSeed: seed, model: groupModel))
    for _ in 0..<3 { _ = try sft.step() }
    var spec = StageSpec(name: "rl", kind: Objective.kind,
                         data: DataSpec(prompts: arithmeticFolder + "/arith_prompts.jsonl",
                                        evalPrompts: arithmeticFolder + "/arith_prompts_eval.jsonl"), steps: steps)
    spec.batch = 4
    spec.microBatch = 2
    spec.optimizer.lr = 1e-3
    var settings = Objective.Settings()
    settings.numGenerations = 4
    settings.maxCompletionLength = 5
    settings.graders = [GraderSpec(.exact), GraderSpec(.length)]
    settings.graders[1].cache = 3
    settings.graders[1].weight = 0.5
    configure(&settings)
    spec[section: Objective.Settings.self] = settings
    return try makeStage(spec, context: StageContext(jobSeed: seed, model: groupModel, checkpoints: [.policy: sft.checkpoint()]))
        as! GroupPolicyStage<Objective>
}

@Suite(.serialized) struct GroupStageTests {
    /// ∂(micro-batch loss)/∂θ by backward against central differences, after moving the policy away from
    /// the sampling policy so ratios differ from 1, with β > 0 (GRPO) for the KL term. The clip bounds
    /// are wide: a ratio next to a bound would put a kink between x − h and x + h (the clipped branch's
    /// zero gradient is checked by hand in GroupMathTests).
    func checkObjectiveGradient<Objective: GroupObjective>(_ objective: Objective.Type, step: Float = 2e-3,
                                                           configure: (inout Objective.Settings) -> Void) throws {
        let stage = try makeGroupStage(objective, steps: 1, configure: configure)
        var batch = try stage.rollout([0, 1, 2, 3], rng: &stage.rolloutRNG)
        stage.score(&batch)
        // Advantages of a fresh model are mostly 0 (every answer wrong): give each completion its own.
        batch.advantages = (0..<batch.rows).map { Double($0 % 5) - 2 }
        for i in stride(from: 0, to: stage.model.parameterCount, by: 5) { stage.model.parameters.base[i] *= 1.01 }
        let shape = BatchShape(microBatches: 2, batchTokens: batch.lossTokens, maxCompletionLength: 5)
        var entropy = (sum: 0.0, count: 0)
        checkGradients(of: stage.model, tensors: ["h.0.mlp.c_fc.weight", "h.0.attn.c_attn.bias", "ln_f.weight", "wte"], step: step) {
            stage.objective(batch, rows: Array(4..<12), shape: shape, entropy: &entropy, backward: $0).loss
        }
    }

    @Test func grpoGradientMatchesFiniteDifferences() throws {
        for loss in GRPOSettings.LossType.allCases {
            try checkObjectiveGradient(GRPO.self) {
                $0.lossType = loss
                $0.beta = 0.1
                $0.numIterations = 2
                $0.epsilon = 0.6
                $0.epsilonHigh = 0.9
            }
        }
    }

    @Test func rlooGradientMatchesFiniteDifferences() throws {
        // Sequence log-probs sum Float token log-probs: a larger step keeps rounding out of the differences.
        try checkObjectiveGradient(RLOO.self, step: 8e-3) {
            $0.beta = 0.05
            $0.epsilon = 0.99
            $0.epsilonHigh = 100
        }
    }

    @Test func iterationReportsItsMetrics() throws {
        // A format reward a fresh model earns now and then, so groups differ.
        let stage = try makeGroupStage(GRPO.self, steps: 2) {
            $0.beta = 0.05
            $0.graders.append(GraderSpec(.regex))
            $0.graders[2].pattern = "^[0-9]"
        }
        let metrics = try stage.step()
        for name in ["reward_mean", "reward_std", "reward_exact_mean", "reward_length_mean", "reward_regex_mean", "frac_reward_zero_std", "clip_ratio_low",
                     "clip_ratio_high", "kl", "entropy", "completion_length", "truncated_fraction", "loss", "grad_norm"] {
            #expect(metrics[name]?.isFinite == true, "metric \(name): \(String(describing: metrics[name]))")
        }
        #expect(metrics["grad_norm"]! > 0)
        #expect(abs(metrics["kl"]!) < 1e-6)                 // the first step's policy is the reference
        let eval = try stage.evaluate()
        for name in ["eval_pass_at_1_greedy", "eval_pass_at_1_sampled", "eval_reward_mean", "eval_completion_length"] {
            #expect(eval[name]?.isFinite == true, "metric \(name)")
        }
        #expect(eval["eval_prompts"] == 256)
    }

    /// mask_truncated_completions leaves completions that hit the limit without EOS out of the loss (no
    /// gradient, no entropy); num_iterations > 1 keeps the sampling policy's log-probs for the ratio;
    /// beta 0 loads no reference.
    @Test func maskedTruncationReuseAndNoReference() throws {
        let stage = try makeGroupStage(GRPO.self, steps: 1) {
            $0.maxCompletionLength = 2                      // "85" + EOS needs 3 tokens: most completions are cut
            $0.maskTruncatedCompletions = true
            $0.numIterations = 2
            $0.beta = 0
        }
        #expect(stage.reference == nil)
        var batch = try stage.rollout([0, 1, 2, 3], rng: &stage.rolloutRNG)
        stage.score(&batch)
        #expect(batch.inLoss == batch.rollout.stopped)
        #expect(batch.inLoss.contains(false))
        #expect(batch.oldLogp != nil && batch.refLogp == nil)
        batch.advantages = (0..<batch.rows).map { Double($0 % 3) - 1 }
        let shape = BatchShape(microBatches: 1, batchTokens: batch.lossTokens, maxCompletionLength: 2)
        var entropy = (sum: 0.0, count: 0)
        let rows = Array(0..<batch.rows)
        let part = stage.objective(batch, rows: rows, shape: shape, entropy: &entropy, backward: false)
        for b in rows where !batch.inLoss[b] { #expect(part.dlogp[b].allSatisfy { $0 == 0 }) }
        for b in rows where batch.inLoss[b] && batch.advantages[b] != 0 { #expect(part.dlogp[b].contains { $0 != 0 }) }
        #expect(entropy.count == rows.filter { batch.inLoss[$0] }.reduce(0) { $0 + batch.rollout.responses[$1].count })
    }

    /// RLOO through the same stage: its KL (k1 of the sampling policy to the reference, a reward
    /// penalty) is 0 while the policy is the reference and positive once it has moved.
    @Test func rlooIterationReportsItsMetrics() throws {
        let stage = try makeGroupStage(RLOO.self, steps: 3) { $0.beta = 0.05 }
        let first = try stage.step()
        for name in ["reward_mean", "reward_exact_mean", "reward_length_mean", "frac_reward_zero_std", "clip_ratio_low", "clip_ratio_high",
                     "kl", "entropy", "completion_length", "truncated_fraction", "loss", "grad_norm"] {
            #expect(first[name]?.isFinite == true, "metric \(name): \(String(describing: first[name]))")
        }
        #expect(first["kl"] == 0)
        _ = try stage.step()
        let third = try stage.step()
        #expect(third["kl"]! != 0, "the policy moved, so its log-probs differ from the reference's")
    }
}

/// The demo, shortened: SFT on a few demonstrations of a smaller version of the arithmetic task, then
/// GRPO with the `exact` grader raises held-out sampled pass@1 (the full demo: Jobs/demo-grpo.yaml).
@Suite(.serialized) struct GRPODemoTests {
    @Test func grpoRaisesHeldOutPassAtOne() throws {
        let folder = TestFiles.folder()
        for file in ArithmeticTask.generate(seed: 1234, largest: 49, demonstrations: 1500, trainingPrompts: 2000, heldOut: 64) {
            try Data(file.contents).write(to: URL(fileURLWithPath: folder + "/" + file.name))
        }
        let model = ModelConfig(context: 16, layers: 2, heads: 4, embedding: 128)
        var sftSpec = StageSpec(name: "sft", kind: .sft, data: DataSpec(train: folder + "/arith_sft.jsonl"), steps: 400)
        sftSpec.optimizer.lr = 2e-3
        sftSpec.optimizer.warmup = 30
        let sft = try makeStage(sftSpec, context: StageContext(jobSeed: 1234, model: model))
        for _ in 0..<sftSpec.steps { _ = try sft.step() }

        var spec = StageSpec(name: "grpo", kind: .grpo, data: DataSpec(prompts: folder + "/arith_prompts.jsonl",
                                                                         evalPrompts: folder + "/arith_prompts_eval.jsonl"), steps: 150)
        spec.batch = 32
        spec.optimizer.lr = 6e-4
        spec.optimizer.warmup = 10
        spec.optimizer.schedule = .constant
        spec.optimizer.weightDecay = 0
        var settings = GRPOSettings()
        settings.maxCompletionLength = 5
        settings.graders = [GraderSpec(.exact)]
        spec[section: GRPOSettings.self] = settings
        let stage = try makeStage(spec, context: StageContext(jobSeed: 1234, model: model, checkpoints: [.policy: sft.checkpoint()]))
        let before = try stage.evaluate()
        var rewards: [Double] = []
        for _ in 0..<spec.steps { rewards.append(try stage.step()["reward_mean"]!) }
        let after = try stage.evaluate()
        let gain = after["eval_pass_at_1_sampled"]! - before["eval_pass_at_1_sampled"]!
        #expect(gain >= 0.1, "held-out sampled pass@1 \(before["eval_pass_at_1_sampled"]!) → \(after["eval_pass_at_1_sampled"]!)")
        let first = rewards.prefix(30).reduce(0, +) / 30, last = rewards.suffix(30).reduce(0, +) / 30
        #expect(last > first + 0.1, "training reward \(first) → \(last)")
    }
}
