// The Llama family behind the causal-LM seam (SmolLM2, Qwen2.5, Llama 3.2, TinyLlama): token
// embedding → L pre-RMSNorm blocks with rotary positions, grouped-query attention and a SwiGLU MLP →
// final RMSNorm. Its layout, initialisation, forward and backward, activations and KV-cache
// decoding, in that order, as GPT2.swift.
//
// Legend: B batch, T positions, N = B·T rows, C channels, H query heads, G kv heads (G | H), D head
// size, Q = (H + 2G)·D the width of q|k|v, I MLP width, V vocabulary, L layers.
//
// Parameters, under Hugging Face Llama names, weights stored [out, in] (torch's Linear):
//   model.embed_tokens.weight [V, C]
//   model.layers.i.input_layernorm.weight [C]
//   model.layers.i.self_attn.q_proj.weight [H·D, C]  k_proj.weight [G·D, C]  v_proj.weight [G·D, C]
//   model.layers.i.self_attn.{q,k,v}_proj.bias [H·D], [G·D], [G·D]     (qkv_bias only: Qwen2)
//   model.layers.i.self_attn.o_proj.weight [C, H·D]                     (no bias, as in every variant)
//   model.layers.i.post_attention_layernorm.weight [C]
//   model.layers.i.mlp.gate_proj.weight [I, C]  up_proj.weight [I, C]  down_proj.weight [C, I]
//   model.norm.weight [C]
// q, k and v (and their biases) are consecutive in the arena, so they form one [Q, C] matrix and one
// product makes q|k|v; gate and up likewise form one [2I, C] matrix.
//
// One block:  res2 = x + o_proj(attention(rope(qkv(rms_1(x)))));  res3 = res2 + down(swiglu(gu(rms_2(res2))))
// with attention grouped (query head h reads kv head ⌊h / (H/G)⌋) and RoPE in the half-split layout
// with θ_i = rope_theta^(−2i/D), stretched by the llama3 rule when `rope_scaling` is set. As in
// GPT2.swift, residual additions are folded into the projection GEMMs and the backward pass keeps
// one residual-gradient buffer.

import Foundation
import Kernels

final class Llama: Trunk {
    let config: ModelConfig
    let parameters: Arena
    let gradients: Arena
    private var activations: LlamaActivations?
    /// cos(p·θ_i), sin(p·θ_i) for every position p < context: [context, D/2].
    let ropeCos: [Float], ropeSin: [Float]

    static let tokenEmbedding = "model.embed_tokens.weight"

    static func tensors(_ config: ModelConfig) -> [(String, [Int])] {
        let c = config.embedding, q = config.heads * config.headDim, kv = config.kvHeads * config.headDim
        let i = config.intermediate
        var tensors: [(String, [Int])] = [(tokenEmbedding, [config.vocab, c])]
        for layer in 0..<config.layers {
            let p = "model.layers.\(layer)."
            tensors += [
                (p + "input_layernorm.weight", [c]),
                (p + "self_attn.q_proj.weight", [q, c]), (p + "self_attn.k_proj.weight", [kv, c]),
                (p + "self_attn.v_proj.weight", [kv, c]),
            ]
            if config.qkvBias {
                tensors += [(p + "self_attn.q_proj.bias", [q]), (p + "self_attn.k_proj.bias", [kv]),
                            (p + "self_attn.v_proj.bias", [kv])]
            }
            tensors += [
                (p + "self_attn.o_proj.weight", [c, q]),
                (p + "post_attention_layernorm.weight", [c]),
                (p + "mlp.gate_proj.weight", [i, c]), (p + "mlp.up_proj.weight", [i, c]),
                (p + "mlp.down_proj.weight", [c, i]),
            ]
        }
        return tensors + [("model.norm.weight", [c])]
    }

    /// Hugging Face's initialisation of Llama models: linear and embedding weights N(0, 0.02),
    /// biases 0, RMSNorm gains 1.
    static func initialization(of view: TensorView, config: ModelConfig) -> ParameterInit {
        if view.name.hasSuffix("layernorm.weight") || view.name == "model.norm.weight" { return .ones }
        return view.decays ? .normal(std: 0.02) : .zeros
    }

