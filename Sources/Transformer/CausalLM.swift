// The causal language model every stage uses, whatever its architecture: a trunk (embeddings →
// blocks → final norm, one file per architecture behind `Trunk`) and the heads, which are the same
// for all of them.
//
// Legend: B batch, T positions (≤ context), N = B·T rows, C channels, V vocabulary.
//   tokens, targets : [B, T] Int32 (row-major, right-padded: causal attention never lets a real
//                     token see the padding after it, so no attention mask is needed)
//   h               : [N, C]  the trunk's output (after the final norm), what the heads read
//   logp, entropy, values, dlogp, dvalues : [N]
//
// Heads:
//   LM head      logits = h · Wᵀ with W [V, C] the token embedding (tied) or `lm_head.weight`,
//                logp[t] = log softmax(logits[t] / τ)[targets[t]]
//   scalar head  values[t] = h[t] · score.weight (+ score.bias for gpt2, see `scalarHeadBias`)
// A reward model reads values at each row's EOS; a critic reads them at every response position.
//
// Large vocabularies: the logits are made, used and turned into gradients in chunks of rows
// (`logitsChunkRows`), so a step holds at most one chunk of [rows, V] logits, never [N, V]: the
// chunk's logit gradient is turned into its share of dL/dh and accumulated into dW before the next
// chunk. When all N rows fit one chunk (small vocabularies) the logits of `tokenLogProbs` are kept
// for `backward`; otherwise `backward` computes each chunk again (one more [rows, C]·[C, V] product).
//
// Use: forward(tokens:) → tokenLogProbs(targets:) and/or scalarValues() → backward(dlogp:dlogits:dvalues:).
// backward accumulates into `gradients` (zero them before a step; accumulate across micro-batches).

import Kernels

/// What an architecture provides behind the seam: its tensors, their initialisation, the trunk's
/// forward and backward, and incremental decoding. One file per architecture (GPT2.swift,
/// Llama.swift); `CausalLM.trunkType` is the one place that lists them.
protocol Trunk: AnyObject {
    /// The trunk's tensors in arena order (the heads' come after them).
    static func tensors(_ config: ModelConfig) -> [(String, [Int])]
    /// The token embedding [V, C], which a tied LM head reads.
    static var tokenEmbedding: String { get }
    /// How a fresh network initialises one of the trunk's tensors.
    static func initialization(of view: TensorView, config: ModelConfig) -> ParameterInit

    init(config: ModelConfig, parameters: Arena, gradients: Arena)
    /// Runs the trunk on a [B, T] batch, keeping what `backward` needs; returns h [N, C], valid until
    /// the next forward.
    func forward(tokens: [Int32], batch: Int, time: Int) -> UnsafeMutablePointer<Float>
    /// dL/dh [N, C] of the last forward: the heads fill it, then `backward` consumes it.
    var hiddenGradient: UnsafeMutablePointer<Float> { get }
    /// Accumulates the trunk's parameter gradients from `hiddenGradient`.
    func backward()

    /// Floats a decoder of `batch` rows and `capacity` positions carves from its storage.
    func decoderFloatCount(batch: Int, capacity: Int) -> Int
    func makeDecoder(batch: Int, capacity: Int, carver: inout FloatCarver) -> any TrunkDecoder
}

/// An architecture's incremental decoder: appends tokens to a key/value cache and returns the final
/// hidden state [B, C] that the LM head turns into next-token logits.
protocol TrunkDecoder: AnyObject {
    /// Runs the prompts (one batched forward pass) and fills the cache; returns h at each row's last
    /// prompt position. The decoder uses the weights as they are now (it may pack them).
    func prefill(prompts: [[Int32]]) -> UnsafePointer<Float>
    /// Appends `tokens[b]` to row b at position `positions[b]`; returns h of the new tokens.
    func step(tokens: [Int32], positions: [Int]) -> UnsafePointer<Float>
}

