// `rlhf bench stages`: one optimizer step of the SFT, reward-model and DPO stages on the shapes the
// TRL peer measures (ANCHORS.md §5), through the real stages: batch 16 of 128-token sequences
// (SFT: 32 prompt + 95 completion bytes; reward and DPO: 16 pairs, chosen and rejected of 128 tokens).
// Networks start from random weights. DPO's reference log-probs are computed once when the stage is
// built (TRL's default recomputes them every step), so its step is one policy pass over 32 rows.

import ArgumentParser
import Checkpoint
import Foundation
import Kernels
import Stages
import Transformer

struct BenchStages: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stages", abstract: "SFT, reward-model and DPO step times on the tiny shape (batch 16, 128 tokens).")

    @OptionGroup var threading: ThreadOptions
    @Flag(help: "One JSON object per measurement.") var json = false

    struct Row: Codable {
        var peer = "swift-rlhf"
        var workload: String
        var config = "tiny"
        var threads: Int, batch: Int, median_ms: Double, best_ms: Double, tokens_per_s: Double
    }

    func run() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rlhf-bench-stages-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var rng = SplitMix64(seed: 11)
        func text(_ count: Int) -> String {
            String((0..<count).map { _ in Character(UnicodeScalar(UInt8(97 + rng.next() % 26))) })
        }
        func write(_ name: String, _ rows: [String]) throws -> String {
            let path = folder.appendingPathComponent(name).path
            try (rows.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let sft = try write("sft.jsonl", (0..<64).map { _ in "{\"prompt\": \"\(text(32))\", \"completion\": \"\(text(95))\"}" })
        let prefs = try write("prefs.jsonl", (0..<64).map { _ in
            "{\"prompt\": \"\(text(32))\", \"chosen\": \"\(text(95))\", \"rejected\": \"\(text(95))\"}"
        })
        let config = ModelConfig.tiny
        let start = networkCheckpoint(try CausalLM(config: config, seed: 1), stageKind: .sft, stageName: "sft")
        let sources: [SourceRole: CheckpointFile] = [.initial: start], sourcesDPO: [SourceRole: CheckpointFile] = [.policy: start]
        let workloads: [(String, StageSpec, [SourceRole: CheckpointFile], Int)] = [
            ("sft_step", Self.spec(.sft, train: sft), sources, 16 * 128),
            ("reward_step", Self.spec(.reward, train: prefs), sources, 32 * 128),
            ("dpo_step", Self.spec(.dpo, train: prefs), sourcesDPO, 32 * 128),
        ]
        try Parallel.$threads.withValue(threading.threads) {
            let threads = Parallel.effectiveThreads
            for (name, spec, sources, tokens) in workloads {
                let stage = try makeStage(spec, context: StageContext(jobSeed: 3, model: config, checkpoints: sources))
                var failure: Error?
                let timing = measure(minRuns: 10) { do { _ = try stage.step() } catch { failure = error } }
                if let failure { throw failure }
                let row = Row(workload: name, threads: threads, batch: 16, median_ms: timing.median * 1e3,
                              best_ms: timing.best * 1e3, tokens_per_s: Double(tokens) / timing.median)
                if json { printJSONLine(row) } else {
                    print("\(name.padding(toLength: 12, withPad: " ", startingAt: 0)) tiny B16 T128 threads \(threads): "
                          + "\(String(format: "%.1f", row.median_ms)) ms/step (best \(String(format: "%.1f", row.best_ms)))")
                }
            }
        }
    }

    static func spec(_ kind: StageKind, train: String) -> StageSpec {
        var spec = StageSpec(name: kind.rawValue, kind: kind, data: DataSpec(train: train), steps: 10_000)
        spec.batch = 16
        spec.optimizer.lr = 3e-4
        spec.optimizer.weightDecay = 0.1
        return spec
    }
}
