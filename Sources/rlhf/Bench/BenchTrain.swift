// `rlhf bench train`: one training step (forward, cross-entropy over every position, backward,
// AdamW) on the standard shapes of DESIGN §5, as ms/step and tokens/s.

import ArgumentParser
import Kernels
import Transformer

/// The standard workloads of DESIGN §5.
enum StandardConfig: String, ExpressibleByArgument, CaseIterable {
    case tiny, small
    var model: ModelConfig { self == .tiny ? .tiny : .small }
    /// Training batch: 16 rows of 128 (tiny), 8 rows of 256 (small).
    var batch: Int { self == .tiny ? 16 : 8 }
}

struct ConfigOption: ParsableArguments {
    @Option(help: "Workload: tiny (L4 C128 H4 T128 B16) or small (L6 C384 H6 T256 B8).")
    var config: StandardConfig = .tiny
}

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Training step time: forward, cross-entropy, backward, AdamW.")

    @OptionGroup var workload: ConfigOption
    @OptionGroup var threading: ThreadOptions
    @Flag(help: "One JSON object per measurement.") var json = false

    struct Row: Codable {
        var peer = "swift-rlhf", workload = "train"
        var config: String, threads: Int, batch: Int, time: Int, parameters: Int
        var median_ms: Double, best_ms: Double, tokens_per_s: Double
    }

    func run() throws {
        let config = workload.config.model, b = workload.config.batch, t = config.context
        let model = try CausalLM(config: config, seed: 1)
        let optimizer = AdamW(layout: model.parameters.layout)
        var rng = SplitMix64(seed: 2)
        let tokens = (0..<(b * t)).map { _ in Int32(rng.next() % UInt64(config.vocab)) }
        let targets = Array(tokens.dropFirst()) + [0]
        let dlogp = [Float](repeating: -1 / Float(b * t), count: b * t)
        let timing = Parallel.$threads.withValue(threading.threads) {
            measure(minRuns: 10) {
                model.forward(tokens: tokens, batch: b, time: t)
                _ = model.tokenLogProbs(targets: targets)
                model.gradients.zero()
                model.backward(dlogp: dlogp)
                clipGradientNorm(model.gradients, maxNorm: 1)
                optimizer.update(model.parameters, gradients: model.gradients, learningRate: 3e-4, weightDecay: 0.1)
            }
        }
        let row = Row(config: workload.config.rawValue, threads: Parallel.$threads.withValue(threading.threads) { Parallel.effectiveThreads },
                      batch: b, time: t, parameters: model.parameterCount,
                      median_ms: timing.median * 1e3, best_ms: timing.best * 1e3,
                      tokens_per_s: Double(b * t) / timing.median)
        if json { printJSONLine(row) } else {
            print("train \(row.config) B\(b) T\(t) threads \(row.threads): \(String(format: "%.1f", row.median_ms)) ms/step "
                  + "(best \(String(format: "%.1f", row.best_ms))), \(Int(row.tokens_per_s)) tokens/s over \(timing.runs) runs")
        }
    }
}