/// A tensor's value in a freshly initialised network.
enum ParameterInit {
    case zeros, ones
    case normal(std: Float)
}

/// ∂L/∂logits of a chunk of rows: called with the rows and their raw logits (τ = 1) [rows, V], it
/// overwrites them with the gradient. Any loss on whole next-token distributions (distillation)
/// reaches the model this way.
public typealias LogitsGradient = (_ rows: Range<Int>, _ logits: UnsafeMutablePointer<Float>) -> Void

public final class CausalLM {
    public let config: ModelConfig
    public let hasScalarHead: Bool
    public let parameters: Arena
    public let gradients: Arena
    let trunk: any Trunk

    /// Rows of logits made at once: all N when N·V ≤ `logitsChunkFloats`, else that budget's worth.
    public var logitsChunkFloats = 1 << 23
    private var batch = 0, time = 0
    private var hidden: UnsafeMutablePointer<Float>?
    private var headStorage: FloatStorage?
    private var lse: UnsafeMutablePointer<Float>?           // [N]
    private var logitsBuffer: UnsafeMutablePointer<Float>?  // [chunk rows, V]
    /// Whether the buffer holds the logits (at `logitScale`) of every row, from `tokenLogProbs`.
    private var haveLogits = false
    private var logitScale: Float = 1
    private var targets: [Int32] = []
    /// The memory of the last KV-cache decoder, kept for the next one (see `FloatStorage`).
    private var spareDecoderStorage: FloatStorage?

    /// The architecture behind a config: the one switch a new architecture adds a case to.
    static func trunkType(_ architecture: Architecture) -> any Trunk.Type {
        switch architecture {
        case .gpt2: return GPT2.self
        case .llama: return Llama.self
        }
    }

    /// The arena layout of a network: the trunk's tensors, then `lm_head.weight` [V, C] when the head
    /// is untied, then the scalar head (`score.weight` [C], and `score.bias` [1] for gpt2).
    public static func layout(config: ModelConfig, scalarHead: Bool) throws -> ParameterLayout {
        var tensors = trunkType(config.architecture).tensors(config)
        if !config.tiedHead { tensors.append(("lm_head.weight", [config.vocab, config.embedding])) }
        if scalarHead {
            tensors.append(("score.weight", [config.embedding]))
            if config.scalarHeadBias { tensors.append(("score.bias", [1])) }
        }
        return ParameterLayout(tensors)
    }

    /// A network with zero weights (to be loaded from a checkpoint or copied into).
    public init(config: ModelConfig, scalarHead: Bool = false) throws {
        try config.validate()
        let trunkType = Self.trunkType(config.architecture)
        self.config = config
        hasScalarHead = scalarHead
        let layout = try Self.layout(config: config, scalarHead: scalarHead)
        parameters = Arena(layout)
        gradients = Arena(layout)
        trunk = trunkType.init(config: config, parameters: parameters, gradients: gradients)
    }

    /// A freshly initialised network: each tensor drawn in layout order from one seeded generator,
    /// by the architecture's rule (GPT-2's and Llama's are in their files); the heads' matrices
    /// N(0, 0.02), the score bias 0.
    public convenience init(config: ModelConfig, scalarHead: Bool = false, seed: UInt64) throws {
        try self.init(config: config, scalarHead: scalarHead)
        var rng = Xoshiro256(seed: seed)
        let trunkType = type(of: trunk)
        for view in parameters.layout.views {
            let rule: ParameterInit = switch view.name {
            case "lm_head.weight", "score.weight": .normal(std: 0.02)
            case "score.bias": .zeros
            default: trunkType.initialization(of: view, config: config)
            }
            let p = parameters.base + view.offset
            switch rule {
            case .zeros: break
            case .ones: p.update(repeating: 1, count: view.count)
            case .normal(let std): for i in 0..<view.count { p[i] = rng.nextGaussian() * std }
            }
        }
    }

    public var parameterCount: Int { parameters.count }

