// Every stage kind on a Llama-family model (grouped kv heads, q/k/v bias, an untied head): each
// builds, steps with finite metrics and writes a checkpoint under Hugging Face Llama names; SFT
// resumes bit-exactly (PPO's resume test runs on this model too, in PPOTests).

import Checkpoint
import Foundation
import Kernels
@testable import Stages
import Testing
import Transformer

/// A small Qwen2-like model on the byte vocabulary.
let llamaModel = ModelConfig(architecture: .llama, vocab: 259, context: 96, layers: 1, heads: 4, embedding: 32, kvHeads: 2,
                             intermediate: 48, qkvBias: true, tiedHead: false)

@Suite(.serialized) struct LlamaStageTests {
    static func expectLlamaCheckpoint(_ file: CheckpointFile, _ kind: String) {
        let names = Set(file.root.groups["model"]?.tensors.keys.map { $0 } ?? [])
        #expect(names.contains("model.embed_tokens.weight") && names.contains("model.layers.0.self_attn.k_proj.weight")
                && names.contains("lm_head.weight"), "\(kind): \(names.sorted().prefix(5))")
        #expect(file.metadata.configJSON.contains(#""architecture":"llama""#), "\(kind)")
    }

    static func expectFinite(_ metrics: Metrics, _ kind: String) {
        #expect(!metrics.entries.isEmpty && metrics.allSatisfy { $0.value.isFinite }, "\(kind): \(metrics)")
    }

    @Test func everyStageKindRuns() throws {
        let sft = try makeStage(sftSpec(steps: 8), context: StageContext(jobSeed: 21, model: llamaModel))
        var losses: [Double] = []
        for _ in 0..<8 {
            let metrics = try sft.step()
            Self.expectFinite(metrics, "sft")
            losses.append(metrics["loss"]!)
        }
        #expect(losses.last! < losses.first!, "sft loss did not fall: \(losses)")
        Self.expectLlamaCheckpoint(sft.checkpoint(), "sft")

        let rm = try makeStage(rewardSpec(steps: 2), context: StageContext(jobSeed: 21, model: llamaModel,
                                                                          checkpoints: [.initial: sft.checkpoint()]))
        for _ in 0..<2 { Self.expectFinite(try rm.step(), "reward") }
        Self.expectLlamaCheckpoint(rm.checkpoint(), "reward")
        #expect(rm.checkpoint().root.groups["model"]?.tensors["score.bias"] == nil)   // HF's bias-less score head

        let dpo = try makeStage(dpoSpec(steps: 2), context: StageContext(jobSeed: 21, model: llamaModel,
                                                                        checkpoints: [.policy: sft.checkpoint()]))
        for _ in 0..<2 { Self.expectFinite(try dpo.step(), "dpo") }
        Self.expectLlamaCheckpoint(dpo.checkpoint(), "dpo")

        var distill = distillSpec(steps: 2)
        distill.model = ModelConfig(architecture: .llama, vocab: 259, context: 96, layers: 1, heads: 2, embedding: 16, kvHeads: 1,
                                    intermediate: 24, tiedHead: false)
        let student = try makeStage(distill, context: StageContext(jobSeed: 21, model: llamaModel,
                                                                   checkpoints: [.teacher: sft.checkpoint()]))
        for _ in 0..<2 { Self.expectFinite(try student.step(), "distill") }
        Self.expectFinite(try student.evaluate(), "distill eval")
        Self.expectLlamaCheckpoint(student.checkpoint(), "distill")

        let ppo = try makePPOStage(steps: 1, seed: 21, model: llamaModel)
        Self.expectFinite(try ppo.step(), "ppo")
        Self.expectLlamaCheckpoint(ppo.checkpoint(), "ppo")
        #expect(ppo.checkpoint().root.groups["critic"]?.tensors["score.weight"]?.shape == [32])
    }

    @Test func sftResumesExactly() throws {
        let context = StageContext(jobSeed: 22, model: llamaModel)
        let straight = try trainedWeights(sftSpec(steps: 5), context: context)
        #expect(try trainedWeights(sftSpec(steps: 5), context: context, split: 2, resumeThreads: 2) == straight)
    }
}
