// The GPT-2-style decoder: embeddings → L pre-LayerNorm blocks → final LayerNorm → heads.
//
// Legend: B batch, T positions (≤ context), N = B·T rows, C channels, V vocabulary.
//   tokens, targets : [B, T] Int32 (row-major, right-padded: causal attention never lets a real
//                     token see the padding after it, so no attention mask is needed)
//   logp, entropy, values, dlogp, dvalues : [B, T]
//
// Heads read the final LayerNorm output h = ln_f(res):
//   LM head (tied to wte):  logits = h · wteᵀ,  logp[t] = log softmax(logits[t])[targets[t]]
//   scalar head:            values[t] = h[t] · score.weight + score.bias
// A reward model reads values at each row's EOS; a critic reads them at every response position.
//
// Use: forward(tokens:) → tokenLogProbs(targets:) and/or scalarValues() → backward(dlogp:dvalues:).
// backward accumulates into `gradients` (zero them before a step; accumulate across micro-batches).

import Kernels

public final class GPT {
    public let config: GPTConfig
    public let hasScalarHead: Bool
    public let parameters: Arena
    public let gradients: Arena
    private var activations: Activations?
    /// The memory of the last KV-cache decoder, kept for the next one (see `FloatStorage`).
    private var spareDecoderStorage: FloatStorage?
    private var haveLogits = false
    private var logitScale: Float = 1

    /// A network with zero weights (to be loaded from a checkpoint or copied into).
    public init(config: GPTConfig, scalarHead: Bool = false) throws {
        try config.validate()
        self.config = config
        self.hasScalarHead = scalarHead
        let layout = ParameterLayout(config: config, scalarHead: scalarHead)
        parameters = Arena(layout)
        gradients = Arena(layout)
    }

    /// A network with GPT-2's initialisation: weights N(0, 0.02), the two residual projections of each
    /// block N(0, 0.02/√(2L)) so the residual stream's variance does not grow with depth, biases 0,
    /// LayerNorm gains 1. Drawn in layout order from one seeded generator.
    public convenience init(config: GPTConfig, scalarHead: Bool = false, seed: UInt64) throws {
        try self.init(config: config, scalarHead: scalarHead)
        var rng = Xoshiro256(seed: seed)
        let residualStd = 0.02 / Float(2 * config.layers).squareRoot()
        for view in parameters.layout.views {
            let p = parameters.base + view.offset
            if view.name.hasSuffix("ln_1.weight") || view.name.hasSuffix("ln_2.weight") || view.name == "ln_f.weight" {
                p.update(repeating: 1, count: view.count)
            } else if view.decays || view.name == "score.weight" {
                let std: Float = view.name.hasSuffix("c_proj.weight") ? residualStd : 0.02
                for i in 0..<view.count { p[i] = rng.nextGaussian() * std }
            }
        }
    }

    public var parameterCount: Int { parameters.count }

    // MARK: - Trunk

    /// Runs embeddings, every block and the final LayerNorm on a [B, T] batch of tokens, keeping
    /// what the backward pass needs.
    public func forward(tokens: [Int32], batch: Int, time: Int) {
        precondition(tokens.count == batch * time, "tokens: \(tokens.count) for [\(batch), \(time)]")
        precondition(time <= config.context, "sequence length \(time) exceeds the context \(config.context)")
        precondition(tokens.allSatisfy { $0 >= 0 && Int($0) < config.vocab }, "token id outside the vocabulary")
        let a = prepareActivations(batch: batch, time: time)
        a.tokens = tokens
        let c = config.embedding, n = batch * time
        embeddingForward(out: a.encoded, tokens: tokens, wte: parameters["wte"], wpe: parameters["wpe"],
                         batch: batch, time: time, channels: c)
        let shape = blockShape(a)
        var x = UnsafePointer(a.encoded)
        for (i, block) in a.blocks.enumerated() {
            blockForward(block, x: x, weights: BlockWeights(parameters, layer: i), shape: shape)
            x = UnsafePointer(block.res3)
        }
        layerNormForward(out: a.lnf, mean: a.meanf, rstd: a.rstdf, x: x,
                         weight: parameters["ln_f.weight"], bias: parameters["ln_f.bias"], rows: n, channels: c)
        haveLogits = false
    }

    // MARK: - Heads

    /// Per-token log-probabilities of `targets` (a negative target gives 0) and, when asked, the
    /// entropy of each position's next-token distribution. With a `temperature` τ ≠ 1 they are taken
    /// under softmax(logits / τ), the distribution a sampler at temperature τ draws from (PPO).
    public func tokenLogProbs(targets: [Int32], entropy wantEntropy: Bool = false,
                              temperature: Float = 1) -> (logp: [Float], entropy: [Float]?) {
        let a = requireForward()
        let n = a.batch * a.time, v = config.vocab
        precondition(targets.count == n, "targets: \(targets.count) for \(n) positions")
        precondition(temperature > 0, "temperature must be positive")
        gemm(.nt, m: n, n: v, k: config.embedding, a: a.lnf, b: parameters["wte"], c: a.logits)
        logitScale = 1 / temperature
        if logitScale != 1 { scale(a.logits, count: n * v, by: logitScale) }
        haveLogits = true
        a.targets = targets
        var logp = [Float](repeating: 0, count: n)
        var entropy = wantEntropy ? [Float](repeating: 0, count: n) : nil
        logp.withUnsafeMutableBufferPointer { lp in
            if entropy != nil {
                entropy!.withUnsafeMutableBufferPointer { e in
                    tokenLogProbsForward(logp: lp.baseAddress!, lse: a.lse, entropy: e.baseAddress!, logits: a.logits,
                                         targets: targets, rows: n, vocab: v)
                }
            } else {
                tokenLogProbsForward(logp: lp.baseAddress!, lse: a.lse, entropy: nil, logits: a.logits,
                                     targets: targets, rows: n, vocab: v)
            }
        }
        return (logp, entropy)
    }

