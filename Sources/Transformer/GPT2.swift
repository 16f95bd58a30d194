// GPT-2 behind the causal-LM seam: token + learned position embeddings → L pre-LayerNorm blocks →
// final LayerNorm. Its layout, initialisation, forward and backward, activations and KV-cache
// decoding, in that order.
//
// Legend: B batch, T positions, N = B·T rows, C channels, H heads, D = C/H, I MLP width (4C for
// GPT-2), V vocabulary, L layers.
//
// Parameters, under Hugging Face GPT-2 names, weights stored [in, out] like GPT-2's Conv1D:
//   wte [V, C]   wpe [T, C]
//   h.i.ln_1.weight/bias [C]   h.i.attn.c_attn.weight [C, 3C] / bias [3C]
//   h.i.attn.c_proj.weight [C, C] / bias [C]   h.i.ln_2.weight/bias [C]
//   h.i.mlp.c_fc.weight [C, I] / bias [I]   h.i.mlp.c_proj.weight [I, C] / bias [C]
//   ln_f.weight/bias [C]
//
// One block:  res2 = x + attn(ln_1(x));  res3 = res2 + mlp(ln_2(res2))
//   attn(h) = c_proj(attention(c_attn(h)))    mlp(h) = c_proj(gelu(c_fc(h)))
// The residual additions are folded into the projection GEMMs: res2 is first set to x, then the
// projection accumulates into it with its bias, so no separate residual pass touches memory.
// The backward pass keeps one residual-gradient buffer `dres`: the identity path of each residual
// needs no work, and each branch adds its contribution through LayerNorm's accumulating backward.

import Kernels

final class GPT2: Trunk {
    let config: ModelConfig
    let parameters: Arena
    let gradients: Arena
    private var activations: GPT2Activations?

    static let tokenEmbedding = "wte"

    static func tensors(_ config: ModelConfig) -> [(String, [Int])] {
        let c = config.embedding, i = config.intermediate
        var tensors: [(String, [Int])] = [("wte", [config.vocab, c]), ("wpe", [config.context, c])]
        for layer in 0..<config.layers {
            let p = "h.\(layer)."
            tensors += [
                (p + "ln_1.weight", [c]), (p + "ln_1.bias", [c]),
                (p + "attn.c_attn.weight", [c, 3 * c]), (p + "attn.c_attn.bias", [3 * c]),
                (p + "attn.c_proj.weight", [c, c]), (p + "attn.c_proj.bias", [c]),
                (p + "ln_2.weight", [c]), (p + "ln_2.bias", [c]),
                (p + "mlp.c_fc.weight", [c, i]), (p + "mlp.c_fc.bias", [i]),
                (p + "mlp.c_proj.weight", [i, c]), (p + "mlp.c_proj.bias", [c]),
            ]
        }
        return tensors + [("ln_f.weight", [c]), ("ln_f.bias", [c])]
    }

    /// GPT-2's initialisation: weights N(0, 0.02), the two residual projections of each block
    /// N(0, 0.02/√(2L)) so the residual stream's variance does not grow with depth, biases 0,
    /// LayerNorm gains 1.
    static func initialization(of view: TensorView, config: ModelConfig) -> ParameterInit {
        if view.name.hasSuffix("ln_1.weight") || view.name.hasSuffix("ln_2.weight") || view.name == "ln_f.weight" { return .ones }
        guard view.decays else { return .zeros }
        return .normal(std: view.name.hasSuffix("c_proj.weight") ? 0.02 / Float(2 * config.layers).squareRoot() : 0.02)
    }

    init(config: ModelConfig, parameters: Arena, gradients: Arena) {
        self.config = config
        self.parameters = parameters
        self.gradients = gradients
    }

    // MARK: - Forward and backward

