// A plain Double-precision Llama forward pass built from the naive kernels, written from the
// Hugging Face definition (LlamaModel / Qwen2Model): the oracle for the Llama trunk's Float forward
// and, through central finite differences, for its backward pass. The rotary frequencies are
// computed here in Double, independently of the model's tables.

import Foundation
import Kernels
import RealModule
import Transformer

struct ReferenceLlama: ReferenceModel {
    let config: ModelConfig
    let layout: ParameterLayout

    /// y[M, N] = x[M, K] · wᵀ + b, w stored [N, K] (torch's Linear).
    func linear(_ x: [Double], _ w: ArraySlice<Double>, _ b: ArraySlice<Double>?, m: Int, k: Int, n: Int) -> [Double] {
        var y = [Double](repeating: 0, count: m * n)
        let w = Array(w), b = b.map(Array.init)
        for i in 0..<m { for j in 0..<n {
            var s = b?[j] ?? 0
            for p in 0..<k { s += x[i * k + p] * w[j * k + p] }
            y[i * n + j] = s
        } }
        return y
    }

    /// θ_i = rope_theta^(−2i/D), with Hugging Face's llama3 rule when `rope_scaling` is set.
    var frequencies: [Double] {
        let d = config.headDim
        let base = (0..<d / 2).map { Double.pow(config.ropeTheta, -Double(2 * $0) / Double(d)) }
        guard let s = config.ropeScaling else { return base }
        let lowWavelength = Double(s.originalContext) / s.lowFreqFactor
        let highWavelength = Double(s.originalContext) / s.highFreqFactor
        return base.map { theta in
            let wavelength = 2 * Double.pi / theta
            if wavelength < highWavelength { return theta }
            if wavelength > lowWavelength { return theta / s.factor }
            let smooth = (Double(s.originalContext) / wavelength - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor)
            return (1 - smooth) * theta / s.factor + smooth * theta
        }
    }

    func hidden(_ params: [Double], tokens: [Int32], batch: Int, time: Int) -> [Double] {
        func p(_ name: String) -> ArraySlice<Double> { tensor(params, name) }
        let c = config.embedding, n = batch * time, h = config.heads, g = config.kvHeads, d = config.headDim
        let i = config.intermediate, eps = config.normEps
        let angles = (0..<time).flatMap { position in frequencies.map { Double(position) * $0 } }
        let positions = (0..<n).map { Int32($0 % time) }
        let embed = Array(p("model.embed_tokens.weight"))
        var x = [Double](repeating: 0, count: n * c)
        for r in 0..<n { for j in 0..<c { x[r * c + j] = embed[Int(tokens[r]) * c + j] } }
        for layer in 0..<config.layers {
            let q = "model.layers.\(layer)."
            func bias(_ name: String) -> ArraySlice<Double>? { config.qkvBias ? p(q + name) : nil }
            let h1 = rmsNormNaive(x: x, weight: Array(p(q + "input_layernorm.weight")), rows: n, channels: c, epsilon: eps)
            let queries = linear(h1, p(q + "self_attn.q_proj.weight"), bias("self_attn.q_proj.bias"), m: n, k: c, n: h * d)
            let keys = linear(h1, p(q + "self_attn.k_proj.weight"), bias("self_attn.k_proj.bias"), m: n, k: c, n: g * d)
            let values = linear(h1, p(q + "self_attn.v_proj.weight"), bias("self_attn.v_proj.bias"), m: n, k: c, n: g * d)
            let rq = ropeNaive(queries, ld: h * d, rows: n, heads: h, headDim: d, positions: positions, angles: angles)
            let rk = ropeNaive(keys, ld: g * d, rows: n, heads: g, headDim: d, positions: positions, angles: angles)
            var qkv: [Double] = []
            for r in 0..<n {
                qkv += rq[r * h * d..<(r + 1) * h * d]
                qkv += rk[r * g * d..<(r + 1) * g * d]
                qkv += values[r * g * d..<(r + 1) * g * d]
            }
            let att = groupedAttentionNaive(qkv: qkv, batch: batch, time: time, heads: h, kvHeads: g, headDim: d)
            x = zip(x, linear(att, p(q + "self_attn.o_proj.weight"), nil, m: n, k: h * d, n: c)).map(+)
            let h2 = rmsNormNaive(x: x, weight: Array(p(q + "post_attention_layernorm.weight")), rows: n, channels: c, epsilon: eps)
            let gate = linear(h2, p(q + "mlp.gate_proj.weight"), nil, m: n, k: c, n: i)
            let up = linear(h2, p(q + "mlp.up_proj.weight"), nil, m: n, k: c, n: i)
            let act = zip(gate, up).map { $0 / (1 + Double.exp(-$0)) * $1 }
            x = zip(x, linear(act, p(q + "mlp.down_proj.weight"), nil, m: n, k: i, n: c)).map(+)
        }
        return rmsNormNaive(x: x, weight: Array(p("model.norm.weight")), rows: n, channels: c, epsilon: eps)
    }
}