    // MARK: - Trunk

    /// Runs the trunk on a [B, T] batch of tokens, keeping what the backward pass needs.
    public func forward(tokens: [Int32], batch: Int, time: Int) {
        precondition(tokens.count == batch * time, "tokens: \(tokens.count) for [\(batch), \(time)]")
        precondition(time <= config.context, "sequence length \(time) exceeds the context \(config.context)")
        precondition(tokens.allSatisfy { $0 >= 0 && Int($0) < config.vocab }, "token id outside the vocabulary")
        hidden = trunk.forward(tokens: tokens, batch: batch, time: time)
        self.batch = batch
        self.time = time
        haveLogits = false
        prepareHead(rows: batch * time)
    }

    // MARK: - LM head

    /// Rows per logits chunk for N rows: fixed by the shape, so results do not depend on threads.
    private func chunkRows(_ n: Int) -> Int { n * config.vocab <= logitsChunkFloats ? n : max(1, logitsChunkFloats / config.vocab) }

    private func prepareHead(rows n: Int) {
        let needed = n + chunkRows(n) * config.vocab
        if headStorage == nil || headStorage!.capacity < needed {
            headStorage = nil                                          // free before allocating anew
            headStorage = FloatStorage(capacity: needed)
        }
        var carver = FloatCarver(headStorage!)
        lse = carver.carve(n)
        logitsBuffer = carver.carve(chunkRows(n) * config.vocab)
    }

    /// The matrix W [V, C] of the LM head.
    private var headWeight: (value: UnsafeMutablePointer<Float>, gradient: UnsafeMutablePointer<Float>) {
        let name = config.tiedHead ? type(of: trunk).tokenEmbedding : "lm_head.weight"
        return (parameters[name], gradients[name])
    }

    /// out [rows, V] = scale · h[rows] · Wᵀ
    private func computeLogits(rows: Range<Int>, scale factor: Float, into out: UnsafeMutablePointer<Float>) {
        let h = requireForward(), c = config.embedding, v = config.vocab
        gemm(.nt, m: rows.count, n: v, k: c, a: h + rows.lowerBound * c, b: headWeight.value, c: out)
        if factor != 1 { scale(out, count: rows.count * v, by: factor) }
    }

    /// Calls `body(rows, logits)` for consecutive chunks of rows covering all N, with the logits at
    /// `scale` in the chunk buffer.
    private func forEachLogitsChunk(scale factor: Float, _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        let n = batch * time, size = chunkRows(n)
        for start in stride(from: 0, to: n, by: size) {
            let rows = start..<min(n, start + size)
            computeLogits(rows: rows, scale: factor, into: logitsBuffer!)
            body(rows, logitsBuffer!)
        }
    }

    /// Per-token log-probabilities of `targets` (a negative target gives 0) and, when asked, the
    /// entropy of each position's next-token distribution. With a `temperature` τ ≠ 1 they are taken
    /// under softmax(logits / τ), the distribution a sampler at temperature τ draws from (PPO).
    public func tokenLogProbs(targets: [Int32], entropy wantEntropy: Bool = false,
                              temperature: Float = 1) -> (logp: [Float], entropy: [Float]?) {
        _ = requireForward()
        let n = batch * time, v = config.vocab
        precondition(targets.count == n, "targets: \(targets.count) for \(n) positions")
        precondition(temperature > 0, "temperature must be positive")
        logitScale = 1 / temperature
        self.targets = targets
        var logp = [Float](repeating: 0, count: n)
        var entropy = wantEntropy ? [Float](repeating: 0, count: n) : nil
        let lse = lse!
        logp.withUnsafeMutableBufferPointer { lp in
            targets.withUnsafeBufferPointer { tg in
                forEachLogitsChunk(scale: logitScale) { rows, logits in
                    let r = rows.lowerBound
                    if entropy != nil {
                        entropy!.withUnsafeMutableBufferPointer { e in
                            tokenLogProbsForward(logp: lp.baseAddress! + r, lse: lse + r, entropy: e.baseAddress! + r,
                                                 logits: logits, targets: tg.baseAddress! + r, rows: rows.count, vocab: v)
                        }
                    } else {
                        tokenLogProbsForward(logp: lp.baseAddress! + r, lse: lse + r, entropy: nil, logits: logits,
                                             targets: tg.baseAddress! + r, rows: rows.count, vocab: v)
                    }
                }
            }
        }
        haveLogits = chunkRows(n) == n
        return (logp, entropy)
    }

