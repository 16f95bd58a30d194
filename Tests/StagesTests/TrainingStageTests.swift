// Stages end to end on the demo corpus with a small model: they learn, and a stage restored from its
// own checkpoint (through an HDF5 file) continues bit for bit, also under another thread count.

import Checkpoint
import Foundation
import Kernels
import Stages
import Testing
import Transformer

/// The demo corpus, written once per test process into a temporary folder.
let demoFolder: String = {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rlhf-stages-\(getpid())").path
    _ = try! DemoTask.write(to: folder)
    // A 200-pair slice of the preferences, for stages that score their whole dataset up front (DPO).
    let prefs = try! String(contentsOfFile: folder + "/prefs.jsonl", encoding: .utf8)
    try! (prefs.split(separator: "\n").prefix(200).joined(separator: "\n") + "\n")
        .write(toFile: folder + "/prefs_small.jsonl", atomically: true, encoding: .utf8)
    return folder
}()

let smallModel = ModelConfig(context: 96, layers: 2, heads: 2, embedding: 32)

func sftSpec(steps: Int) -> StageSpec {
    var spec = StageSpec(name: "sft", kind: .sft,
                         data: DataSpec(train: demoFolder + "/sft.jsonl", eval: demoFolder + "/sft_eval.jsonl"), steps: steps)
    spec.batch = 8
    spec.microBatch = 4
    spec.optimizer.lr = 3e-3
    spec.optimizer.warmup = 2
    return spec
}

func rewardSpec(steps: Int) -> StageSpec {
    var spec = StageSpec(name: "rm", kind: .reward,
                         data: DataSpec(train: demoFolder + "/prefs.jsonl", eval: demoFolder + "/prefs_eval.jsonl"), steps: steps)
    spec.batch = 8
    spec.optimizer.lr = 2e-3
    spec.centerRewards = 0.01
    return spec
}

/// Runs `steps` steps, or `split` steps, a checkpoint round trip through an HDF5 file into a fresh
/// stage (under `resumeThreads`), and the rest. Returns the final weights.
func trainedWeights(_ spec: StageSpec, context: StageContext, split: Int? = nil, resumeThreads: Int = 1) throws -> [Float] {
    var stage = try makeStage(spec, context: context)
    for _ in 0..<(split ?? spec.steps) { _ = try Parallel.$threads.withValue(1) { try stage.step() } }
    if let split {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("resume-\(spec.name)-\(getpid()).h5")
        try stage.checkpoint().write(to: url, durability: .pageCache)
        stage = try makeStage(spec, context: context)
        try stage.restore(from: try CheckpointFile.read(from: url))
        for _ in split..<spec.steps { _ = try Parallel.$threads.withValue(resumeThreads) { try stage.step() } }
    }
    return stage.checkpoint().root.groups["model"]!.tensors.sorted { $0.key < $1.key }.flatMap(\.value.values)
}

@Suite(.serialized) struct TrainingStageTests {
    @Test func sftLearnsAndResumesExactly() throws {
        let context = StageContext(jobSeed: 1, model: smallModel)
        let stage = try makeStage(sftSpec(steps: 100), context: context)
        let before = try stage.evaluate()["eval_loss"]!
        var losses: [Double] = []
        for _ in 0..<100 { losses.append(try stage.step()["loss"]!) }
        let evaluation = try stage.evaluate()
        let after = evaluation["eval_loss"]!, unigram = evaluation["eval_unigram_loss"]!
        #expect(before > 4.5)                    // ≈ ln 259 before training
        #expect(after < before - 1.5, "eval loss \(before) → \(after)")
        #expect(unigram > 2 && unigram < 4)      // bytes of English words: ≈ 3 nats
        #expect(after < unigram, "eval loss \(after) vs unigram \(unigram)")

        let straight = try trainedWeights(sftSpec(steps: 6), context: context)
        #expect(try trainedWeights(sftSpec(steps: 6), context: context, split: 3) == straight)
        #expect(try trainedWeights(sftSpec(steps: 6), context: context, split: 4, resumeThreads: 2) == straight)
    }

    @Test func rewardModelLearnsPreferencesAndResumesExactly() throws {
        let sft = try makeStage(sftSpec(steps: 30), context: StageContext(jobSeed: 2, model: smallModel))
        for _ in 0..<30 { _ = try sft.step() }
        let context = StageContext(jobSeed: 2, model: smallModel, checkpoints: [.initial: sft.checkpoint()])
        let rm = try makeStage(rewardSpec(steps: 150), context: context)
        for _ in 0..<150 { _ = try rm.step() }
        let eval = try rm.evaluate()
        #expect(eval["eval_accuracy"]! > 0.8, "held-out accuracy \(eval["eval_accuracy"]!)")
        #expect(eval["eval_margin"]! > 0)
        #expect(rm.checkpoint().root.groups["reward_stats"]?.attributes["std"] != nil)

        let straight = try trainedWeights(rewardSpec(steps: 5), context: context)
        #expect(try trainedWeights(rewardSpec(steps: 5), context: context, split: 2, resumeThreads: 2) == straight)
    }

    @Test func restoringAnotherStagesCheckpointIsRefused() throws {
        let context = StageContext(jobSeed: 3, model: smallModel)
        let sft = try makeStage(sftSpec(steps: 2), context: context)
        var other = sftSpec(steps: 2)
        other.name = "sft2"
        #expect(throws: StageError.self) { try makeStage(other, context: context).restore(from: sft.checkpoint()) }
    }

    @Test func nonFiniteLossStopsWithoutTouchingWeights() throws {
        var spec = sftSpec(steps: 3)
        spec.optimizer.lr = 0.5
        let stage = try makeStage(spec, context: StageContext(jobSeed: 4, model: smallModel)) as! SFTStage
        stage.model.parameters.base[0] = .nan
        let before = Array(stage.model.parameters.buffer)
        #expect(throws: StageError.self) { try stage.step() }
        #expect(Array(stage.model.parameters.buffer).elementsEqual(before) { $0 == $1 || ($0.isNaN && $1.isNaN) })
        #expect(stage.completedSteps == 0)
    }
}
