// `rlhf bench ppo`: one PPO iteration of DESIGN §5's shape, through the real PPO stage: 16 prompts of
// 16 tokens, 48 sampled tokens, policy/reference/reward/value forwards, GAE, 4 epochs × 4
// mini-batches of policy and value updates. Networks start from random weights (as the PyTorch peer's
// do); responses stop early only when EOS is sampled (≈ 1 in 259 per token at random init).

import ArgumentParser
import Foundation
import Kernels
import Stages
import Transformer

struct BenchPPO: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ppo", abstract: "PPO iteration time (rollout, scoring, 16 mini-batch updates of policy and critic).")

    @OptionGroup var workload: ConfigOption
    @OptionGroup var threading: ThreadOptions
    @Flag(help: "One JSON object per measurement.") var json = false

    struct Row: Codable {
        var peer = "swift-rlhf", workload = "ppo"
        var config: String, threads: Int, batch: Int, prompt: Int, response: Int
        var median_ms: Double, best_ms: Double, tokens_per_s: Double
    }

    func run() throws {
        let config = workload.config.model
        let (batch, promptLength, response) = (16, 16, 48)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rlhf-bench-ppo-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var rng = SplitMix64(seed: 7)
        let letters = Array("abcdefghijklmnopqrstuvwxyz ")
        let lines = (0..<batch).map { _ -> String in
            let text = String((1..<promptLength).map { _ in letters[Int(rng.next() % UInt64(letters.count))] })
            return "{\"prompt\": \"\(text)\"}"
        }
        let prompts = folder.appendingPathComponent("prompts.jsonl").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: prompts, atomically: true, encoding: .utf8)

        var spec = StageSpec(name: "ppo", kind: .ppo, data: DataSpec(prompts: prompts), steps: 1_000)
        spec.batch = batch
        spec.optimizer.lr = 3e-4
        spec.optimizer.schedule = .constant
        var ppo = PPOSettings()
        ppo.responseLength = response
        ppo.klCoef = 0.05
        spec[section: PPOSettings.self] = ppo
        let policy = networkCheckpoint(try CausalLM(config: config, seed: 1), stageKind: .sft, stageName: "sft")
        let reward = networkCheckpoint(try CausalLM(config: config, scalarHead: true, seed: 2), stageKind: .reward, stageName: "rm")
        let stage = try makeStage(spec, context: StageContext(jobSeed: 3, model: config, checkpoints: [.policy: policy, .reward: reward]))
        let (timing, threads) = try Parallel.$threads.withValue(threading.threads) { () throws -> (Timing, Int) in
            var failure: Error?
            let timing = measure(minRuns: 10) {
                do { _ = try stage.step() } catch { failure = error }
            }
            if let failure { throw failure }
            return (timing, Parallel.effectiveThreads)
        }
        let tokens = batch * (promptLength + response)
        let row = Row(config: workload.config.rawValue, threads: threads, batch: batch, prompt: promptLength, response: response,
                      median_ms: timing.median * 1e3, best_ms: timing.best * 1e3, tokens_per_s: Double(tokens) / timing.median)
        if json { printJSONLine(row) } else {
            print("ppo \(row.config) B\(batch) prompt \(promptLength) response \(response) threads \(threads): "
                  + "\(String(format: "%.1f", row.median_ms)) ms/iteration (best \(String(format: "%.1f", row.best_ms))) "
                  + "over \(timing.runs) runs")
        }
    }
}