    /// The raw logits (τ = 1) of `rows` of the last forward: [rows, V].
    public func logits(rows: Range<Int>) -> [Float] {
        _ = requireForward()
        precondition(rows.lowerBound >= 0 && rows.upperBound <= batch * time, "rows \(rows) outside the batch")
        var out = [Float](repeating: 0, count: rows.count * config.vocab)
        out.withUnsafeMutableBufferPointer { computeLogits(rows: rows, scale: 1, into: $0.baseAddress!) }
        return out
    }

    /// The raw logits of `rows` written to `out` [rows, V] (a teacher's chunk in distillation).
    public func logits(rows: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        _ = requireForward()
        precondition(rows.lowerBound >= 0 && rows.upperBound <= batch * time, "rows \(rows) outside the batch")
        computeLogits(rows: rows, scale: 1, into: out)
    }

    /// Visits the raw logits of every row of the last forward, a chunk of rows at a time (evaluating
    /// a loss on whole distributions without a gradient).
    public func withLogitsChunks(_ body: (_ rows: Range<Int>, _ logits: UnsafeMutablePointer<Float>) -> Void) {
        _ = requireForward()
        haveLogits = false
        forEachLogitsChunk(scale: 1, body)
    }

    /// Rows per chunk that `withLogitsChunks` and `backward(dlogits:)` use for the current batch.
    public var logitsChunkSize: Int { chunkRows(batch * time) }

    // MARK: - Scalar head

    /// The scalar head at every position: [B, T].
    public func scalarValues() -> [Float] {
        precondition(hasScalarHead, "this network has no scalar head")
        let h = requireForward()
        let n = batch * time, c = config.embedding
        let w = parameters["score.weight"], b = config.scalarHeadBias ? parameters["score.bias"][0] : 0
        return (0..<n).map { r in
            var dot: Float = 0
            for j in 0..<c { dot += h[r * c + j] * w[j] }
            return dot + b
        }
    }

    // MARK: - Backward

    /// Accumulates into `gradients` the gradient of a loss whose derivatives are given w.r.t. the
    /// model's outputs, each [B, T] or nil:
    ///   dlogp   w.r.t. the last `tokenLogProbs` result (at its temperature)
    ///   dvalues w.r.t. `scalarValues()`
    public func backward(dlogp: [Float]? = nil, dvalues: [Float]? = nil) {
        let h = requireForward(), dh = beginBackward()
        if let dlogp {
            let n = batch * time, v = config.vocab
            precondition(!targets.isEmpty && dlogp.count == n, "dlogp needs a matching tokenLogProbs call")
            let resident = haveLogits, lse = lse!, scaleBack = logitScale
            targets.withUnsafeBufferPointer { tg in
                dlogp.withUnsafeBufferPointer { g in
                    headBackward(h: h, dh: dh, recomputeAt: resident ? nil : scaleBack) { rows, logits in
                        let r = rows.lowerBound
                        tokenLogProbsBackward(logits: logits, lse: lse + r, targets: tg.baseAddress! + r,
                                              dlogp: g.baseAddress! + r, rows: rows.count, vocab: v)
                        if scaleBack != 1 { scale(logits, count: rows.count * v, by: scaleBack) }   // through 1/τ
                    }
                }
            }
        }
        finishBackward(h: h, dh: dh, dvalues: dvalues)
    }