    init(config: ModelConfig, parameters: Arena, gradients: Arena) {
        self.config = config
        self.parameters = parameters
        self.gradients = gradients
        let frequencies = Self.inverseFrequencies(config)
        var cos = [Float](), sin = [Float]()
        cos.reserveCapacity(config.context * frequencies.count)
        sin.reserveCapacity(config.context * frequencies.count)
        for p in 0..<config.context {
            for theta in frequencies {
                let angle = Double(Float(p) * theta)                       // the angle in Float, as torch has it
                cos.append(Float(Foundation.cos(angle)))
                sin.append(Float(Foundation.sin(angle)))
            }
        }
        ropeCos = cos
        ropeSin = sin
    }

    /// θ_i for i < D/2, computed as Hugging Face computes them (in Float): rope_theta^(−2i/D), then
    /// for `llama3` scaling each wavelength 2π/θ is kept (short ones), divided by `factor` (long ones,
    /// beyond original_max_position_embeddings / low_freq_factor) or blended between the two.
    static func inverseFrequencies(_ config: ModelConfig) -> [Float] {
        let d = config.headDim, base = Float(config.ropeTheta)
        var frequencies = (0..<d / 2).map { i in 1 / Float.pow(base, Float(2 * i) / Float(d)) }
        guard let s = config.ropeScaling else { return frequencies }
        let factor = Float(s.factor), low = Float(s.lowFreqFactor), high = Float(s.highFreqFactor)
        let original = Float(s.originalContext)
        let lowFreqWavelength = original / low, highFreqWavelength = original / high
        frequencies = frequencies.map { theta in
            let wavelength = Float(2 * Double.pi) / theta
            let stretched = wavelength > lowFreqWavelength ? theta / factor : theta
            guard !(wavelength < highFreqWavelength) && !(wavelength > lowFreqWavelength) else { return stretched }
            let smooth = (original / wavelength - low) / (high - low)
            return (1 - smooth) * stretched / factor + smooth * stretched
        }
        return frequencies
    }

    // MARK: - Forward and backward

    func forward(tokens: [Int32], batch: Int, time: Int) -> UnsafeMutablePointer<Float> {
        let a = prepareActivations(batch: batch, time: time)
        a.tokens = tokens
        let c = config.embedding, n = batch * time
        embeddingForward(out: a.encoded, tokens: tokens, wte: parameters[Self.tokenEmbedding], wpe: nil,
                         batch: batch, time: time, channels: c)
        var x = UnsafePointer(a.encoded)
        for (i, block) in a.blocks.enumerated() {
            blockForward(block, x: x, weights: LlamaBlockWeights(parameters, layer: i, config: config), a: a)
            x = UnsafePointer(block.res3)
        }
        rmsNormForward(out: a.lnf, rstd: a.rstdf, x: x, weight: parameters["model.norm.weight"], rows: n, channels: c,
                       epsilon: Float(config.normEps))
        return a.lnf
    }

    var hiddenGradient: UnsafeMutablePointer<Float> { requireForward().scratch.dln }

    func backward() {
        let a = requireForward()
        let n = a.batch * a.time, c = config.embedding
        let d = a.scratch
        d.dres.update(repeating: 0, count: n * c)
        let last = a.blocks.last.map { UnsafePointer($0.res3) } ?? UnsafePointer(a.encoded)
        rmsNormBackward(dx: d.dres, dweight: gradients["model.norm.weight"], dout: d.dln, x: last,
                        weight: parameters["model.norm.weight"], rstd: a.rstdf, rows: n, channels: c)
        for i in a.blocks.indices.reversed() {
            let x = i == 0 ? UnsafePointer(a.encoded) : UnsafePointer(a.blocks[i - 1].res3)
            blockBackward(a.blocks[i], x: x, weights: LlamaBlockWeights(parameters, layer: i, config: config),
                          gradients: LlamaBlockWeights(gradients, layer: i, config: config), a: a)
        }
        embeddingBackward(dwte: gradients[Self.tokenEmbedding], dwpe: nil, dout: d.dres, tokens: a.tokens,
                          batch: a.batch, time: a.time, channels: c)
    }

