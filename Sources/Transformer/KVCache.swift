// Incremental decoding with a key/value cache: prefill the prompts with one batched forward pass,
// then add one token per row per step, attending over the cached keys and values.
//
// Legend: B rows, S cache length (≤ context), C channels, H heads, D = C/H, V vocabulary, L layers.
//   keysT  : [L, B, H, D, S'] keys stored transposed, as `attentionRow` reads them (scores run along
//                             positions with full SIMD width); S' = S rounded up to 16, because
//                             scores are computed in whole vectors
//   values : [L, B, S, C]
// Each row has its own length: prompts of different lengths need no left padding or position
// offsets. Row b's next token goes to position lengths[b]; prompt padding beyond a row's length
// is overwritten before any query can see it.
//
// The weight matrices are packed for the GEMM once per prefill (`GEMMPackedB`): a step reads every
// weight once for only B rows, so it runs at the speed the weights stream from memory, and packed
// panels stream far better than rows of W read in place. The copy (the size of the weights) is a
// snapshot: the decoder uses the weights as they were at `prefill`.

import Kernels

public final class KVCacheDecoder {
    public let model: GPT
    public let batch: Int
    public let capacity: Int
    /// Row stride of the transposed keys and of the attention probabilities: capacity rounded up to
    /// a multiple of 16 (see `attentionRow`).
    private let keyStride: Int
    /// Tokens held per row (prompt + generated so far).
    public private(set) var lengths: [Int]

    private let keysT: UnsafeMutablePointer<Float>
    private let values: UnsafeMutablePointer<Float>
    // Step buffers, one row per sequence.
    private let x, ln, qkv, atty, fch, fcg, logitsBuffer: UnsafeMutablePointer<Float>
    private let mean, rstd, probs: UnsafeMutablePointer<Float>
    /// The GEMM weights, packed into `packedRegion` at `prefill` (nil before).
    private let packedRegion: UnsafeMutablePointer<Float>
    private var packed: PackedWeights?
    /// All of the above: borrowed from the model and handed back for its next decoder.
    private let storage: FloatStorage

    /// A cache for `batch` rows of up to `capacity` tokens (default: the model's context).
    public init(model: GPT, batch: Int, capacity: Int? = nil) {
        let config = model.config
        let s = min(capacity ?? config.context, config.context), c = config.embedding, l = config.layers
        self.model = model
        self.batch = batch
        self.capacity = s
        keyStride = (s + 15) / 16 * 16
        lengths = Array(repeating: 0, count: batch)
        let packedCount = PackedWeights.floatCount(config: config)
        let stepBuffers = (1 + 1 + 3 + 1 + 4 + 4) * batch * c                // x, ln, qkv, atty, fch, fcg
        let total = l * batch * c * keyStride + l * batch * s * c + stepBuffers + batch * config.vocab + 2 * batch
            + batch * config.heads * keyStride + packedCount
        storage = model.takeDecoderStorage(capacity: total)
        var carver = FloatCarver(storage)
        keysT = carver.carve(l * batch * c * keyStride); values = carver.carve(l * batch * s * c)
        x = carver.carve(batch * c); ln = carver.carve(batch * c)
        qkv = carver.carve(batch * 3 * c); atty = carver.carve(batch * c)
        fch = carver.carve(batch * 4 * c); fcg = carver.carve(batch * 4 * c)
        logitsBuffer = carver.carve(batch * config.vocab)
        mean = carver.carve(batch); rstd = carver.carve(batch)
        probs = carver.carve(batch * config.heads * keyStride)
        packedRegion = carver.carve(packedCount)
        precondition(carver.used == total, "decoder layout does not add up")
    }

    deinit { model.returnDecoderStorage(storage) }

    /// Runs the prompts (each non-empty, at most `capacity` tokens) and returns the logits for every
    /// row's next token: [B, V].
    public func prefill(prompts: [[Int32]]) -> [Float] {
        precondition(prompts.count == batch, "\(prompts.count) prompts for a cache of \(batch) rows")
        precondition(prompts.allSatisfy { !$0.isEmpty && $0.count <= capacity }, "prompts must be non-empty and fit the cache")
        let config = model.config, c = config.embedding, h = config.heads, d = config.headSize
        let time = prompts.map(\.count).max()!
        lengths = prompts.map(\.count)
        let padded = prompts.flatMap { $0 + Array(repeating: $0.last!, count: time - $0.count) }
        model.forward(tokens: padded, batch: batch, time: time)
        let trunk = model.trunkOutputs()
        for layer in 0..<config.layers {
            let qkvRows = trunk.qkv[layer]                              // [B, time, 3C]
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
            ln.advanced(by: b * c).update(from: trunk.lnf + (b * time + lengths[b] - 1) * c, count: c)
        }
        let packed = PackedWeights(model, into: packedRegion)                // the weights as they are now
        self.packed = packed
        gemm(.nt, m: batch, a: ln, lda: c, b: packed.wte, c: logitsBuffer, ldc: config.vocab)
        return Array(UnsafeBufferPointer(start: logitsBuffer, count: batch * config.vocab))
    }

