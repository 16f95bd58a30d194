// `rlhf bench kernels`: the non-GEMM kernels of a training step at the shapes of a standard workload,
// forward and backward, as milliseconds per call (median) and GB/s of the tensors each must touch.

import ArgumentParser
import Kernels
import Transformer

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels", abstract: "Layer kernels (LayerNorm, GELU, attention, log-probs, AdamW) at a workload's shapes.")

    @OptionGroup var workload: ConfigOption
    @OptionGroup var threading: ThreadOptions
    @Flag(help: "One JSON object per measurement.") var json = false

    struct Row: Codable {
        var peer = "swift-rlhf", workload = "kernel"
        var kernel: String, config: String, threads: Int, median_ms: Double, gigabytes_per_s: Double
    }

    func run() throws {
        let config = workload.config.model
        let (b, t, c, h, v) = (workload.config.batch, config.context, config.embedding, config.heads, config.vocab)
        let n = b * t
        func buffer(_ count: Int, seed: UInt64) -> UnsafeMutablePointer<Float> {
            var rng = SplitMix64(seed: seed)
            let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
            for i in 0..<count { p[i] = rng.nextFloat() - 0.5 }
            return p
        }
        let x = buffer(n * 4 * c, seed: 1), y = buffer(n * 4 * c, seed: 2), dy = buffer(n * 4 * c, seed: 3)
        let w = buffer(4 * c, seed: 4), bias = buffer(4 * c, seed: 5), mean = buffer(n, seed: 6), rstd = buffer(n, seed: 7)
        let qkv = buffer(n * 3 * c, seed: 8), dqkv = buffer(n * 3 * c, seed: 9), probs = buffer(b * h * t * t, seed: 10)
        let logits = buffer(n * v, seed: 11), lse = buffer(n, seed: 12), logp = buffer(n, seed: 13), m = buffer(n * 4 * c, seed: 14)
        let targets = UnsafeMutablePointer<Int32>.allocate(capacity: n)
        for i in 0..<n { targets[i] = Int32(i % v) }
        let floats = 4.0   // bytes per float
        let cases: [(String, Double, () -> Void)] = [
            ("layernorm_forward", Double(2 * n * c) * floats, {
                layerNormForward(out: y, mean: mean, rstd: rstd, x: x, weight: w, bias: bias, rows: n, channels: c) }),
            ("layernorm_backward", Double(4 * n * c) * floats, {
                layerNormBackward(dx: y, dweight: w, dbias: bias, dout: dy, x: x, weight: w, mean: mean, rstd: rstd, rows: n, channels: c) }),
            ("gelu_forward", Double(2 * n * 4 * c) * floats, { geluForward(out: y, x: x, count: n * 4 * c) }),
            ("gelu_backward", Double(4 * n * 4 * c) * floats, { geluBackward(dx: y, dout: dy, x: x, count: n * 4 * c) }),
            ("attention_forward", Double(4 * n * c + b * h * t * t) * floats, {
                attentionForward(out: y, probs: probs, qkv: qkv, batch: b, time: t, channels: c, heads: h) }),
            ("attention_backward", Double(7 * n * c + b * h * t * t) * floats, {
                attentionBackward(dqkv: dqkv, dout: dy, qkv: qkv, probs: probs, batch: b, time: t, channels: c, heads: h) }),
            ("logprobs_forward", Double(n * v) * floats, {
                tokenLogProbsForward(logp: logp, lse: lse, entropy: nil, logits: logits, targets: targets, rows: n, vocab: v) }),
            ("logprobs_backward", Double(2 * n * v) * floats, {
                logits.update(from: x, count: n * v)
                tokenLogProbsBackward(logits: logits, lse: lse, targets: targets, dlogp: logp, rows: n, vocab: v) }),
            ("adamw", Double(7 * n * c) * floats, {
                adamWUpdate(params: x, m: m, v: y, grads: dy, count: n * c, step: 10, learningRate: 1e-9, weightDecay: 0,
                            settings: AdamWSettings()) }),
        ]
        Parallel.$threads.withValue(threading.threads) {
            let threads = Parallel.effectiveThreads
            for (name, bytes, body) in cases {
                let timing = measure(minRuns: 20, body)
                let row = Row(kernel: name, config: workload.config.rawValue, threads: threads,
                              median_ms: timing.median * 1e3, gigabytes_per_s: bytes / timing.median / 1e9)
                if json { printJSONLine(row) } else {
                    print("\(name.padding(toLength: 20, withPad: " ", startingAt: 0)) \(row.config) threads \(threads): "
                          + "\(String(format: "%8.3f", row.median_ms)) ms  \(String(format: "%6.1f", row.gigabytes_per_s)) GB/s")
                }
            }
        }
    }
}
