// A plain Double-precision GPT-2 forward pass built from the naive kernels: the oracle for the
// model's Float forward and, through central finite differences, for its backward pass.

import Kernels
import RealModule
import Transformer

struct ReferenceGPT: ReferenceModel {
    let config: ModelConfig
    let layout: ParameterLayout

    /// y[M, N] = x[M, K] · w[K, N] + b[N]
    func linear(_ x: [Double], _ w: ArraySlice<Double>, _ b: ArraySlice<Double>, m: Int, k: Int, n: Int) -> [Double] {
        var y = [Double](repeating: 0, count: m * n)
        let w = Array(w), b = Array(b)
        for i in 0..<m { for j in 0..<n {
            var s = b[j]
            for p in 0..<k { s += x[i * k + p] * w[p * n + j] }
            y[i * n + j] = s
        } }
        return y
    }

    /// The final LayerNorm output [B·T, C] for `params` laid out by `layout`.
    func hidden(_ params: [Double], tokens: [Int32], batch: Int, time: Int) -> [Double] {
        func p(_ name: String) -> ArraySlice<Double> {
            let v = layout[name]!
            return params[v.offset..<v.offset + v.count]
        }
        let c = config.embedding, n = batch * time
        var x = [Double](repeating: 0, count: n * c)
        let wte = Array(p("wte")), wpe = Array(p("wpe"))
        for r in 0..<n { for j in 0..<c { x[r * c + j] = wte[Int(tokens[r]) * c + j] + wpe[(r % time) * c + j] } }
        for i in 0..<config.layers {
            let q = "h.\(i)."
            let h1 = layerNormNaive(x: x, weight: Array(p(q + "ln_1.weight")), bias: Array(p(q + "ln_1.bias")), rows: n, channels: c)
            let qkv = linear(h1, p(q + "attn.c_attn.weight"), p(q + "attn.c_attn.bias"), m: n, k: c, n: 3 * c)
            let att = attentionNaive(qkv: qkv, batch: batch, time: time, channels: c, heads: config.heads)
            let proj = linear(att, p(q + "attn.c_proj.weight"), p(q + "attn.c_proj.bias"), m: n, k: c, n: c)
            x = zip(x, proj).map(+)
            let h2 = layerNormNaive(x: x, weight: Array(p(q + "ln_2.weight")), bias: Array(p(q + "ln_2.bias")), rows: n, channels: c)
            let fc = geluNaive(linear(h2, p(q + "mlp.c_fc.weight"), p(q + "mlp.c_fc.bias"), m: n, k: c, n: config.intermediate))
            let out = linear(fc, p(q + "mlp.c_proj.weight"), p(q + "mlp.c_proj.bias"), m: n, k: config.intermediate, n: c)
            x = zip(x, out).map(+)
        }
        return layerNormNaive(x: x, weight: Array(p("ln_f.weight")), bias: Array(p("ln_f.bias")), rows: n, channels: c)
    }
}

/// A Double-precision forward pass of one architecture: the final hidden state [B·T, C].
protocol ReferenceModel {
    var config: ModelConfig { get }
    var layout: ParameterLayout { get }
    func hidden(_ params: [Double], tokens: [Int32], batch: Int, time: Int) -> [Double]
}

/// The reference of a config's architecture.
func referenceModel(_ config: ModelConfig, layout: ParameterLayout) -> any ReferenceModel {
    switch config.architecture {
    case .gpt2: ReferenceGPT(config: config, layout: layout)
    case .llama: ReferenceLlama(config: config, layout: layout)
    }
}

extension ReferenceModel {
    /// The named tensor's values.
    func tensor(_ params: [Double], _ name: String) -> ArraySlice<Double> {
        let v = layout[name]!
        return params[v.offset..<v.offset + v.count]
    }

    /// Per-position log-probabilities of `targets` (0 where target < 0), the raw logits [B·T, V] and
    /// scalar-head values, from the LM head (tied to the token embedding or `lm_head.weight`).
    func heads(_ params: [Double], tokens: [Int32], targets: [Int32], batch: Int, time: Int)
        -> (logp: [Double], values: [Double], logits: [Double]) {
        let h = hidden(params, tokens: tokens, batch: batch, time: time)
        let c = config.embedding, v = config.vocab
        let embedding = config.architecture == .gpt2 ? "wte" : "model.embed_tokens.weight"
        let w = layout[config.tiedHead ? embedding : "lm_head.weight"]!
        var logp: [Double] = [], values: [Double] = [], allLogits: [Double] = []
        for r in 0..<(batch * time) {
            let logits = (0..<v).map { t in (0..<c).reduce(0.0) { $0 + h[r * c + $1] * params[w.offset + t * c + $1] } }
            allLogits += logits
            let mx = logits.max()!
            let lse = mx + Double.log(logits.reduce(0) { $0 + Double.exp($1 - mx) })
            logp.append(targets[r] < 0 ? 0 : logits[Int(targets[r])] - lse)
            if let score = layout["score.weight"] {
                let bias = layout["score.bias"].map { params[$0.offset] } ?? 0
                values.append((0..<c).reduce(bias) { $0 + h[r * c + $1] * params[score.offset + $1] })
            }
        }
        return (logp, values, allLogits)
    }
}