    /// res3 = block(x), saving what the backward pass needs in `s`.
    private func blockForward(_ s: LlamaBlockActivations, x: UnsafePointer<Float>, weights w: LlamaBlockWeights,
                              a: LlamaActivations) {
        let n = a.batch * a.time, c = config.embedding, h = config.heads, g = config.kvHeads, d = config.headDim
        let q = (h + 2 * g) * d, i = config.intermediate, eps = Float(config.normEps)
        rmsNormForward(out: s.ln1, rstd: s.rstd1, x: x, weight: w.ln1, rows: n, channels: c, epsilon: eps)
        gemm(.nt, m: n, n: q, k: c, a: s.ln1, b: w.qkv, c: s.qkv, bias: w.qkvBias)
        ropeRotate(s.qkv, ld: q, rows: n, heads: h + g, headDim: d, positions: a.positions, cos: ropeCos, sin: ropeSin)
        groupedAttentionForward(out: s.atty, probs: s.probs, qkv: s.qkv, batch: a.batch, time: a.time,
                                heads: h, kvHeads: g, headDim: d)
        s.res2.update(from: x, count: n * c)
        gemm(.nt, m: n, n: c, k: h * d, a: s.atty, b: w.o, c: s.res2, accumulate: true)

        rmsNormForward(out: s.ln2, rstd: s.rstd2, x: s.res2, weight: w.ln2, rows: n, channels: c, epsilon: eps)
        gemm(.nt, m: n, n: 2 * i, k: c, a: s.ln2, b: w.gateUp, c: s.gu)
        swigluForward(out: s.act, gu: s.gu, rows: n, width: i)
        s.res3.update(from: s.res2, count: n * c)
        gemm(.nt, m: n, n: c, k: i, a: s.act, b: w.down, c: s.res3, accumulate: true)
    }

    /// Given dres = dL/d(res3), leaves dL/dx in dres and accumulates the block's weight gradients in gw.
    private func blockBackward(_ s: LlamaBlockActivations, x: UnsafePointer<Float>, weights w: LlamaBlockWeights,
                               gradients gw: LlamaBlockWeights, a: LlamaActivations) {
        let n = a.batch * a.time, c = config.embedding, h = config.heads, g = config.kvHeads, dh = config.headDim
        let q = (h + 2 * g) * dh, i = config.intermediate, d = a.scratch
        // MLP: res3 = res2 + act·W_downᵀ,  act = swiglu(gu),  gu = ln2·[W_gate; W_up]ᵀ
        gemm(.tn, m: c, n: i, k: n, a: d.dres, b: s.act, c: gw.down, accumulate: true)
        gemm(.nn, m: n, n: i, k: c, a: d.dres, b: w.down, c: d.dact)
        swigluBackward(dgu: d.dgu, dout: d.dact, gu: s.gu, rows: n, width: i)
        gemm(.tn, m: 2 * i, n: c, k: n, a: d.dgu, b: s.ln2, c: gw.gateUp, accumulate: true)
        gemm(.nn, m: n, n: c, k: 2 * i, a: d.dgu, b: w.gateUp, c: d.dln)
        rmsNormBackward(dx: d.dres, dweight: gw.ln2, dout: d.dln, x: s.res2, weight: w.ln2, rstd: s.rstd2, rows: n, channels: c)

        // Attention: res2 = x + atty·W_oᵀ,  atty = attention(rope(qkv)),  qkv = ln1·W_qkvᵀ + b_qkv
        gemm(.tn, m: c, n: h * dh, k: n, a: d.dres, b: s.atty, c: gw.o, accumulate: true)
        gemm(.nn, m: n, n: h * dh, k: c, a: d.dres, b: w.o, c: d.datty)
        groupedAttentionBackward(dqkv: d.dqkv, dout: d.datty, qkv: s.qkv, probs: s.probs, batch: a.batch, time: a.time,
                                 heads: h, kvHeads: g, headDim: dh)
        ropeRotate(d.dqkv, ld: q, rows: n, heads: h + g, headDim: dh, positions: a.positions, cos: ropeCos, sin: ropeSin,
                   inverse: true)
        if let bias = gw.qkvBias { sumRows(out: bias, x: d.dqkv, rows: n, columns: q) }
        gemm(.tn, m: q, n: c, k: n, a: d.dqkv, b: s.ln1, c: gw.qkv, accumulate: true)
        gemm(.nn, m: n, n: c, k: q, a: d.dqkv, b: w.qkv, c: d.dln)
        rmsNormBackward(dx: d.dres, dweight: gw.ln1, dout: d.dln, x: x, weight: w.ln1, rstd: s.rstd1, rows: n, channels: c)
    }