    func forward(tokens: [Int32], batch: Int, time: Int) -> UnsafeMutablePointer<Float> {
        let a = prepareActivations(batch: batch, time: time)
        a.tokens = tokens
        let c = config.embedding, n = batch * time
        embeddingForward(out: a.encoded, tokens: tokens, wte: parameters["wte"], wpe: parameters["wpe"],
                         batch: batch, time: time, channels: c)
        let shape = blockShape(a)
        var x = UnsafePointer(a.encoded)
        for (i, block) in a.blocks.enumerated() {
            gpt2BlockForward(block, x: x, weights: GPT2BlockWeights(parameters, layer: i), shape: shape)
            x = UnsafePointer(block.res3)
        }
        layerNormForward(out: a.lnf, mean: a.meanf, rstd: a.rstdf, x: x,
                         weight: parameters["ln_f.weight"], bias: parameters["ln_f.bias"], rows: n, channels: c)
        return a.lnf
    }

    var hiddenGradient: UnsafeMutablePointer<Float> { requireForward().scratch.dln }

    func backward() {
        let a = requireForward()
        let n = a.batch * a.time, c = config.embedding
        let d = a.scratch
        d.dres.update(repeating: 0, count: n * c)
        let last = a.blocks.last.map { UnsafePointer($0.res3) } ?? UnsafePointer(a.encoded)
        layerNormBackward(dx: d.dres, dweight: gradients["ln_f.weight"], dbias: gradients["ln_f.bias"], dout: d.dln,
                          x: last, weight: parameters["ln_f.weight"], mean: a.meanf, rstd: a.rstdf, rows: n, channels: c)
        let shape = blockShape(a)
        for i in a.blocks.indices.reversed() {
            let x = i == 0 ? UnsafePointer(a.encoded) : UnsafePointer(a.blocks[i - 1].res3)
            gpt2BlockBackward(a.blocks[i], x: x, weights: GPT2BlockWeights(parameters, layer: i),
                              gradients: GPT2BlockWeights(gradients, layer: i), scratch: d, shape: shape)
        }
        embeddingBackward(dwte: gradients["wte"], dwpe: gradients["wpe"], dout: d.dres, tokens: a.tokens,
                          batch: a.batch, time: a.time, channels: c)
    }

    private func prepareActivations(batch: Int, time: Int) -> GPT2Activations {
        if let a = activations, a.batch == batch, a.time == time { return a }
        let needed = GPT2Activations.size(config: config, batch: batch, time: time)
        var storage = activations?.storage
        if storage == nil || storage!.capacity < needed {
            activations = nil                                          // free before allocating anew
            storage = FloatStorage(capacity: needed)
        }
        let a = GPT2Activations(config: config, batch: batch, time: time, storage: storage!)
        activations = a
        return a
    }

    fileprivate func requireForward() -> GPT2Activations {
        guard let a = activations, !a.tokens.isEmpty else { preconditionFailure("call forward(tokens:) first") }
        return a
    }

    private func blockShape(_ a: GPT2Activations) -> GPT2BlockShape {
        GPT2BlockShape(batch: a.batch, time: a.time, channels: config.embedding, heads: config.heads,
                       intermediate: config.intermediate)
    }

    // MARK: - Decoding

    func decoderFloatCount(batch: Int, capacity: Int) -> Int {
        GPT2Decoder.floatCount(config: config, batch: batch, capacity: capacity)
    }

    func makeDecoder(batch: Int, capacity: Int, carver: inout FloatCarver) -> any TrunkDecoder {
        GPT2Decoder(model: self, batch: batch, capacity: capacity, carver: &carver)
    }
}

// MARK: - The block

/// Pointers to one block's weights (or gradients: same names, same shapes).
struct GPT2BlockWeights {
    var ln1w, ln1b, attnW, attnB, projW, projB, ln2w, ln2b, fcW, fcB, mlpW, mlpB: UnsafeMutablePointer<Float>

