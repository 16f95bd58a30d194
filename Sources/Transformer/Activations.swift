// Everything the forward pass keeps for the backward pass, and the backward pass's scratch, carved
// out of one allocation per batch shape.
//
// Legend: B batch, T positions, N = B·T rows, C channels, H heads, V vocabulary, L layers.
//
// Memory (floats; `small` = L6 C384 H6 T256 B8, so N = 2048):
//   per layer   ln1, atty, res2, ln2, res3: 5·N·C   qkv: 3·N·C   fch, fcg: 8·N·C   probs: B·H·T²
//               mean/rstd ×2: 4·N                    → 16·N·C + B·H·T² ≈ 12.6 M + 3.1 M floats
//   trunk end   encoded, lnf: 2·N·C   logits: N·V   lse, logp, entropy, values: 4·N
//   backward    dres, dln, datty: 3·N·C   dqkv: 3·N·C   dfcg, dfch: 8·N·C   (shared by all layers)
// For `small`: 6 × 63 MB of layer activations + 14 MB + 44 MB of scratch ≈ 440 MB, beside 43 MB of
// weights, 43 MB of gradients and 87 MB of AdamW moments: ≈ 0.6 GB per training step. The minimum
// the math needs (inputs of every GEMM, LayerNorm and GELU backward, and the attention
// probabilities) is the same set less fcg (recomputable from fch): within 1.2× of it.

import Kernels

/// The saved tensors of one transformer block.
struct BlockActivations {
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
    var fch: UnsafeMutablePointer<Float>      // [N, 4C] MLP hidden before GELU
    var fcg: UnsafeMutablePointer<Float>      // [N, 4C] after GELU
    var res3: UnsafeMutablePointer<Float>     // [N, C]  block output
}

/// Scratch for the backward pass, reused by every block.
struct BackwardScratch {
    var dres: UnsafeMutablePointer<Float>     // [N, C]  gradient of the residual stream
    var dln: UnsafeMutablePointer<Float>      // [N, C]  gradient of a LayerNorm output
    var datty: UnsafeMutablePointer<Float>    // [N, C]
    var dqkv: UnsafeMutablePointer<Float>     // [N, 3C]
    var dfcg: UnsafeMutablePointer<Float>     // [N, 4C]
    var dfch: UnsafeMutablePointer<Float>     // [N, 4C]
}

/// One float buffer that a model carves its working memory from, and keeps: successive `Activations`
/// (PPO alternates between batch shapes: rollout scoring, mini-batches, generation prefill) and
/// successive KV-cache decoders reuse it instead of faulting in fresh pages each time (a small-model
/// decoder holds ~60 MB, ~15 000 pages). It only grows.
final class FloatStorage {
    let base: UnsafeMutablePointer<Float>
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
        base.initialize(repeating: 0, count: capacity)
    }

    deinit { base.deallocate() }
}

/// Hands out consecutive regions of a `FloatStorage`.
struct FloatCarver {
    let storage: FloatStorage
    private(set) var used = 0

    init(_ storage: FloatStorage) { self.storage = storage }

    mutating func carve(_ count: Int) -> UnsafeMutablePointer<Float> {
        precondition(used + count <= storage.capacity, "storage too small")
        defer { used += count }
        return storage.base + used
    }
}

/// All activations for one (B, T), carved from a shared storage.
final class Activations {
    let batch: Int, time: Int
    let storage: FloatStorage
    var blocks: [BlockActivations] = []
    let encoded: UnsafeMutablePointer<Float>   // [N, C] token + position embedding
    let lnf: UnsafeMutablePointer<Float>       // [N, C] final LayerNorm output (the heads' input)
    let meanf: UnsafeMutablePointer<Float>     // [N]
    let rstdf: UnsafeMutablePointer<Float>     // [N]
    let logits: UnsafeMutablePointer<Float>    // [N, V] (overwritten by dlogits in backward)
    let lse: UnsafeMutablePointer<Float>       // [N] log-sum-exp of each logits row
    let values: UnsafeMutablePointer<Float>    // [N] scalar head output
    let scratch: BackwardScratch
    var tokens: [Int32] = []                   // [N] the batch's input tokens
    var targets: [Int32] = []                  // [N] targets of the last tokenLogProbs call

    /// Floats needed for (B, T).
    static func size(config: GPTConfig, batch: Int, time: Int) -> Int {
        let n = batch * time, c = config.embedding
        let perBlock = 16 * n * c + batch * config.heads * time * time + 4 * n
        return config.layers * perBlock + 2 * n * c + 2 * n + n * config.vocab + 2 * n + 14 * n * c
    }

    /// Carves (B, T) activations from `storage`, which must hold `size(config:batch:time:)` floats.
    init(config: GPTConfig, batch: Int, time: Int, storage: FloatStorage) {
        self.batch = batch
        self.time = time
        self.storage = storage
        let n = batch * time, c = config.embedding
        let capacity = Self.size(config: config, batch: batch, time: time)
        precondition(capacity <= storage.capacity, "activation storage too small")
        var carver = FloatCarver(storage)
        func carve(_ count: Int) -> UnsafeMutablePointer<Float> { carver.carve(count) }
        for _ in 0..<config.layers {
            blocks.append(BlockActivations(
                ln1: carve(n * c), mean1: carve(n), rstd1: carve(n), qkv: carve(3 * n * c),
                probs: carve(batch * config.heads * time * time), atty: carve(n * c), res2: carve(n * c),
                ln2: carve(n * c), mean2: carve(n), rstd2: carve(n), fch: carve(4 * n * c),
                fcg: carve(4 * n * c), res3: carve(n * c)))
        }
        encoded = carve(n * c); lnf = carve(n * c); meanf = carve(n); rstdf = carve(n)
        logits = carve(n * config.vocab); lse = carve(n); values = carve(n)
        scratch = BackwardScratch(dres: carve(n * c), dln: carve(n * c), datty: carve(n * c),
                                  dqkv: carve(3 * n * c), dfcg: carve(4 * n * c), dfch: carve(4 * n * c))
        precondition(carver.used == capacity, "activation layout does not add up")
    }
}