    /// Appends `tokens[b]` to row b (at position lengths[b]) and returns the next logits: [B, V].
    public func step(tokens: [Int32]) -> [Float] {
        precondition(tokens.count == batch && lengths.allSatisfy { $0 < capacity }, "cache is full")
        guard let packed else { preconditionFailure("step before prefill") }
        let config = model.config, c = config.embedding, h = config.heads, d = config.headSize
        let p = model.parameters
        let positions = lengths.map { Int32($0) }
        embeddingForward(out: x, tokens: tokens, wte: p["wte"], wpe: p["wpe"], batch: batch, time: 1,
                         channels: c, startPositions: positions)
        let scale = 1 / Float(d).squareRoot()
        for layer in 0..<config.layers {
            let w = BlockWeights(p, layer: layer), packedBlock = packed.layers[layer]
            layerNormForward(out: ln, mean: mean, rstd: rstd, x: x, weight: w.ln1w, bias: w.ln1b, rows: batch, channels: c)
            gemm(.nn, m: batch, a: ln, lda: c, b: packedBlock.attn, c: qkv, ldc: 3 * c, bias: w.attnB)
            // Rows are independent: each appends to its own cache and attends over it. In parallel
            // whatever the length: the work is reading the cache, which the flop count understates
            // (small, 2 threads: 124 ms with the flop threshold, 107–117 ms without).
            let lengths = self.lengths
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
            gemm(.nn, m: batch, a: ln, lda: c, b: packedBlock.fc, c: fch, ldc: 4 * c, bias: w.fcB)
            geluForward(out: fcg, x: fch, count: batch * 4 * c)
            gemm(.nn, m: batch, a: fcg, lda: 4 * c, b: packedBlock.mlp, c: x, ldc: c, bias: w.mlpB, accumulate: true)
        }
        layerNormForward(out: ln, mean: mean, rstd: rstd, x: x, weight: p["ln_f.weight"], bias: p["ln_f.bias"],
                         rows: batch, channels: c)
        gemm(.nt, m: batch, a: ln, lda: c, b: packed.wte, c: logitsBuffer, ldc: config.vocab)
        for b in 0..<batch { lengths[b] += 1 }
        return Array(UnsafeBufferPointer(start: logitsBuffer, count: batch * config.vocab))
    }

    /// Keys of one head, transposed: [D, keyStride].
    private func keyColumns(layer: Int, row: Int, head: Int) -> UnsafeMutablePointer<Float> {
        let c = model.config.embedding, d = model.config.headSize
        return keysT + ((layer * batch + row) * c + head * d) * keyStride
    }

    /// The cached value vector [C] of one position.
    private func valueRow(layer: Int, row: Int, position: Int) -> UnsafeMutablePointer<Float> {
        let c = model.config.embedding
        return values + ((layer * batch + row) * capacity + position) * c
    }
}

/// Every GEMM weight of the model packed for skinny products, one after the other in one region:
/// each layer's four matrices, then wte (for the logits).
private struct PackedWeights {
    let layers: [PackedBlockWeights]
    let wte: GEMMPackedB

    static func floatCount(config: GPTConfig) -> Int {
        config.layers * PackedBlockWeights.floatCount(channels: config.embedding)
            + GEMMPackedB.floatCount(k: config.embedding, n: config.vocab)
    }

    init(_ model: GPT, into region: UnsafeMutablePointer<Float>) {
        let p = model.parameters, config = model.config, c = config.embedding
        let perLayer = PackedBlockWeights.floatCount(channels: c)
        layers = (0..<config.layers).map {
            PackedBlockWeights(BlockWeights(p, layer: $0), channels: c, into: region + $0 * perLayer)
        }
        wte = GEMMPackedB(.nt, k: c, n: config.vocab, b: p["wte"], into: region + config.layers * perLayer)
    }
}

/// One block's four weight matrices, packed for skinny products, one after the other.
private struct PackedBlockWeights {
    let attn, proj, fc, mlp: GEMMPackedB

    /// (K, N) of c_attn, attn c_proj, c_fc, mlp c_proj.
    static func shapes(channels c: Int) -> [(k: Int, n: Int)] { [(c, 3 * c), (c, c), (c, 4 * c), (4 * c, c)] }

    static func floatCount(channels c: Int) -> Int {
        shapes(channels: c).reduce(0) { $0 + GEMMPackedB.floatCount(k: $1.k, n: $1.n) }
    }

    init(_ w: BlockWeights, channels c: Int, into region: UnsafeMutablePointer<Float>) {
        var next = region
        func pack(_ b: UnsafeMutablePointer<Float>, _ shape: (k: Int, n: Int)) -> GEMMPackedB {
            defer { next += GEMMPackedB.floatCount(k: shape.k, n: shape.n) }
            return GEMMPackedB(.nn, k: shape.k, n: shape.n, b: b, into: next)
        }
        let shapes = Self.shapes(channels: c)
        attn = pack(w.attnW, shapes[0]); proj = pack(w.projW, shapes[1])
        fc = pack(w.fcW, shapes[2]); mlp = pack(w.mlpW, shapes[3])
    }
}