    init(_ arena: Arena, layer i: Int) {
        let p = "h.\(i)."
        ln1w = arena[p + "ln_1.weight"]; ln1b = arena[p + "ln_1.bias"]
        attnW = arena[p + "attn.c_attn.weight"]; attnB = arena[p + "attn.c_attn.bias"]
        projW = arena[p + "attn.c_proj.weight"]; projB = arena[p + "attn.c_proj.bias"]
        ln2w = arena[p + "ln_2.weight"]; ln2b = arena[p + "ln_2.bias"]
        fcW = arena[p + "mlp.c_fc.weight"]; fcB = arena[p + "mlp.c_fc.bias"]
        mlpW = arena[p + "mlp.c_proj.weight"]; mlpB = arena[p + "mlp.c_proj.bias"]
    }
}

/// The dimensions every block function needs.
struct GPT2BlockShape {
    let batch: Int, time: Int, channels: Int, heads: Int, intermediate: Int
    var rows: Int { batch * time }
}

/// res3 = block(x), saving what the backward pass needs in `a`.
func gpt2BlockForward(_ a: GPT2BlockActivations, x: UnsafePointer<Float>, weights w: GPT2BlockWeights, shape s: GPT2BlockShape) {
    let n = s.rows, c = s.channels, i = s.intermediate
    layerNormForward(out: a.ln1, mean: a.mean1, rstd: a.rstd1, x: x, weight: w.ln1w, bias: w.ln1b, rows: n, channels: c)
    gemm(.nn, m: n, n: 3 * c, k: c, a: a.ln1, b: w.attnW, c: a.qkv, bias: w.attnB)
    attentionForward(out: a.atty, probs: a.probs, qkv: a.qkv, batch: s.batch, time: s.time, channels: c, heads: s.heads)
    a.res2.update(from: x, count: n * c)
    gemm(.nn, m: n, n: c, k: c, a: a.atty, b: w.projW, c: a.res2, bias: w.projB, accumulate: true)

    layerNormForward(out: a.ln2, mean: a.mean2, rstd: a.rstd2, x: a.res2, weight: w.ln2w, bias: w.ln2b, rows: n, channels: c)
    gemm(.nn, m: n, n: i, k: c, a: a.ln2, b: w.fcW, c: a.fch, bias: w.fcB)
    geluForward(out: a.fcg, x: a.fch, count: n * i)
    a.res3.update(from: a.res2, count: n * c)
    gemm(.nn, m: n, n: c, k: i, a: a.fcg, b: w.mlpW, c: a.res3, bias: w.mlpB, accumulate: true)
}

/// Given dres = dL/d(res3), leaves dL/dx in dres and accumulates the block's weight gradients in g.
func gpt2BlockBackward(_ a: GPT2BlockActivations, x: UnsafePointer<Float>, weights w: GPT2BlockWeights, gradients g: GPT2BlockWeights,
                       scratch d: GPT2BackwardScratch, shape s: GPT2BlockShape) {
    let n = s.rows, c = s.channels, i = s.intermediate
    // MLP: res3 = res2 + fcg·W_mlp + b_mlp,  fcg = gelu(fch),  fch = ln2·W_fc + b_fc
    gemm(.tn, m: i, n: c, k: n, a: a.fcg, b: d.dres, c: g.mlpW, accumulate: true)
    sumRows(out: g.mlpB, x: d.dres, rows: n, columns: c)
    gemm(.nt, m: n, n: i, k: c, a: d.dres, b: w.mlpW, c: d.dfcg)
    d.dfch.update(repeating: 0, count: n * i)
    geluBackward(dx: d.dfch, dout: d.dfcg, x: a.fch, count: n * i)
    gemm(.tn, m: c, n: i, k: n, a: a.ln2, b: d.dfch, c: g.fcW, accumulate: true)
    sumRows(out: g.fcB, x: d.dfch, rows: n, columns: i)
    gemm(.nt, m: n, n: c, k: i, a: d.dfch, b: w.fcW, c: d.dln)
    layerNormBackward(dx: d.dres, dweight: g.ln2w, dbias: g.ln2b, dout: d.dln, x: a.res2, weight: w.ln2w,
                      mean: a.mean2, rstd: a.rstd2, rows: n, channels: c)

    // Attention: res2 = x + atty·W_proj + b_proj,  atty = attention(qkv),  qkv = ln1·W_attn + b_attn
    gemm(.tn, m: c, n: c, k: n, a: a.atty, b: d.dres, c: g.projW, accumulate: true)
    sumRows(out: g.projB, x: d.dres, rows: n, columns: c)
    gemm(.nt, m: n, n: c, k: c, a: d.dres, b: w.projW, c: d.datty)
    attentionBackward(dqkv: d.dqkv, dout: d.datty, qkv: a.qkv, probs: a.probs,
                      batch: s.batch, time: s.time, channels: c, heads: s.heads)
    gemm(.tn, m: c, n: 3 * c, k: n, a: a.ln1, b: d.dqkv, c: g.attnW, accumulate: true)
    sumRows(out: g.attnB, x: d.dqkv, rows: n, columns: 3 * c)
    gemm(.nt, m: n, n: c, k: 3 * c, a: d.dqkv, b: w.attnW, c: d.dln)
    layerNormBackward(dx: d.dres, dweight: g.ln1w, dbias: g.ln1b, dout: d.dln, x: x, weight: w.ln1w,
                      mean: a.mean1, rstd: a.rstd1, rows: n, channels: c)
}

