// `rlhf bench generate`: batched sampling with the KV cache on the standard shapes of DESIGN §5:
// a 16-token prompt, 112 new tokens, temperature 1, batch 16 (tiny) or 8 (small). Prefill included.

import ArgumentParser
import Kernels
import Transformer

struct BenchGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Generation speed: 16-token prompts, 112 sampled tokens, KV cache.")

    @OptionGroup var workload: ConfigOption
    @OptionGroup var threading: ThreadOptions
    @Flag(help: "One JSON object per measurement.") var json = false

    struct Row: Codable {
        var peer = "swift-rlhf", workload = "generate"
        var config: String, threads: Int, batch: Int, prompt: Int, new_tokens: Int
        var median_ms: Double, best_ms: Double, new_tokens_per_s: Double
    }

    func run() throws {
        let config = workload.config.model, b = workload.config.batch
        let (promptLength, newTokens) = (16, 112)
        let model = try CausalLM(config: config, seed: 1)
        var data = SplitMix64(seed: 3)
        let prompts = (0..<b).map { _ in (0..<promptLength).map { _ in Int32(data.next() % 256) } }
        var rng = Xoshiro256(seed: 4)
        let (timing, threads) = Parallel.$threads.withValue(threading.threads) {
            (measure(minRuns: 10) {
                // No stop token, so every row produces exactly 112 tokens, as the peers' loops do.
                _ = model.generate(prompts: prompts, maxNewTokens: newTokens, settings: SamplingSettings(temperature: 1),
                                   stopToken: nil, rng: &rng)
            }, Parallel.effectiveThreads)
        }
        let row = Row(config: workload.config.rawValue, threads: threads, batch: b, prompt: promptLength,
                      new_tokens: newTokens, median_ms: timing.median * 1e3, best_ms: timing.best * 1e3,
                      new_tokens_per_s: Double(b * newTokens) / timing.median)
        if json { printJSONLine(row) } else {
            print("generate \(row.config) B\(b) prompt \(promptLength) new \(newTokens) threads \(threads): "
                  + "\(String(format: "%.1f", row.median_ms)) ms (best \(String(format: "%.1f", row.best_ms))), "
                  + "\(Int(row.new_tokens_per_s)) new tokens/s over \(timing.runs) runs")
        }
    }
}
