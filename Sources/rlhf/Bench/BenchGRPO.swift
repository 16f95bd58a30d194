// `rlhf bench grpo`: one GRPO iteration through the real stage, on the workload its TRL peer
// (bench/peers/trl_grpo.py) runs: the tiny shape with random weights, 8 prompts of 16 tokens, G = 8
// completions of up to 32 tokens each (random weights rarely sample EOS), the `contains` grader, then
// the update (β = 0, loss_type dapo, one AdamW step). Figures beside TRL's: docs/performance.md.

import ArgumentParser
import Foundation
import Kernels
import Stages
import Transformer

struct BenchGRPO: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grpo",
        abstract: "GRPO iteration time (8 prompts × 8 completions of 32 tokens, grading, one update) on the tiny shape.",
        discussion: "The same workload as bench/peers/trl_grpo.py (TRL's GRPOTrainer); run both in one sitting.")

    @OptionGroup var threading: ThreadOptions
    @Flag(help: "One JSON object per measurement.") var json = false

    struct Row: Codable {
        var peer = "swift-rlhf", workload = "grpo", config = "tiny"
        var threads: Int, prompts: Int, generations: Int, prompt_tokens: Int, completion_tokens: Int
        var median_ms: Double, best_ms: Double, runs: Int
    }

    func run() throws {
        let (prompts, generations, promptBytes, completion) = (8, 8, 15, 32)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rlhf-bench-grpo-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var rng = SplitMix64(seed: 7)
        let letters = Array("abcdefghijklmnopqrstuvwxyz "), answers = Array("etaoin")
        let lines = (0..<4 * prompts).map { _ -> String in
            let text = String((0..<promptBytes).map { _ in letters[Int(rng.next() % UInt64(letters.count))] })
            let answer = answers[Int(rng.next() % UInt64(answers.count))]
            return "{\"prompt\": \"\(text)\", \"answer\": \"\(answer)\"}"
        }
        let data = folder.appendingPathComponent("prompts.jsonl").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: data, atomically: true, encoding: .utf8)

        var spec = StageSpec(name: "grpo", kind: .grpo, data: DataSpec(prompts: data), steps: 1_000)
        spec.batch = prompts
        spec.optimizer.lr = 3e-4
        spec.optimizer.schedule = .constant
        var settings = GRPOSettings()
        settings.numGenerations = generations
        settings.maxCompletionLength = completion
        settings.lossType = .dapo
        settings.graders = [GraderSpec(.contains)]
        spec[section: GRPOSettings.self] = settings
        let config = ModelConfig.tiny
        let policy = networkCheckpoint(try CausalLM(config: config, seed: 1), stageKind: .sft, stageName: "sft")
        let stage = try makeStage(spec, context: StageContext(jobSeed: 3, model: config, checkpoints: [.policy: policy]))
        let (timing, threads) = try Parallel.$threads.withValue(threading.threads) { () throws -> (Timing, Int) in
            var failure: Error?
            let timing = measure(minRuns: 10) {
                do { _ = try stage.step() } catch { failure = error }
            }
            if let failure { throw failure }
            return (timing, Parallel.effectiveThreads)
        }
        let row = Row(threads: threads, prompts: prompts, generations: generations, prompt_tokens: promptBytes + 1,
                      completion_tokens: completion, median_ms: timing.median * 1e3, best_ms: timing.best * 1e3, runs: timing.runs)
        if json { printJSONLine(row) } else {
            print("grpo tiny \(prompts)x\(generations) prompt \(promptBytes + 1) completion \(completion) threads \(threads): "
                  + "\(String(format: "%.1f", row.median_ms)) ms/iteration (best \(String(format: "%.1f", row.best_ms))) over \(timing.runs) runs")
        }
    }
}
