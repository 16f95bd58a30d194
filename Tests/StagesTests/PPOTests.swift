// PPO: the arithmetic against hand-computed values, the stage's gradients against finite
// differences on a tiny model, and bit-exact resume of the stage.

import Checkpoint
import Foundation
import Kernels
@testable import Stages
import Testing
import Transformer

@Suite struct PPOMathTests {
    @Test func generalizedAdvantagesMatchAPlainLoop() {
        // γ = 0.9, λ = 0.8, by hand: δ = r + γV' − V with V after the end = 0.
        let rewards = [1.0, 0.0, 2.0], values = [0.5, 1.0, -1.0]
        let deltas = [1 + 0.9 * 1.0 - 0.5, 0 + 0.9 * -1.0 - 1.0, 2 + 0 - -1.0]      // 1.4, −1.9, 3.0
        let a2 = deltas[2], a1 = deltas[1] + 0.72 * a2, a0 = deltas[0] + 0.72 * a1
        let (advantages, returns) = generalizedAdvantages(rewards: rewards, values: values, gamma: 0.9, lambda: 0.8)
        for (got, want) in zip(advantages, [a0, a1, a2]) { #expect(abs(got - want) < 1e-12) }
        for (got, want) in zip(returns, [a0 + 0.5, a1 + 1.0, a2 - 1.0]) { #expect(abs(got - want) < 1e-12) }
        // γ = λ = 1: the advantage is the sum of future rewards minus the current value.
        let mc = generalizedAdvantages(rewards: rewards, values: values, gamma: 1, lambda: 1).advantages
        #expect(abs(mc[0] - (3.0 - 0.5)) < 1e-12 && abs(mc[2] - (2.0 + 1.0)) < 1e-12)
    }

    @Test func whiteningCentresAndScales() {
        let w = whitened([1, 2, 3, 4])
        #expect(abs(w.reduce(0, +)) < 1e-12)
        #expect(abs(w[3] - 1.5 / 1.25.squareRoot()) < 1e-6)
    }

    @Test func klEstimators() {
        #expect(KLEstimate.perToken(logp: -1.0, refLogp: -1.5, estimator: .k1) == 0.5)
        // k3 = (e^{−0.5} − 1) + 0.5 ≈ 0.10653, always ≥ 0.
        #expect(abs(KLEstimate.perToken(logp: -1.0, refLogp: -1.5, estimator: .k3) - 0.1065306597) < 1e-9)
        #expect(KLEstimate.perToken(logp: -2.0, refLogp: -1.0, estimator: .k3) > 0)
    }

    @Test func clippedPolicyLossByHand() {
        // ρ = e^{0.5} ≈ 1.6487 > 1.2 with A = 1: clipped at 1.2, no gradient.
        var t = clippedPolicyLoss(newLogp: -0.5, oldLogp: -1.0, advantage: 1, clip: 0.2)
        #expect(abs(t.loss + 1.2) < 1e-12 && t.gradient == 0 && t.clipped)
        // Same ratio with A = −1: the unclipped term −A·ρ = ρ is larger and keeps its gradient.
        t = clippedPolicyLoss(newLogp: -0.5, oldLogp: -1.0, advantage: -1, clip: 0.2)
        #expect(abs(t.loss - exp(0.5)) < 1e-12 && abs(t.gradient - exp(0.5)) < 1e-12 && !t.clipped)
        // Inside the band: plain −A·ρ.
        t = clippedPolicyLoss(newLogp: -1.0, oldLogp: -1.0, advantage: 2, clip: 0.2)
        #expect(t.loss == -2 && t.gradient == -2 && !t.clipped)
    }

    @Test func clippedValueLossByHand() {
        // V_old = 0, clip 0.2, target 1: V_new = 0.5 → clipped 0.2 has the larger error (0.64 > 0.25).
        var t = clippedValueLoss(newValue: 0.5, oldValue: 0, target: 1, clip: 0.2)
        #expect(abs(t.loss - 0.32) < 1e-12 && t.gradient == 0 && t.clipped)
        t = clippedValueLoss(newValue: 0.1, oldValue: 0, target: 1, clip: 0.2)
        #expect(abs(t.loss - 0.405) < 1e-12 && abs(t.gradient + 0.9) < 1e-12 && !t.clipped)
    }

    @Test func adaptiveControllerMovesTowardTheTarget() {
        var c = AdaptiveKLController(initial: 0.1, target: 6, horizon: 10_000)
        c.update(currentKL: 12, sequences: 100)           // error clipped to +0.2 → ×1.002
        #expect(abs(c.value - 0.1 * 1.002) < 1e-15)
        c.update(currentKL: 3, sequences: 100)            // error −0.2 → ×0.998
        #expect(abs(c.value - 0.1 * 1.002 * 0.998) < 1e-15)
        c.update(currentKL: 6.6, sequences: 10_000)       // error 0.1 over a full horizon → ×1.1
        #expect(abs(c.value - 0.1 * 1.002 * 0.998 * 1.1) < 1e-12)
    }
}

let ppoModel = ModelConfig(context: 96, layers: 1, heads: 2, embedding: 16)

/// A PPO stage on the demo prompts, from briefly trained SFT and reward stages.
func makePPOStage(steps: Int, seed: UInt64 = 5, model ppoModel: ModelConfig = ppoModel) throws -> PPOStage {
    let sft = try makeStage(sftSpec(steps: 4), context: StageContext(jobSeed: seed, model: ppoModel))
    for _ in 0..<4 { _ = try sft.step() }
    let rmContext = StageContext(jobSeed: seed, model: ppoModel, checkpoints: [.initial: sft.checkpoint()])
    let rm = try makeStage(rewardSpec(steps: 3), context: rmContext)
    for _ in 0..<3 { _ = try rm.step() }
    var spec = StageSpec(name: "ppo", kind: .ppo,
                         data: DataSpec(prompts: demoFolder + "/prompts.jsonl", evalPrompts: demoFolder + "/prompts_eval.jsonl"),
                         steps: steps)
    spec.batch = 4
    var ppo = PPOSettings()
    ppo.responseLength = 12
    ppo.epochs = 2
    ppo.minibatches = 2
    ppo.targetKL = 1
    var lexicon = GraderSpec(.sentiment)
    lexicon.name = "lexicon"
    ppo.evalGraders = [lexicon]
    spec[section: PPOSettings.self] = ppo
    spec.optimizer.lr = 1e-3
    let context = StageContext(jobSeed: seed, model: ppoModel,
                               checkpoints: [.policy: sft.checkpoint(), .reward: rm.checkpoint()])
    return try makeStage(spec, context: context) as! PPOStage
}

@Suite(.serialized) struct PPOStageTests {
    /// ∂(policy objective)/∂θ and ∂(value objective)/∂φ by backward against central differences
    /// of the same objectives (Float forward, so h is large and the tolerance loose).
    @Test func objectiveGradientsMatchFiniteDifferences() throws {
        let stage = try makePPOStage(steps: 1)
        var rollout = stage.generate(stage.prompts.batch([0, 1, 2, 3], maxLength: 40), rng: &stage.rolloutRNG)
        stage.score(&rollout)
        _ = stage.assignRewards(&rollout, beta: 0.05)
        // Move the policy and critic away from the rollout's so ratios and values differ from 1 and V_old.
        for i in stride(from: 0, to: stage.model.parameterCount, by: 7) { stage.model.parameters.base[i] *= 1.05 }
        let rows = [2, 0, 3]
        var stats = UpdateStatistics()
        let tensors = ["h.0.mlp.c_fc.weight", "h.0.attn.c_attn.bias", "ln_f.weight", "wte"]
        checkGradients(of: stage.model, tensors: tensors) { stage.policyObjective(rollout, rows: rows, statistics: &stats, backward: $0) }
        checkGradients(of: stage.critic.model, tensors: tensors + ["score.weight"]) {
            stage.settings.vfCoef * stage.valueObjective(rollout, rows: rows, statistics: &stats, backward: $0)
        }
    }

    /// GPT-2 and a Llama-family model (grouped kv heads, q/k/v bias, untied head).
    @Test(arguments: [ppoModel, llamaModel])
    func resumesBitExactly(model: ModelConfig) throws {
        func finalWeights(split: Int?) throws -> [Float] {
            var stage = try makePPOStage(steps: 3, model: model)
            for _ in 0..<(split ?? 3) { _ = try stage.step() }
            if let split {
                let url = FileManager.default.temporaryDirectory.appendingPathComponent("ppo-resume-\(model.architecture)-\(getpid()).h5")
                try stage.checkpoint().write(to: url, durability: .pageCache)
                stage = try makePPOStage(steps: 3, model: model)
                try stage.restore(from: try CheckpointFile.read(from: url))
                for _ in split..<3 { _ = try Parallel.$threads.withValue(2) { try stage.step() } }
            }
            return Array(stage.model.parameters.buffer) + Array(stage.critic.model.parameters.buffer) + [Float(stage.klController.value)]
        }
        let straight = try Parallel.$threads.withValue(1) { try finalWeights(split: nil) }
        #expect(try Parallel.$threads.withValue(1) { try finalWeights(split: 1) } == straight)
    }

    @Test func iterationReportsItsMetrics() throws {
        let stage = try makePPOStage(steps: 1)
        let metrics = try stage.step()
        for name in ["score_mean", "kl", "entropy", "clip_fraction", "value_loss", "approx_kl", "response_length",
                     "rollout_tokens_per_s", "update_tokens_per_s"] {
            #expect(metrics[name]?.isFinite == true, "metric \(name)")
        }
        #expect(abs(metrics["kl"]!) < 1e-3)               // first iteration: policy = reference
        let eval = try stage.evaluate()
        #expect(eval["eval_prompts"] == 128 && eval["eval_lexicon_mean"] != nil)
    }
}
