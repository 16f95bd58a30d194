// Incremental decoding with a key/value cache: prefill the prompts with one batched forward pass,
// then add one token per row per step, attending over the cached keys and values.
//
// Legend: B rows, S cache length (≤ context), C channels, H heads, D = C/H, V vocabulary, L layers.
//   keysT  : [L, B, H, D, S]  keys stored transposed, as `attentionRow` reads them (scores run along
//                             positions with full SIMD width)
//   values : [L, B, S, C]
// Each row has its own length: prompts of different lengths need no left padding or position
// offsets. Row b's next token goes to position lengths[b]; prompt padding beyond a row's length
// is overwritten before any query can see it.

import Kernels

public final class KVCacheDecoder {
    public let model: GPT
    public let batch: Int
    public let capacity: Int
    /// Tokens held per row (prompt + generated so far).
    public private(set) var lengths: [Int]

    private let keysT: UnsafeMutablePointer<Float>
    private let values: UnsafeMutablePointer<Float>
    // Step buffers, one row per sequence.
    private let x, ln, qkv, atty, fch, fcg, logitsBuffer: UnsafeMutablePointer<Float>
    private let mean, rstd, probs: UnsafeMutablePointer<Float>

    /// A cache for `batch` rows of up to `capacity` tokens (default: the model's context).
    public init(model: GPT, batch: Int, capacity: Int? = nil) {
        let config = model.config
        let s = min(capacity ?? config.context, config.context), c = config.embedding
        self.model = model
        self.batch = batch
        self.capacity = s
        lengths = Array(repeating: 0, count: batch)
        keysT = .allocate(capacity: config.layers * batch * c * s)
        values = .allocate(capacity: config.layers * batch * s * c)
        x = .allocate(capacity: batch * c); ln = .allocate(capacity: batch * c)
        qkv = .allocate(capacity: batch * 3 * c); atty = .allocate(capacity: batch * c)
        fch = .allocate(capacity: batch * 4 * c); fcg = .allocate(capacity: batch * 4 * c)
        logitsBuffer = .allocate(capacity: batch * config.vocab)
        mean = .allocate(capacity: batch); rstd = .allocate(capacity: batch)
        probs = .allocate(capacity: batch * config.heads * s)
    }

    deinit {
        for p in [keysT, values, x, ln, qkv, atty, fch, fcg, logitsBuffer, mean, rstd, probs] { p.deallocate() }
    }

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
                        for k in 0..<d { kT[k * capacity + t] = row[c + head * d + k] }
                    }
                    valueRow(layer: layer, row: b, position: t).update(from: row + 2 * c, count: c)
                }
            }
        }
        for b in 0..<batch {                                             // each row's last real position
            ln.advanced(by: b * c).update(from: trunk.lnf + (b * time + lengths[b] - 1) * c, count: c)
        }
        gemm(.nt, m: batch, n: config.vocab, k: c, a: ln, b: model.parameters["wte"], c: logitsBuffer)
        return Array(UnsafeBufferPointer(start: logitsBuffer, count: batch * config.vocab))
    }

    /// Appends `tokens[b]` to row b (at position lengths[b]) and returns the next logits: [B, V].
    public func step(tokens: [Int32]) -> [Float] {
        precondition(tokens.count == batch && lengths.allSatisfy { $0 < capacity }, "cache is full")
        let config = model.config, c = config.embedding, h = config.heads, d = config.headSize
        let p = model.parameters
        let positions = lengths.map { Int32($0) }
        embeddingForward(out: x, tokens: tokens, wte: p["wte"], wpe: p["wpe"], batch: batch, time: 1,
                         channels: c, startPositions: positions)
        let scale = 1 / Float(d).squareRoot()
        for layer in 0..<config.layers {
            let w = BlockWeights(p, layer: layer)
            layerNormForward(out: ln, mean: mean, rstd: rstd, x: x, weight: w.ln1w, bias: w.ln1b, rows: batch, channels: c)
            gemm(.nn, m: batch, n: 3 * c, k: c, a: ln, b: w.attnW, c: qkv, bias: w.attnB)
            for b in 0..<batch {
                let row = qkv + b * 3 * c, t = lengths[b]
                for head in 0..<h {
                    let kT = keyColumns(layer: layer, row: b, head: head)
                    for k in 0..<d { kT[k * capacity + t] = row[c + head * d + k] }
                }
                valueRow(layer: layer, row: b, position: t).update(from: row + 2 * c, count: c)
                for head in 0..<h {
                    attentionRow(out: atty + b * c + head * d, probs: probs + (b * h + head) * capacity,
                                 q: row + head * d, kT: keyColumns(layer: layer, row: b, head: head), ldk: capacity,
                                 v: valueRow(layer: layer, row: b, position: 0) + head * d, ldv: c,
                                 keys: t + 1, headSize: d, scale: scale)
                }
            }
            gemm(.nn, m: batch, n: c, k: c, a: atty, b: w.projW, c: x, bias: w.projB, accumulate: true)
            layerNormForward(out: ln, mean: mean, rstd: rstd, x: x, weight: w.ln2w, bias: w.ln2b, rows: batch, channels: c)
            gemm(.nn, m: batch, n: 4 * c, k: c, a: ln, b: w.fcW, c: fch, bias: w.fcB)
            geluForward(out: fcg, x: fch, count: batch * 4 * c)
            gemm(.nn, m: batch, n: c, k: 4 * c, a: fcg, b: w.mlpW, c: x, bias: w.mlpB, accumulate: true)
        }
        layerNormForward(out: ln, mean: mean, rstd: rstd, x: x, weight: p["ln_f.weight"], bias: p["ln_f.bias"],
                         rows: batch, channels: c)
        gemm(.nt, m: batch, n: config.vocab, k: c, a: ln, b: p["wte"], c: logitsBuffer)
        for b in 0..<batch { lengths[b] += 1 }
        return Array(UnsafeBufferPointer(start: logitsBuffer, count: batch * config.vocab))
    }

    /// Keys of one head, transposed: [D, capacity].
    private func keyColumns(layer: Int, row: Int, head: Int) -> UnsafeMutablePointer<Float> {
        let c = model.config.embedding, d = model.config.headSize
        return keysT + ((layer * batch + row) * c + head * d) * capacity
    }

    /// The cached value vector [C] of one position.
    private func valueRow(layer: Int, row: Int, position: Int) -> UnsafeMutablePointer<Float> {
        let c = model.config.embedding
        return values + ((layer * batch + row) * capacity + position) * c
    }
}