    private func prepareActivations(batch: Int, time: Int) -> LlamaActivations {
        if let a = activations, a.batch == batch, a.time == time { return a }
        let needed = LlamaActivations.size(config: config, batch: batch, time: time)
        var storage = activations?.storage
        if storage == nil || storage!.capacity < needed {
            activations = nil                                          // free before allocating anew
            storage = FloatStorage(capacity: needed)
        }
        let a = LlamaActivations(config: config, batch: batch, time: time, storage: storage!)
        activations = a
        return a
    }

    fileprivate func requireForward() -> LlamaActivations {
        guard let a = activations, !a.tokens.isEmpty else { preconditionFailure("call forward(tokens:) first") }
        return a
    }

    // MARK: - Decoding

    func decoderFloatCount(batch: Int, capacity: Int) -> Int {
        LlamaDecoder.floatCount(config: config, batch: batch, capacity: capacity)
    }

    func makeDecoder(batch: Int, capacity: Int, carver: inout FloatCarver) -> any TrunkDecoder {
        LlamaDecoder(model: self, batch: batch, capacity: capacity, carver: &carver)
    }
}

/// Pointers to one block's weights (or gradients: same names, same shapes).
struct LlamaBlockWeights {
    var ln1: UnsafeMutablePointer<Float>       // [C]
    var qkv: UnsafeMutablePointer<Float>       // [Q, C]   q_proj, k_proj, v_proj stacked
    var qkvBias: UnsafeMutablePointer<Float>?  // [Q]
    var o: UnsafeMutablePointer<Float>         // [C, H·D]
    var ln2: UnsafeMutablePointer<Float>       // [C]
    var gateUp: UnsafeMutablePointer<Float>    // [2I, C]  gate_proj, up_proj stacked
    var down: UnsafeMutablePointer<Float>      // [C, I]

    init(_ arena: Arena, layer i: Int, config: ModelConfig) {
        let p = "model.layers.\(i)."
        ln1 = arena[p + "input_layernorm.weight"]
        qkv = arena[p + "self_attn.q_proj.weight"]
        qkvBias = config.qkvBias ? arena[p + "self_attn.q_proj.bias"] : nil
        o = arena[p + "self_attn.o_proj.weight"]
        ln2 = arena[p + "post_attention_layernorm.weight"]
        gateUp = arena[p + "mlp.gate_proj.weight"]
        down = arena[p + "mlp.down_proj.weight"]
    }
}

// MARK: - Activations
//
// Memory (floats per layer): ln1, res2, ln2, res3: 4·N·C   qkv: N·Q   atty: N·H·D   gu: 2·N·I
// act: N·I   probs: B·H·T²   rstd ×2: 2·N. SmolLM2-135M (C 576, H 9, G 3, D 64, I 1536, L 30) at
// B 4, T 256: 9.0 k floats a row + 2.4 M floats of probabilities ≈ 46 MB a layer, 1.4 GB in all.
// Backward scratch (shared by all layers): dres, dln: 2·N·C   datty: N·H·D   dqkv: N·Q   dact: N·I
// dgu: 2·N·I.

/// The saved tensors of one block.
struct LlamaBlockActivations {
    var ln1: UnsafeMutablePointer<Float>      // [N, C]  RMSNorm 1 output
    var rstd1: UnsafeMutablePointer<Float>    // [N]
    var qkv: UnsafeMutablePointer<Float>      // [N, Q]  q|k|v, q and k after RoPE
    var probs: UnsafeMutablePointer<Float>    // [B, H, T, T]
    var atty: UnsafeMutablePointer<Float>     // [N, H·D] attention output, heads concatenated
    var res2: UnsafeMutablePointer<Float>     // [N, C]  residual after attention
    var ln2: UnsafeMutablePointer<Float>      // [N, C]
    var rstd2: UnsafeMutablePointer<Float>    // [N]
    var gu: UnsafeMutablePointer<Float>       // [N, 2I] gate | up
    var act: UnsafeMutablePointer<Float>      // [N, I]  silu(gate)·up
    var res3: UnsafeMutablePointer<Float>     // [N, C]  block output
}