    /// The same for a loss on whole next-token distributions (distillation): `dlogits` turns each
    /// chunk of raw logits (τ = 1) into dL/dlogits in place; `dvalues` as above.
    public func backward(dlogits: LogitsGradient, dvalues: [Float]? = nil) {
        let h = requireForward(), dh = beginBackward()
        headBackward(h: h, dh: dh, recomputeAt: 1, dlogits)
        finishBackward(h: h, dh: dh, dvalues: dvalues)
    }

    /// dL/dh, zeroed.
    private func beginBackward() -> UnsafeMutablePointer<Float> {
        let dh = trunk.hiddenGradient
        dh.update(repeating: 0, count: batch * time * config.embedding)
        return dh
    }

    /// The scalar head's share of dL/dh and its gradients, then the trunk.
    private func finishBackward(h: UnsafeMutablePointer<Float>, dh: UnsafeMutablePointer<Float>, dvalues: [Float]?) {
        let n = batch * time, c = config.embedding
        haveLogits = false                                             // the buffer now holds gradients
        if let dvalues {
            precondition(hasScalarHead && dvalues.count == n, "dvalues needs the scalar head and [B, T] values")
            let w = parameters["score.weight"], dw = gradients["score.weight"]
            var dbias: Float = 0
            for r in 0..<n where dvalues[r] != 0 {
                for j in 0..<c {
                    dh[r * c + j] += dvalues[r] * w[j]
                    dw[j] += dvalues[r] * h[r * c + j]
                }
                dbias += dvalues[r]
            }
            if config.scalarHeadBias { gradients["score.bias"][0] += dbias }
        }
        trunk.backward()
    }

    /// For each chunk: logits (made again at scale `recomputeAt`, or nil: the resident ones) →
    /// `gradient` turns them into dL/dlogits in place → dh[rows] += dlogits·W, dW += dlogitsᵀ·h[rows].
    private func headBackward(h: UnsafeMutablePointer<Float>, dh: UnsafeMutablePointer<Float>, recomputeAt factor: Float?,
                              _ gradient: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        let n = batch * time, c = config.embedding, v = config.vocab, size = chunkRows(n)
        let w = headWeight, buffer = logitsBuffer!
        for start in stride(from: 0, to: n, by: size) {
            let rows = start..<min(n, start + size)
            if let factor { computeLogits(rows: rows, scale: factor, into: buffer) }
            gradient(rows, buffer)
            gemm(.nn, m: rows.count, n: c, k: v, a: buffer, b: w.value, c: dh + start * c, accumulate: true)
            gemm(.tn, m: v, n: c, k: rows.count, a: buffer, b: h + start * c, c: w.gradient, accumulate: true)
        }
    }

    // MARK: - Helpers

    /// Forgets the last forward pass (a decoder's prefill ran the trunk on its own batch).
    func forgetForward() {
        hidden = nil
        haveLogits = false
        targets = []
    }

    private func requireForward() -> UnsafeMutablePointer<Float> {
        guard let hidden else { preconditionFailure("call forward(tokens:) first") }
        return hidden
    }

    /// Storage of at least `capacity` floats for a decoder: the spare one if large enough.
    func takeDecoderStorage(capacity: Int) -> FloatStorage {
        defer { spareDecoderStorage = nil }
        if let spare = spareDecoderStorage, spare.capacity >= capacity { return spare }
        spareDecoderStorage = nil                                      // free before allocating anew
        return FloatStorage(capacity: capacity)
    }

    /// Keeps a finished decoder's storage for the next decoder (the larger one if there are two).
    func returnDecoderStorage(_ storage: FloatStorage) {
        if storage.capacity > spareDecoderStorage?.capacity ?? -1 { spareDecoderStorage = storage }
    }

    /// The LM head's matrix, for the decoder (which packs it).
    var headMatrix: UnsafeMutablePointer<Float> { headWeight.value }
}
