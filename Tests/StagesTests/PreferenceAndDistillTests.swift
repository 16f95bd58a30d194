// DPO and distillation: losses against hand-computed values, stage gradients against finite
// differences, learning on the demo task, and bit-exact resume.

import Checkpoint
import Foundation
import Kernels
@testable import Stages
import Testing
import Transformer

@Suite struct DPOLossTests {
    func settings(_ loss: DPOSettings.Loss, beta: Double, smoothing: Double = 0) -> DPOSettings {
        var s = DPOSettings()
        s.loss = loss; s.beta = beta; s.labelSmoothing = smoothing
        return s
    }

    @Test func valuesByHand() {
        // sigmoid, β = 0.1, h = 1: log(1 + e^{−0.1}) = 0.644396, d/dh = −0.1·σ(−0.1) = −0.0475021
        var t = DPOLoss.pair(h: 1, settings: settings(.sigmoid, beta: 0.1))
        #expect(abs(t.loss - 0.6443966600) < 1e-9 && abs(t.dh + 0.0475020813) < 1e-9)
        // cDPO ε = 0.2: 0.8·softplus(−0.1) + 0.2·softplus(0.1)
        t = DPOLoss.pair(h: 1, settings: settings(.sigmoid, beta: 0.1, smoothing: 0.2))
        #expect(abs(t.loss - (0.8 * 0.6443966600 + 0.2 * 0.7443966600)) < 1e-9)
        // hinge: max(0, 1 − 0.1·5) = 0.5, slope −β; beyond the margin nothing
        t = DPOLoss.pair(h: 5, settings: settings(.hinge, beta: 0.1))
        #expect(t.loss == 0.5 && t.dh == -0.1)
        #expect(DPOLoss.pair(h: 20, settings: settings(.hinge, beta: 0.1)) == (0, 0))
        // ipo, β = 0.25: (3 − 2)² = 1, slope 2·(3 − 2)
        t = DPOLoss.pair(h: 3, settings: settings(.ipo, beta: 0.25))
        #expect(t.loss == 1 && t.dh == 2)
    }

    @Test(arguments: [DPOSettings.Loss.sigmoid, .ipo, .hinge])
    func derivativeMatchesFiniteDifferences(loss: DPOSettings.Loss) {
        let s = settings(loss, beta: 0.3, smoothing: loss == .sigmoid ? 0.1 : 0)
        for h in [-2.0, -0.3, 0.7, 2.5] {
            let numeric = (DPOLoss.pair(h: h + 1e-6, settings: s).loss - DPOLoss.pair(h: h - 1e-6, settings: s).loss) / 2e-6
            #expect(abs(DPOLoss.pair(h: h, settings: s).dh - numeric) < 1e-6)
        }
    }
}

func dpoSpec(steps: Int, loss: DPOSettings.Loss = .sigmoid) -> StageSpec {
    var spec = StageSpec(name: "dpo", kind: .dpo,
                         data: DataSpec(train: demoFolder + "/prefs_small.jsonl", eval: demoFolder + "/prefs_eval.jsonl"), steps: steps)
    spec.batch = 8
    spec.optimizer.lr = 1e-3
    var dpo = DPOSettings()
    dpo.loss = loss
    dpo.beta = 0.5
    spec[section: DPOSettings.self] = dpo
    return spec
}

func distillSpec(steps: Int, loss: DistillSettings.Loss = .forwardKL) -> StageSpec {
    var spec = StageSpec(name: "distill", kind: .distill,
                         data: DataSpec(train: demoFolder + "/sft.jsonl", eval: demoFolder + "/sft_eval.jsonl"), steps: steps)
    spec.batch = 8
    spec.optimizer.lr = 3e-3
    spec.model = ModelConfig(context: 96, layers: 1, heads: 2, embedding: 16)
    var distill = DistillSettings()
    distill.loss = loss
    distill.alpha = 0.8
    spec[section: DistillSettings.self] = distill
    return spec
}

/// An SFT model trained briefly on the demo data (the DPO policy, the distillation teacher).
func trainedSFT(steps: Int, seed: UInt64, model: ModelConfig = smallModel) throws -> CheckpointFile {
    let sft = try makeStage(sftSpec(steps: steps), context: StageContext(jobSeed: seed, model: model))
    for _ in 0..<steps { _ = try sft.step() }
    return sft.checkpoint()
}