/// Scratch for the backward pass, reused by every block.
struct LlamaBackwardScratch {
    var dres: UnsafeMutablePointer<Float>     // [N, C]  gradient of the residual stream
    var dln: UnsafeMutablePointer<Float>      // [N, C]  gradient of an RMSNorm output (first: of h)
    var datty: UnsafeMutablePointer<Float>    // [N, H·D]
    var dqkv: UnsafeMutablePointer<Float>     // [N, Q]
    var dact: UnsafeMutablePointer<Float>     // [N, I]
    var dgu: UnsafeMutablePointer<Float>      // [N, 2I]
}

/// All activations for one (B, T), carved from a shared storage.
final class LlamaActivations {
    let batch: Int, time: Int
    let storage: FloatStorage
    var blocks: [LlamaBlockActivations] = []
    let encoded: UnsafeMutablePointer<Float>   // [N, C] token embedding
    let lnf: UnsafeMutablePointer<Float>       // [N, C] final RMSNorm output (the heads' input)
    let rstdf: UnsafeMutablePointer<Float>     // [N]
    let scratch: LlamaBackwardScratch
    var tokens: [Int32] = []                   // [N] the batch's input tokens
    let positions: UnsafeMutablePointer<Int32> // [N] each row's position, t
    private let positionStorage: [Int32]

    static func size(config: ModelConfig, batch: Int, time: Int) -> Int {
        let n = batch * time, c = config.embedding, hd = config.heads * config.headDim, i = config.intermediate
        let q = hd + 2 * config.kvHeads * config.headDim
        let perBlock = 4 * n * c + n * q + n * hd + 3 * n * i + batch * config.heads * time * time + 2 * n
        return config.layers * perBlock + 2 * n * c + n + 2 * n * c + n * hd + n * q + 3 * n * i
    }

    init(config: ModelConfig, batch: Int, time: Int, storage: FloatStorage) {
        self.batch = batch
        self.time = time
        self.storage = storage
        let n = batch * time, c = config.embedding, hd = config.heads * config.headDim, i = config.intermediate
        let q = hd + 2 * config.kvHeads * config.headDim
        let capacity = Self.size(config: config, batch: batch, time: time)
        precondition(capacity <= storage.capacity, "activation storage too small")
        var carver = FloatCarver(storage)
        func carve(_ count: Int) -> UnsafeMutablePointer<Float> { carver.carve(count) }
        for _ in 0..<config.layers {
            blocks.append(LlamaBlockActivations(
                ln1: carve(n * c), rstd1: carve(n), qkv: carve(n * q), probs: carve(batch * config.heads * time * time),
                atty: carve(n * hd), res2: carve(n * c), ln2: carve(n * c), rstd2: carve(n), gu: carve(2 * n * i),
                act: carve(n * i), res3: carve(n * c)))
        }
        encoded = carve(n * c); lnf = carve(n * c); rstdf = carve(n)
        scratch = LlamaBackwardScratch(dres: carve(n * c), dln: carve(n * c), datty: carve(n * hd), dqkv: carve(n * q),
                                       dact: carve(n * i), dgu: carve(2 * n * i))
        precondition(carver.used == capacity, "activation layout does not add up")
        positionStorage = (0..<n).map { Int32($0 % time) }
        positions = .allocate(capacity: n)
        positions.initialize(from: positionStorage, count: n)
    }

    deinit { positions.deallocate() }
}

// MARK: - Decoding
//
// Cache (S = capacity, S' = S rounded up to 16): K and V once per kv head, not per query head.
//   keysT  : [L, B, G, D, S']  keys after RoPE, transposed (as `attentionRow` reads them)
//   values : [L, B, S, G·D]
// Query head h attends with the keys and values of kv head ⌊h / (H/G)⌋. The block's three weight
// matrices are packed once per prefill (KVCache.swift says why).

final class LlamaDecoder: TrunkDecoder {
    let model: Llama
    let batch: Int
    let capacity: Int
    private let keyStride: Int
    private let keysT: UnsafeMutablePointer<Float>
    private let values: UnsafeMutablePointer<Float>
    // Step buffers, one row per sequence.
    private let x, ln, qkv, atty, gu, act: UnsafeMutablePointer<Float>
    private let rstd, probs: UnsafeMutablePointer<Float>
    private let packedRegion: UnsafeMutablePointer<Float>
    private var packed: [PackedLlamaBlock] = []

