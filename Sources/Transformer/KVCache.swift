// Incremental decoding with a key/value cache: prefill the prompts with one batched forward pass,
// then add one token per row per step, attending over the cached keys and values. The cache and the
// blocks belong to the architecture (its `TrunkDecoder`); this file adds the LM head and the rows'
// lengths, which are the same for every architecture.
//
// Legend: B rows, S cache length (≤ context), C channels, V vocabulary.
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
    public let model: CausalLM
    public let batch: Int
    public let capacity: Int
    /// Tokens held per row (prompt + generated so far).
    public private(set) var lengths: [Int]

    private let trunk: any TrunkDecoder
    private let logitsBuffer: UnsafeMutablePointer<Float>          // [B, V]
    /// The LM head's matrix, packed into `packedRegion` at `prefill` (nil before).
    private let packedRegion: UnsafeMutablePointer<Float>
    private var packedHead: GEMMPackedB?
    /// All of the above and the trunk's cache: borrowed from the model and handed back for its next decoder.
    private let storage: FloatStorage

    /// A cache for `batch` rows of up to `capacity` tokens (default: the model's context).
    public init(model: CausalLM, batch: Int, capacity: Int? = nil) {
        let config = model.config
        let s = min(capacity ?? config.context, config.context), c = config.embedding
        self.model = model
        self.batch = batch
        self.capacity = s
        lengths = Array(repeating: 0, count: batch)
        let headCount = batch * config.vocab + GEMMPackedB.floatCount(k: c, n: config.vocab)
        storage = model.takeDecoderStorage(capacity: headCount + model.trunk.decoderFloatCount(batch: batch, capacity: s))
        var carver = FloatCarver(storage)
        logitsBuffer = carver.carve(batch * config.vocab)
        packedRegion = carver.carve(GEMMPackedB.floatCount(k: c, n: config.vocab))
        trunk = model.trunk.makeDecoder(batch: batch, capacity: s, carver: &carver)
    }

    deinit { model.returnDecoderStorage(storage) }

    /// Runs the prompts (each non-empty, at most `capacity` tokens) and returns the logits for every
    /// row's next token: [B, V]. (It runs the model's forward pass: call `forward` again before
    /// reading the model's heads.)
    public func prefill(prompts: [[Int32]]) -> [Float] {
        precondition(prompts.count == batch, "\(prompts.count) prompts for a cache of \(batch) rows")
        precondition(prompts.allSatisfy { !$0.isEmpty && $0.count <= capacity }, "prompts must be non-empty and fit the cache")
        precondition(prompts.allSatisfy { $0.allSatisfy { $0 >= 0 && Int($0) < model.config.vocab } }, "token id outside the vocabulary")
        lengths = prompts.map(\.count)
        let h = trunk.prefill(prompts: prompts)
        model.forgetForward()
        let config = model.config
        packedHead = GEMMPackedB(.nt, k: config.embedding, n: config.vocab, b: model.headMatrix, into: packedRegion)
        return logits(h)
    }

    /// Appends `tokens[b]` to row b (at position lengths[b]) and returns the next logits: [B, V].
    public func step(tokens: [Int32]) -> [Float] {
        precondition(tokens.count == batch && lengths.allSatisfy { $0 < capacity }, "cache is full")
        precondition(packedHead != nil, "step before prefill")
        precondition(tokens.allSatisfy { $0 >= 0 && Int($0) < model.config.vocab }, "token id outside the vocabulary")
        let h = trunk.step(tokens: tokens, positions: lengths)
        for b in 0..<batch { lengths[b] += 1 }
        return logits(h)
    }

    /// logits [B, V] = h [B, C] · Wᵀ with the packed head.
    private func logits(_ h: UnsafePointer<Float>) -> [Float] {
        let config = model.config
        gemm(.nt, m: batch, a: h, lda: config.embedding, b: packedHead!, c: logitsBuffer, ldc: config.vocab)
        return Array(UnsafeBufferPointer(start: logitsBuffer, count: batch * config.vocab))
    }
}