@Suite(.serialized) struct DPOAndDistillStageTests {
    @Test(arguments: [DPOSettings.Loss.sigmoid, .ipo])
    func dpoGradientsMatchFiniteDifferences(loss: DPOSettings.Loss) throws {
        let context = StageContext(jobSeed: 8, model: smallModel, checkpoints: [.policy: try trainedSFT(steps: 3, seed: 8)])
        let stage = try makeStage(dpoSpec(steps: 1, loss: loss), context: context) as! DPOStage
        for i in stride(from: 0, to: stage.model.parameterCount, by: 5) { stage.model.parameters.base[i] *= 1.03 }
        var stats = PreferenceStatistics()
        // Sequence log-probs sum ~40 Float log-probs, so the loss carries more rounding noise: a larger step.
        checkGradients(of: stage.model, tensors: ["h.1.mlp.c_proj.weight", "h.0.ln_1.weight", "wpe"], step: 1e-2) { backward in
            stats = PreferenceStatistics()
            stage.objective(pairs: [3, 1, 4], pairsInStep: 3, statistics: &stats, backward: backward)
            return stats.loss
        }
    }

    @Test func dpoLearnsPreferencesAndResumesExactly() throws {
        let context = StageContext(jobSeed: 9, model: smallModel, checkpoints: [.policy: try trainedSFT(steps: 20, seed: 9)])
        let stage = try makeStage(dpoSpec(steps: 40), context: context)
        let before = try stage.evaluate()
        #expect(abs(before["eval_margin"]!) < 1e-6)          // policy = reference at the start
        for _ in 0..<40 { _ = try stage.step() }
        let after = try stage.evaluate()
        #expect(after["eval_reward_accuracy"]! > 0.75 && after["eval_margin"]! > 0, "\(after)")

        let straight = try trainedWeights(dpoSpec(steps: 4), context: context)
        #expect(try trainedWeights(dpoSpec(steps: 4), context: context, split: 2, resumeThreads: 2) == straight)
    }

    @Test(arguments: [DistillSettings.Loss.forwardKL, .reverseKL])
    func distillGradientsMatchFiniteDifferences(loss: DistillSettings.Loss) throws {
        let context = StageContext(jobSeed: 10, model: smallModel, checkpoints: [.teacher: try trainedSFT(steps: 3, seed: 10)])
        let stage = try makeStage(distillSpec(steps: 1, loss: loss), context: context) as! DistillStage
        let batch = stage.data.train.batch([5, 9, 2], context: stage.model.config.context)
        checkGradients(of: stage.model, tensors: ["h.0.attn.c_proj.weight", "ln_f.bias", "wte"]) { backward in
            stage.distill(batch, normaliser: Float(batch.trainedTokenCount), withGradient: backward).loss
        }
    }

    @Test func distillationApproachesTheTeacherAndResumesExactly() throws {
        let context = StageContext(jobSeed: 11, model: smallModel, checkpoints: [.teacher: try trainedSFT(steps: 30, seed: 11)])
        let stage = try makeStage(distillSpec(steps: 40), context: context)
        let before = try stage.evaluate()
        for _ in 0..<40 { _ = try stage.step() }
        let after = try stage.evaluate()
        #expect(after["eval_kl"]! < before["eval_kl"]! * 0.7, "KL \(before["eval_kl"]!) → \(after["eval_kl"]!)")
        #expect(after["eval_ce"]! < before["eval_ce"]!)

        let straight = try trainedWeights(distillSpec(steps: 4), context: context)
        #expect(try trainedWeights(distillSpec(steps: 4), context: context, split: 1, resumeThreads: 2) == straight)
    }

    @Test func distillRefusesAnotherVocabulary() throws {
        var spec = distillSpec(steps: 1)
        spec.model = ModelConfig(vocab: 100, context: 96, layers: 1, heads: 2, embedding: 16)
        let context = StageContext(jobSeed: 12, model: smallModel, checkpoints: [.teacher: try trainedSFT(steps: 1, seed: 12)])
        #expect(throws: StageError.self) { try makeStage(spec, context: context) }
    }
}