    static func floatCount(config: ModelConfig, batch: Int, capacity s: Int) -> Int {
        let c = config.embedding, l = config.layers, kv = config.kvHeads * config.headDim, stride = (s + 15) / 16 * 16
        let hd = config.heads * config.headDim, q = hd + 2 * kv, i = config.intermediate
        let stepBuffers = batch * (2 * c + q + hd + 3 * i)                   // x, ln, qkv, atty, gu, act
        return l * batch * kv * stride + l * batch * s * kv + stepBuffers + batch + batch * config.heads * stride
            + l * PackedLlamaBlock.floatCount(config: config)
    }

    init(model: Llama, batch: Int, capacity s: Int, carver: inout FloatCarver) {
        let config = model.config, c = config.embedding, l = config.layers, kv = config.kvHeads * config.headDim
        let hd = config.heads * config.headDim, q = hd + 2 * kv, i = config.intermediate
        self.model = model
        self.batch = batch
        self.capacity = s
        keyStride = (s + 15) / 16 * 16
        let start = carver.used
        keysT = carver.carve(l * batch * kv * keyStride); values = carver.carve(l * batch * s * kv)
        x = carver.carve(batch * c); ln = carver.carve(batch * c); qkv = carver.carve(batch * q)
        atty = carver.carve(batch * hd); gu = carver.carve(batch * 2 * i); act = carver.carve(batch * i)
        rstd = carver.carve(batch)
        probs = carver.carve(batch * config.heads * keyStride)
        packedRegion = carver.carve(l * PackedLlamaBlock.floatCount(config: config))
        precondition(carver.used - start == Self.floatCount(config: config, batch: batch, capacity: s), "decoder layout does not add up")
    }

    func prefill(prompts: [[Int32]]) -> UnsafePointer<Float> {
        let config = model.config, c = config.embedding, g = config.kvHeads, d = config.headDim
        let q = (config.heads + 2 * g) * d, kOffset = config.heads * d
        let time = prompts.map(\.count).max()!
        let lengths = prompts.map(\.count)
        let padded = prompts.flatMap { $0 + Array(repeating: $0.last!, count: time - $0.count) }
        let lnf = model.forward(tokens: padded, batch: batch, time: time)
        let a = model.requireForward()
        for layer in 0..<config.layers {
            let qkvRows = a.blocks[layer].qkv                           // [B, time, Q]
            for b in 0..<batch {
                for t in 0..<time { store(row: qkvRows + (b * time + t) * q + kOffset, layer: layer, batch: b, position: t) }
            }
        }
        for b in 0..<batch {                                             // each row's last real position
            ln.advanced(by: b * c).update(from: lnf + (b * time + lengths[b] - 1) * c, count: c)
        }
        let perLayer = PackedLlamaBlock.floatCount(config: config)
        packed = (0..<config.layers).map {
            PackedLlamaBlock(LlamaBlockWeights(model.parameters, layer: $0, config: config), config: config,
                             into: packedRegion + $0 * perLayer)
        }
        return UnsafePointer(ln)
    }