// MARK: - Activations
//
// Memory (floats; `small` = L6 C384 H6 T256 B8 I=4C, so N = 2048):
//   per layer   ln1, atty, res2, ln2, res3: 5·N·C   qkv: 3·N·C   fch, fcg: 2·N·I   probs: B·H·T²
//               mean/rstd ×2: 4·N                    → 16·N·C + B·H·T² ≈ 12.6 M + 3.1 M floats
//   trunk end   encoded, lnf: 2·N·C   (the heads keep lse [N] and one chunk of logits, CausalLM.swift)
//   backward    dres, dln, datty: 3·N·C   dqkv: 3·N·C   dfcg, dfch: 2·N·I   (shared by all layers)
// For `small`: 6 × 63 MB of layer activations + 14 MB + 44 MB of scratch ≈ 440 MB, beside 43 MB of
// weights, 43 MB of gradients and 87 MB of AdamW moments: ≈ 0.6 GB per training step. The minimum
// the math needs (inputs of every GEMM, LayerNorm and GELU backward, and the attention
// probabilities) is the same set less fcg (recomputable from fch): within 1.2× of it.

/// The saved tensors of one block.
struct GPT2BlockActivations {
    var ln1: UnsafeMutablePointer<Float>      // [N, C]  LayerNorm 1 output
    var mean1: UnsafeMutablePointer<Float>    // [N]
    var rstd1: UnsafeMutablePointer<Float>    // [N]
    var qkv: UnsafeMutablePointer<Float>      // [N, 3C]
    var probs: UnsafeMutablePointer<Float>    // [B, H, T, T]
    var atty: UnsafeMutablePointer<Float>     // [N, C]  attention output, heads concatenated
    var res2: UnsafeMutablePointer<Float>     // [N, C]  residual after attention
    var ln2: UnsafeMutablePointer<Float>      // [N, C]
    var mean2: UnsafeMutablePointer<Float>    // [N]
    var rstd2: UnsafeMutablePointer<Float>    // [N]
    var fch: UnsafeMutablePointer<Float>      // [N, I] MLP hidden before GELU
    var fcg: UnsafeMutablePointer<Float>      // [N, I] after GELU
    var res3: UnsafeMutablePointer<Float>     // [N, C]  block output
}

/// Scratch for the backward pass, reused by every block.
struct GPT2BackwardScratch {
    var dres: UnsafeMutablePointer<Float>     // [N, C]  gradient of the residual stream
    var dln: UnsafeMutablePointer<Float>      // [N, C]  gradient of a LayerNorm output (first: of h)
    var datty: UnsafeMutablePointer<Float>    // [N, C]
    var dqkv: UnsafeMutablePointer<Float>     // [N, 3C]
    var dfcg: UnsafeMutablePointer<Float>     // [N, I]
    var dfch: UnsafeMutablePointer<Float>     // [N, I]
}

