// Manifest loading in the library: defaults and path resolution, every problem reported at once with
// its key path and line, manifest differences on resume, and metrics.jsonl's resume rule.

import Foundation
@testable import Jobs
import Stages
import Testing
import Transformer

@Suite struct ManifestTests {
    @Test func defaultsAndPathsAreResolved() throws {
        let scratch = Scratch()
        scratch.write("jobs/sweep-1.yaml", """
            model: { context: 32, layers: 2, heads: 2, embedding: 32 }
            stages:
              - { name: sft, kind: sft, data: { train: \(demoData)/sft.jsonl }, steps: 3 }
              - { name: rm, kind: reward, init: sft, data: { train: ../data/prefs.jsonl }, steps: 2 }
            """)
        scratch.write("data/prefs.jsonl", #"{"prompt": "a", "chosen": "b", "rejected": "c"}"# + "\n")
        let job = try ManifestLoader.load("jobs/sweep-1.yaml", currentDirectory: scratch.path)
        #expect(job.name == "sweep-1")
        #expect(job.seed == 0 && job.threads == 0)
        #expect(job.model.vocab == 259)
        #expect(job.output == scratch.path("Checkpoints/sweep-1"))  // relative to the current directory
        #expect(job.stages[1].data[.train] == scratch.path("data/prefs.jsonl"))  // relative to the manifest
        #expect(job.stages[1].sources[.initial] == "sft")
        #expect(job.stages[0].batch == 16 && job.stages[0].checkpointEvery == 100 && job.stages[0].keep == 3)
    }

    /// A preset gives every model key, keys beside it override; a Llama-family model takes every field.
    @Test func presetsAndLlamaModelsResolve() throws {
        let yaml = """
            model: { preset: smollm2-135m, context: 256, layers: 2 }
            stages:
              - { name: sft, kind: sft, data: { train: \(demoData)/sft.jsonl }, steps: 1 }
              - name: student
                kind: distill
                teacher: sft
                data: { train: \(demoData)/sft.jsonl }
                steps: 1
                model:
                  architecture: llama
                  vocab: 49152
                  context: 256
                  layers: 1
                  heads: 4
                  kv_heads: 2
                  embedding: 64
                  intermediate: 96
                  qkv_bias: true
                  tied_head: false
                  rope_theta: 500000
                  rope_scaling: { factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 }
                  eos_id: 2
            """
        let job = try ManifestLoader.load(yaml: yaml, file: "m.yaml", folder: "/")
        var expected = try #require(ModelConfig.preset("smollm2-135m"))
        expected.context = 256
        expected.layers = 2
        #expect(job.model == expected)
        #expect(job.model.vocab == 49152 && job.model.kvHeads == 3 && job.model.ropeTheta == 100_000 && job.model.bosID == 0)
        let student = try #require(job.stages[1].model)
        #expect(student == ModelConfig(architecture: .llama, vocab: 49152, context: 256, layers: 1, heads: 4, embedding: 64,
                                       kvHeads: 2, intermediate: 96, ropeTheta: 500_000,
                                       ropeScaling: RopeScaling(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 64),
                                       qkvBias: true, tiedHead: false, eosID: 2))
    }

    @Test func everyProblemIsReportedAtOnceWithKeyPathsAndLines() throws {
        let yaml = """
            name: ok
            model: { vocab: byte, context: 32, layers: 2, heads: 2, embedding: 32, width: 3 }
            stages:
              - name: sft
                kind: sft
                data: { train: \(demoData)/sft.jsonl }
                steps: 0
                optimizer: { lr: 2, schedule: wavy }
              - name: ppo
                kind: ppo
                policy: sft
                reward: rm
                data: { prompts: \(demoData)/prompts.jsonl }
                steps: 4
                batch: six
                ppo: { clip: 0, kl_estimator: k2 }
              - { name: rm, kind: reward, init: sft, data: { train: \(demoData)/prefs.jsonl }, steps: 2 }
            """
        let error = try #require(throws: ManifestError.self) {
            try ManifestLoader.load(yaml: yaml, file: "m.yaml", folder: "/")
        }
        let keys = error.problems.map(\.key)
        #expect(keys == ["model.width", "stages[0].steps", "stages[0].optimizer.schedule", "stages[0].optimizer.lr",
                         "stages[1].reward", "stages[1].batch", "stages[1].ppo.kl_estimator", "stages[1].ppo.clip",
                         "stages[1].ppo.response_length"],
                "\(error)")
        #expect(error.problems.map(\.line) == [2, 7, 8, 8, 12, 15, 16, 16, 16])
        #expect(error.lines[0].hasPrefix("m.yaml:2: model.width: unknown key"))
        #expect(error.description.contains("stages[1].reward: 'rm' is stages[2], which runs later"))
    }

    @Test func aChangedManifestListsTheDifferingKeys() {
        let spec = StageSpec(name: "sft", kind: .sft, data: DataSpec(train: "/d/sft.jsonl"), steps: 10)
        let old = JobManifest(name: "j", output: "/o", model: .tiny, stages: [spec])
        var new = old
        new.stages[0].steps = 20
        new.stages[0].optimizer.lr = 1e-3
        new.threads = 4
        #expect(manifestDifferences(old, new) == ["stages[0].optimizer.lr: 0.0003 → 0.001", "stages[0].steps: 10 → 20"])
    }

    @Test func metricsLogKeepsExactlyTheStepsUpToTheRestoredOne() throws {
        let scratch = Scratch()
        let log = MetricsLog(folder: scratch.url)
        for step in 1...6 { try log.append(MetricsEntry(step: step, split: "train", elapsedSeconds: 0, metrics: Metrics([("loss", 1)]))) }
        try log.append(MetricsEntry(step: 4, split: "eval", elapsedSeconds: 0, metrics: Metrics([("eval_loss", 1)])))
        // A torn line, as a kill in the middle of a write leaves it.
        let handle = try FileHandle(forWritingTo: log.url)
        handle.seekToEndOfFile()
        handle.write(Data(#"{"step":7,"spl"#.utf8))
        try handle.close()
        #expect(try log.truncate(throughStep: 4) == 3)  // steps 5 and 6, and the torn line
        #expect(log.entries().map(\.step) == [1, 2, 3, 4, 4])
        #expect(try log.truncate(throughStep: 4) == 0)
    }
}