    func step(tokens: [Int32], positions lengths: [Int]) -> UnsafePointer<Float> {
        precondition(!packed.isEmpty, "step before prefill")
        let config = model.config, c = config.embedding, h = config.heads, g = config.kvHeads, d = config.headDim
        let q = (h + 2 * g) * d, i = config.intermediate, eps = Float(config.normEps), group = h / g
        let p = model.parameters
        embeddingForward(out: x, tokens: tokens, wte: p[Llama.tokenEmbedding], wpe: nil, batch: batch, time: 1, channels: c)
        let positions = lengths.map { Int32($0) }
        let scale = 1 / Float(d).squareRoot()
        for layer in 0..<config.layers {
            let w = LlamaBlockWeights(p, layer: layer, config: config), packedBlock = packed[layer]
            rmsNormForward(out: ln, rstd: rstd, x: x, weight: w.ln1, rows: batch, channels: c, epsilon: eps)
            gemm(.nt, m: batch, a: ln, lda: c, b: packedBlock.qkv, c: qkv, ldc: q, bias: w.qkvBias)
            positions.withUnsafeBufferPointer {
                ropeRotate(qkv, ld: q, rows: batch, heads: h + g, headDim: d, positions: $0.baseAddress!,
                           cos: model.ropeCos, sin: model.ropeSin)
            }
            Parallel.forEachChunk(batch) { b in
                let row = qkv + b * q, t = lengths[b]
                store(row: row + h * d, layer: layer, batch: b, position: t)
                for head in 0..<h {
                    let kvHead = head / group
                    attentionRow(out: atty + (b * h + head) * d, probs: probs + (b * h + head) * keyStride,
                                 q: row + head * d, kT: keyColumns(layer: layer, row: b, kvHead: kvHead), ldk: keyStride,
                                 v: valueRow(layer: layer, row: b, position: 0) + kvHead * d, ldv: g * d,
                                 keys: t + 1, headSize: d, scale: scale)
                }
            }
            gemm(.nt, m: batch, a: atty, lda: h * d, b: packedBlock.o, c: x, ldc: c, accumulate: true)
            rmsNormForward(out: ln, rstd: rstd, x: x, weight: w.ln2, rows: batch, channels: c, epsilon: eps)
            gemm(.nt, m: batch, a: ln, lda: c, b: packedBlock.gateUp, c: gu, ldc: 2 * i)
            swigluForward(out: act, gu: gu, rows: batch, width: i)
            gemm(.nt, m: batch, a: act, lda: i, b: packedBlock.down, c: x, ldc: c, accumulate: true)
        }
        rmsNormForward(out: ln, rstd: rstd, x: x, weight: p["model.norm.weight"], rows: batch, channels: c, epsilon: eps)
        return UnsafePointer(ln)
    }

    /// Stores one position's k (after RoPE) and v, `kv` = k|v of G heads each, into the cache.
    private func store(row kv: UnsafePointer<Float>, layer: Int, batch b: Int, position t: Int) {
        let g = model.config.kvHeads, d = model.config.headDim
        for head in 0..<g {
            let kT = keyColumns(layer: layer, row: b, kvHead: head)
            for k in 0..<d { kT[k * keyStride + t] = kv[head * d + k] }
        }
        valueRow(layer: layer, row: b, position: t).update(from: kv + g * d, count: g * d)
    }

    /// Keys of one kv head, transposed: [D, keyStride].
    private func keyColumns(layer: Int, row: Int, kvHead: Int) -> UnsafeMutablePointer<Float> {
        let g = model.config.kvHeads, d = model.config.headDim
        return keysT + (((layer * batch + row) * g + kvHead) * d) * keyStride
    }

    /// The cached value vectors [G·D] of one position.
    private func valueRow(layer: Int, row: Int, position: Int) -> UnsafeMutablePointer<Float> {
        let kv = model.config.kvHeads * model.config.headDim
        return values + ((layer * batch + row) * capacity + position) * kv
    }
}

/// One block's three weight matrices, packed for skinny products (each stored [out, in]: `.nt`).
private struct PackedLlamaBlock {
    let qkv, o, gateUp, down: GEMMPackedB

    /// (K, N) of qkv, o_proj, gate|up, down_proj.
    static func shapes(_ config: ModelConfig) -> [(k: Int, n: Int)] {
        let c = config.embedding, hd = config.heads * config.headDim, i = config.intermediate
        return [(c, hd + 2 * config.kvHeads * config.headDim), (hd, c), (c, 2 * i), (i, c)]
    }

    static func floatCount(config: ModelConfig) -> Int {
        shapes(config).reduce(0) { $0 + GEMMPackedB.floatCount(k: $1.k, n: $1.n) }
    }

    init(_ w: LlamaBlockWeights, config: ModelConfig, into region: UnsafeMutablePointer<Float>) {
        var next = region
        func pack(_ b: UnsafeMutablePointer<Float>, _ shape: (k: Int, n: Int)) -> GEMMPackedB {
            defer { next += GEMMPackedB.floatCount(k: shape.k, n: shape.n) }
            return GEMMPackedB(.nt, k: shape.k, n: shape.n, b: b, into: next)
        }
        let shapes = Self.shapes(config)
        qkv = pack(w.qkv, shapes[0]); o = pack(w.o, shapes[1])
        gateUp = pack(w.gateUp, shapes[2]); down = pack(w.down, shapes[3])
    }
}