/// All activations for one (B, T), carved from a shared storage.
final class GPT2Activations {
    let batch: Int, time: Int
    let storage: FloatStorage
    var blocks: [GPT2BlockActivations] = []
    let encoded: UnsafeMutablePointer<Float>   // [N, C] token + position embedding
    let lnf: UnsafeMutablePointer<Float>       // [N, C] final LayerNorm output (the heads' input)
    let meanf: UnsafeMutablePointer<Float>     // [N]
    let rstdf: UnsafeMutablePointer<Float>     // [N]
    let scratch: GPT2BackwardScratch
    var tokens: [Int32] = []                   // [N] the batch's input tokens

    /// Floats needed for (B, T).
    static func size(config: ModelConfig, batch: Int, time: Int) -> Int {
        let n = batch * time, c = config.embedding, i = config.intermediate
        let perBlock = 8 * n * c + 2 * n * i + batch * config.heads * time * time + 4 * n
        return config.layers * perBlock + 2 * n * c + 2 * n + 6 * n * c + 2 * n * i
    }

    /// Carves (B, T) activations from `storage`, which must hold `size(config:batch:time:)` floats.
    init(config: ModelConfig, batch: Int, time: Int, storage: FloatStorage) {
        self.batch = batch
        self.time = time
        self.storage = storage
        let n = batch * time, c = config.embedding, i = config.intermediate
        let capacity = Self.size(config: config, batch: batch, time: time)
        precondition(capacity <= storage.capacity, "activation storage too small")
        var carver = FloatCarver(storage)
        func carve(_ count: Int) -> UnsafeMutablePointer<Float> { carver.carve(count) }
        for _ in 0..<config.layers {
            blocks.append(GPT2BlockActivations(
                ln1: carve(n * c), mean1: carve(n), rstd1: carve(n), qkv: carve(3 * n * c),
                probs: carve(batch * config.heads * time * time), atty: carve(n * c), res2: carve(n * c),
                ln2: carve(n * c), mean2: carve(n), rstd2: carve(n), fch: carve(n * i),
                fcg: carve(n * i), res3: carve(n * c)))
        }
        encoded = carve(n * c); lnf = carve(n * c); meanf = carve(n); rstdf = carve(n)
        scratch = GPT2BackwardScratch(dres: carve(n * c), dln: carve(n * c), datty: carve(n * c),
                                      dqkv: carve(3 * n * c), dfcg: carve(n * i), dfch: carve(n * i))
        precondition(carver.used == capacity, "activation layout does not add up")
    }
}

// MARK: - Decoding
//
// Cache (S = capacity, S' = S rounded up to 16, because attention scores are computed in whole vectors):
//   keysT  : [L, B, H, D, S']  keys stored transposed, as `attentionRow` reads them (scores run
//                              along positions with full SIMD width)
//   values : [L, B, S, C]
// The block's four weight matrices are packed for the GEMM once per prefill (`GEMMPackedB`, see
// KVCache.swift for why).

final class GPT2Decoder: TrunkDecoder {
    let model: GPT2
    let batch: Int
    let capacity: Int
    /// Row stride of the transposed keys and of the attention probabilities (see `attentionRow`).
    private let keyStride: Int
    private let keysT: UnsafeMutablePointer<Float>
    private let values: UnsafeMutablePointer<Float>
    // Step buffers, one row per sequence.
    private let x, ln, qkv, atty, fch, fcg: UnsafeMutablePointer<Float>
    private let mean, rstd, probs: UnsafeMutablePointer<Float>
    /// The block weights, packed into `packedRegion` at `prefill` (nil before).
    private let packedRegion: UnsafeMutablePointer<Float>
    private var packed: [PackedBlockWeights] = []