    /// The logits of the last `tokenLogProbs` call: [N, V], valid until `backward` (which overwrites
    /// them with their gradient).
    public var logits: UnsafeBufferPointer<Float> {
        let a = requireForward()
        precondition(haveLogits, "call tokenLogProbs first")
        return UnsafeBufferPointer(start: a.logits, count: a.batch * a.time * config.vocab)
    }

    /// The scalar head at every position: [B, T].
    public func scalarValues() -> [Float] {
        precondition(hasScalarHead, "this network has no scalar head")
        let a = requireForward()
        let n = a.batch * a.time, c = config.embedding
        let w = parameters["score.weight"], b = parameters["score.bias"][0]
        return (0..<n).map { r in
            var dot: Float = 0
            for j in 0..<c { dot += a.lnf[r * c + j] * w[j] }
            return dot + b
        }
    }

    // MARK: - Backward

    /// Accumulates into `gradients` the gradient of a loss whose derivatives are given w.r.t. the
    /// model's outputs, each [B, T] (or [B·T, V] for logits) or nil:
    ///   dlogp   w.r.t. the last `tokenLogProbs` result (at its temperature)
    ///   dlogits w.r.t. the raw logits h·wteᵀ, for losses on the whole distribution (distillation)
    ///   dvalues w.r.t. `scalarValues()`
    public func backward(dlogp: [Float]? = nil, dlogits: [Float]? = nil, dvalues: [Float]? = nil) {
        let a = requireForward()
        let n = a.batch * a.time, c = config.embedding, v = config.vocab
        let d = a.scratch
        precondition(dlogp == nil || dlogits == nil, "pass dlogp or dlogits, not both")
        d.dln.update(repeating: 0, count: n * c)                       // dL/d(lnf)
        if let dlogp {
            precondition(haveLogits && dlogp.count == n, "dlogp needs a matching tokenLogProbs call")
            tokenLogProbsBackward(logits: a.logits, lse: a.lse, targets: a.targets, dlogp: dlogp, rows: n, vocab: v)
            if logitScale != 1 { scale(a.logits, count: n * v, by: logitScale) }   // chain rule through 1/τ
        }
        if let dlogits {
            precondition(dlogits.count == n * v, "dlogits: \(dlogits.count) for [\(n), \(v)]")
            a.logits.update(from: dlogits, count: n * v)
        }
        if dlogp != nil || dlogits != nil {
            haveLogits = false                                         // logits now hold dlogits
            gemm(.nn, m: n, n: c, k: v, a: a.logits, b: parameters["wte"], c: d.dln, accumulate: true)
            gemm(.tn, m: v, n: c, k: n, a: a.logits, b: a.lnf, c: gradients["wte"], accumulate: true)
        }
        if let dvalues {
            precondition(hasScalarHead && dvalues.count == n, "dvalues needs the scalar head and [B, T] values")
            let w = parameters["score.weight"], dw = gradients["score.weight"]
            var dbias: Float = 0
            for r in 0..<n where dvalues[r] != 0 {
                for j in 0..<c {
                    d.dln[r * c + j] += dvalues[r] * w[j]
                    dw[j] += dvalues[r] * a.lnf[r * c + j]
                }
                dbias += dvalues[r]
            }
            gradients["score.bias"][0] += dbias
        }
        d.dres.update(repeating: 0, count: n * c)
        let last = a.blocks.last.map { UnsafePointer($0.res3) } ?? UnsafePointer(a.encoded)
        layerNormBackward(dx: d.dres, dweight: gradients["ln_f.weight"], dbias: gradients["ln_f.bias"], dout: d.dln,
                          x: last, weight: parameters["ln_f.weight"], mean: a.meanf, rstd: a.rstdf, rows: n, channels: c)
        let shape = blockShape(a)
        for i in a.blocks.indices.reversed() {
            let x = i == 0 ? UnsafePointer(a.encoded) : UnsafePointer(a.blocks[i - 1].res3)
            blockBackward(a.blocks[i], x: x, weights: BlockWeights(parameters, layer: i),
                          gradients: BlockWeights(gradients, layer: i), scratch: d, shape: shape)
        }
        embeddingBackward(dwte: gradients["wte"], dwpe: gradients["wpe"], dout: d.dres, tokens: a.tokens,
                          batch: a.batch, time: a.time, channels: c)
    }

    // MARK: - Helpers

    /// What the KV cache needs from a forward pass: each block's qkv [B, T, 3C] and the final
    /// LayerNorm output [B, T, C].
    func trunkOutputs() -> (qkv: [UnsafeMutablePointer<Float>], lnf: UnsafeMutablePointer<Float>) {
        let a = requireForward()
        return (a.blocks.map(\.qkv), a.lnf)
    }

    private func prepareActivations(batch: Int, time: Int) -> Activations {
        if let a = activations, a.batch == batch, a.time == time { return a }
        let needed = Activations.size(config: config, batch: batch, time: time)
        var storage = activations?.storage
        if storage == nil || storage!.capacity < needed {
            activations = nil                                          // free before allocating anew
            storage = FloatStorage(capacity: needed)
        }
        let a = Activations(config: config, batch: batch, time: time, storage: storage!)
        activations = a
        return a
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

    private func requireForward() -> Activations {
        guard let a = activations, !a.tokens.isEmpty else { preconditionFailure("call forward(tokens:) first") }
        return a
    }

    private func blockShape(_ a: Activations) -> BlockShape {
        BlockShape(batch: a.batch, time: a.time, channels: config.embedding, heads: config.heads)
    }
}