    static func floatCount(config: ModelConfig, batch: Int, capacity s: Int) -> Int {
        let c = config.embedding, i = config.intermediate, l = config.layers, stride = (s + 15) / 16 * 16
        let stepBuffers = (1 + 1 + 3 + 1) * batch * c + 2 * batch * i              // x, ln, qkv, atty, fch, fcg
        return l * batch * c * stride + l * batch * s * c + stepBuffers + 2 * batch + batch * config.heads * stride
            + l * PackedBlockWeights.floatCount(channels: c, intermediate: i)
    }

    init(model: GPT2, batch: Int, capacity s: Int, carver: inout FloatCarver) {
        let config = model.config, c = config.embedding, i = config.intermediate, l = config.layers
        self.model = model
        self.batch = batch
        self.capacity = s
        keyStride = (s + 15) / 16 * 16
        let start = carver.used
        keysT = carver.carve(l * batch * c * keyStride); values = carver.carve(l * batch * s * c)
        x = carver.carve(batch * c); ln = carver.carve(batch * c)
        qkv = carver.carve(batch * 3 * c); atty = carver.carve(batch * c)
        fch = carver.carve(batch * i); fcg = carver.carve(batch * i)
        mean = carver.carve(batch); rstd = carver.carve(batch)
        probs = carver.carve(batch * config.heads * keyStride)
        packedRegion = carver.carve(l * PackedBlockWeights.floatCount(channels: c, intermediate: i))
        precondition(carver.used - start == Self.floatCount(config: config, batch: batch, capacity: s), "decoder layout does not add up")
    }

    func prefill(prompts: [[Int32]]) -> UnsafePointer<Float> {
        let config = model.config, c = config.embedding, h = config.heads, d = config.headDim
        let time = prompts.map(\.count).max()!
        let lengths = prompts.map(\.count)
        let padded = prompts.flatMap { $0 + Array(repeating: $0.last!, count: time - $0.count) }
        let lnf = model.forward(tokens: padded, batch: batch, time: time)
        let a = model.requireForward()
        for layer in 0..<config.layers {
            let qkvRows = a.blocks[layer].qkv                           // [B, time, 3C]
            for b in 0..<batch {
                for t in 0..<time {
                    let row = qkvRows + (b * time + t) * 3 * c
                    for head in 0..<h {
                        let kT = keyColumns(layer: layer, row: b, head: head)
                        for k in 0..<d { kT[k * keyStride + t] = row[c + head * d + k] }
                    }
                    valueRow(layer: layer, row: b, position: t).update(from: row + 2 * c, count: c)
                }
            }
        }
        for b in 0..<batch {                                             // each row's last real position
            ln.advanced(by: b * c).update(from: lnf + (b * time + lengths[b] - 1) * c, count: c)
        }
        let perLayer = PackedBlockWeights.floatCount(channels: c, intermediate: config.intermediate)
        packed = (0..<config.layers).map {                              // the weights as they are now
            PackedBlockWeights(GPT2BlockWeights(model.parameters, layer: $0), channels: c, intermediate: config.intermediate,
                               into: packedRegion + $0 * perLayer)
        }
        return UnsafePointer(ln)
    }

    func step(tokens: [Int32], positions lengths: [Int]) -> UnsafePointer<Float> {
        precondition(!packed.isEmpty, "step before prefill")
        let config = model.config, c = config.embedding, h = config.heads, d = config.headDim, i = config.intermediate
        let p = model.parameters
        let positions = lengths.map { Int32($0) }
        embeddingForward(out: x, tokens: tokens, wte: p["wte"], wpe: p["wpe"], batch: batch, time: 1,
                         channels: c, startPositions: positions)
        let scale = 1 / Float(d).squareRoot()
        for layer in 0..<config.layers {
            let w = GPT2BlockWeights(p, layer: layer), packedBlock = packed[layer]
            layerNormForward(out: ln, mean: mean, rstd: rstd, x: x, weight: w.ln1w, bias: w.ln1b, rows: batch, channels: c)
            gemm(.nn, m: batch, a: ln, lda: c, b: packedBlock.attn, c: qkv, ldc: 3 * c, bias: w.attnB)
            // Rows are independent: each appends to its own cache and attends over it. In parallel
            // whatever the length: the work is reading the cache, which the flop count understates
            // (small, 2 threads: 124 ms with the flop threshold, 107–117 ms without).
            Parallel.forEachChunk(batch) { b in
                let row = qkv + b * 3 * c, t = lengths[b]
                for head in 0..<h {
                    let kT = keyColumns(layer: layer, row: b, head: head)
                    for k in 0..<d { kT[k * keyStride + t] = row[c + head * d + k] }
                }
                valueRow(layer: layer, row: b, position: t).update(from: row + 2 * c, count: c)
                for head in 0..<h {
                    attentionRow(out: atty + b * c + head * d, probs: probs + (b * h + head) * keyStride,
                                 q: row + head * d, kT: keyColumns(layer: layer, row: b, head: head), ldk: keyStride,
                                 v: valueRow(layer: layer, row: b, position: 0) + head * d, ldv: c,
                                 keys: t + 1, headSize: d, scale: scale)
                }
            }
            gemm(.nn, m: batch, a: atty, lda: c, b: packedBlock.proj, c: x, ldc: c, bias: w.projB, accumulate: true)
            layerNormForward(out: ln, mean: mean, rstd: rstd, x: x, weight: w.ln2w, bias: w.ln2b, rows: batch, channels: c)
            gemm(.nn, m: batch, a: ln, lda: c, b: packedBlock.fc, c: fch, ldc: i, bias: w.fcB)
            geluForward(out: fcg, x: fch, count: batch * i)
            gemm(.nn, m: batch, a: fcg, lda: i, b: packedBlock.mlp, c: x, ldc: c, bias: w.mlpB, accumulate: true)
        }
        layerNormForward(out: ln, mean: mean, rstd: rstd, x: x, weight: p["ln_f.weight"], bias: p["ln_f.bias"],
                         rows: batch, channels: c)
        return UnsafePointer(ln)
    }

    /// Keys of one head, transposed: [D, keyStride].
    private func keyColumns(layer: Int, row: Int, head: Int) -> UnsafeMutablePointer<Float> {
        let c = model.config.embedding, d = model.config.headDim
        return keysT + ((layer * batch + row) * c + head * d) * keyStride
    }

    /// The cached value vector [C] of one position.
    private func valueRow(layer: Int, row: Int, position: Int) -> UnsafeMutablePointer<Float> {
        let c = model.config.embedding
        return values + ((layer * batch + row) * capacity + position) * c
    }
}

/// One block's four weight matrices, packed for skinny products, one after the other.
private struct PackedBlockWeights {
    let attn, proj, fc, mlp: GEMMPackedB

    /// (K, N) of c_attn, attn c_proj, c_fc, mlp c_proj.
    static func shapes(channels c: Int, intermediate i: Int) -> [(k: Int, n: Int)] { [(c, 3 * c), (c, c), (c, i), (i, c)] }

    static func floatCount(channels c: Int, intermediate i: Int) -> Int {
        shapes(channels: c, intermediate: i).reduce(0) { $0 + GEMMPackedB.floatCount(k: $1.k, n: $1.n) }
    }

    init(_ w: GPT2BlockWeights, channels c: Int, intermediate i: Int, into region: UnsafeMutablePointer<Float>) {
        var next = region
        func pack(_ b: UnsafeMutablePointer<Float>, _ shape: (k: Int, n: Int)) -> GEMMPackedB {
            defer { next += GEMMPackedB.floatCount(k: shape.k, n: shape.n) }
            return GEMMPackedB(.nn, k: shape.k, n: shape.n, b: b, into: next)
        }
        let shapes = Self.shapes(channels: c, intermediate: i)
        attn = pack(w.attnW, shapes[0]); proj = pack(w.projW, shapes[1])
        fc = pack(w.fcW, shapes[2]); mlp = pack(w.mlpW, shapes[3])
    }
}
