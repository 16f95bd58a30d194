// Causal multi-head self-attention, forward and backward side by side, with grouped-query
// attention (G key/value heads shared by H query heads) as the general case.
//
// Legend: B batch, T positions, C channels, H heads, G kv heads (G divides H), D head size (C/H for GPT-2).
//   qkv, dqkv : [B, T, (H + 2G)·D]  (q | k | v; query head h owns columns h·D..<(h+1)·D of q, kv head
//                                    g the same columns of k and v; GPT-2: G = H, so [B, T, 3C])
//   out, dout : [B, T, H·D]   (heads concatenated)
//   probs     : [B, H, T, T] softmax rows; row i holds p[i, 0...i], zeros after (saved for backward)
// The forward is split by (b, h), the backward by (b, g): each part reads and writes only its own
// slices, so the split is free of races and of reductions across threads.
//
// Training runs each head as GEMMs over causal row blocks (the packed GEMM's register tiles beat any
// row-at-a-time loop several times over). Decoding one row at a time uses `attentionRow`, which
// scores against Kᵀ (the KV cache keeps keys transposed) so its inner loop runs along keys with full
// SIMD width instead of short D-long dot products with horizontal sums.

import RealModule

/// One query row of causal attention over `n` keys:
///   probs[0..<n] = softmax(scale · q · K[0..<n]ᵀ),   out[0..<D] = probs · V[0..<n].
/// kT: [D, ldk] keys transposed (row d holds component d of every key); v: rows of `ldv` floats.
/// The scores are computed in whole vectors: each kT row must be readable, and probs writable, up
/// to n rounded up to a multiple of 16 (ldk ≥ that); the extra lanes are computed and ignored.
/// (Finishing each of the D rows with a partial vector, lane by lane, was a third of decoding's
/// attention time.)
@inline(__always)
public func attentionRow(
    out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
    q: UnsafePointer<Float>, kT: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
    keys n: Int, headSize d: Int, scale: Float
) {
    let paddedKeys = (n + lanes - 1) / lanes * lanes
    precondition(ldk >= paddedKeys, "attentionRow: key rows must hold a multiple of 16 keys")
    // Scores: probs[j] = Σ_c q[c]·kT[c, j] is the same weighted sum of rows as the output below,
    // over the D rows of Kᵀ, so one routine serves both.
    weightedSumOfRows(out: probs, weights: q, rows: kT, ld: ldk, count: d, width: paddedKeys)
    Kernels.scale(probs, count: n, by: scale)
    softmaxInPlace(probs, n)
    weightedSumOfRows(out: out, weights: probs, rows: v, ld: ldv, count: n, width: d)
}

/// out[0..<width] = Σ_j weights[j] · rows[j·ld ..< j·ld + width], each column summed j ascending:
/// 64 columns at a time in four accumulators, then the remaining whole vectors in one pass (so that
/// 1–3 of them still run as independent chains), then a partial vector.
@inline(__always)
func weightedSumOfRows(out: UnsafeMutablePointer<Float>, weights: UnsafePointer<Float>, rows: UnsafePointer<Float>,
                       ld: Int, count n: Int, width: Int) {
    var c = 0
    while c + 4 * lanes <= width {
        sumColumnVectors(InlineArray<4, Vec>.self, out: out + c, weights: weights, rows: rows + c, ld: ld, count: n)
        c += 4 * lanes
    }
    switch (width - c) / lanes {
    case 3: sumColumnVectors(InlineArray<3, Vec>.self, out: out + c, weights: weights, rows: rows + c, ld: ld, count: n)
    case 2: sumColumnVectors(InlineArray<2, Vec>.self, out: out + c, weights: weights, rows: rows + c, ld: ld, count: n)
    case 1: sumColumnVectors(InlineArray<1, Vec>.self, out: out + c, weights: weights, rows: rows + c, ld: ld, count: n)
    default: break
    }
    c = width / lanes * lanes
    if c < width {
        let k = width - c
        var acc = Vec(repeating: 0)
        for j in 0..<n { acc.addProduct(Vec(repeating: weights[j]), loadPartial(rows + j * ld + c, k)) }
        storePartial(acc, out + c, k)
    }
}

/// `vectors` whole vectors of columns of `weightedSumOfRows`, one accumulator each.
@inline(__always)
private func sumColumnVectors<let vectors: Int>(
    _: InlineArray<vectors, Vec>.Type, out: UnsafeMutablePointer<Float>, weights: UnsafePointer<Float>,
    rows: UnsafePointer<Float>, ld: Int, count n: Int
) {
    var sums = InlineArray<vectors, Vec>(repeating: Vec(repeating: 0))
    for j in 0..<n {
        let w = Vec(repeating: weights[j]), row = rows + j &* ld
        for v in 0..<vectors { sums[v].addProduct(w, load(row + v &* lanes)) }
    }
    for v in 0..<vectors { store(sums[v], out + v * lanes) }
}

/// x[0..<n] ← softmax(x[0..<n]), in a fixed order.
@inline(__always)
func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
    var runningMax = Vec(repeating: -.greatestFiniteMagnitude)
    forEachVector(n) { j, k in runningMax = vmax(runningMax, load(x + j, k, fill: -.greatestFiniteMagnitude)) }
    let mx = runningMax.max()
    var vsum = Vec(repeating: 0)
    var j = 0                                       // an explicit loop around vexp: see TokenLogProbs.swift
    while j + lanes <= n {
        let e = vexp(load(x + j) - mx)
        vsum += e
        store(e, x + j)
        j += lanes
    }
    if j < n {
        let e = vexp(load(x + j, n - j) - mx)
        vsum += e.replacing(with: 0, where: laneIndices .>= SIMD16<Int32>(repeating: Int32(n - j)))
        store(e, x + j, n - j)
    }
    let inv = 1 / vsum.sum()
    forEachVector(n) { j, k in store(load(x + j, k) * inv, x + j, k) }
}

/// Lane numbers 0...15, for masking the tail of a partial vector.
@inline(__always) @usableFromInline
var laneIndices: SIMD16<Int32> { SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) }

/// Rows per causal block: score and probability products skip the blocks above the diagonal.
let attentionBlock = 32

/// out = causal multi-head attention of qkv; probs saved for the backward pass (GPT-2's layout: as
/// many key/value heads as query heads, D = C/H).
public func attentionForward(
    out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
    qkv: UnsafePointer<Float>, batch: Int, time t: Int, channels c: Int, heads: Int
) {
    groupedAttentionForward(out: out, probs: probs, qkv: qkv, batch: batch, time: t, heads: heads, kvHeads: heads,
                            headDim: c / heads)
}

/// Gradients of `attentionForward`, written (not accumulated) into dqkv.
public func attentionBackward(
    dqkv: UnsafeMutablePointer<Float>,
    dout: UnsafePointer<Float>, qkv: UnsafePointer<Float>, probs: UnsafePointer<Float>,
    batch: Int, time t: Int, channels c: Int, heads: Int
) {
    groupedAttentionBackward(dqkv: dqkv, dout: dout, qkv: qkv, probs: probs, batch: batch, time: t, heads: heads,
                             kvHeads: heads, headDim: c / heads)
}

/// Grouped-query attention (GQA): H query heads share G = kvHeads key/value heads, query head h
/// reading kv head ⌊h / (H/G)⌋. Each row of qkv is [q (H·D) | k (G·D) | v (G·D)]; out is [B, T, H·D].
/// G = H is ordinary multi-head attention.
/// Per (b, h), in row blocks [r0, r1): S = Q[r0..<r1]·K[0..<r1]ᵀ (GEMM), causal softmax of each row
/// into probs, then out[r0..<r1] = P[r0..<r1, 0..<r1]·V[0..<r1] (GEMM). The GEMMs run on the calling
/// thread: the (b, h) pairs are the parallel split.
public func groupedAttentionForward(
    out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
    qkv: UnsafePointer<Float>, batch: Int, time t: Int, heads: Int, kvHeads: Int, headDim d: Int
) {
    let scale = 1 / Float(d).squareRoot(), ld = (heads + 2 * kvHeads) * d, ldo = heads * d, group = heads / kvHeads
    Parallel.forEachChunk(batch * heads, flops: 2 * batch * t * t * heads * d) { chunk in
        let b = chunk / heads, h = chunk % heads
        let q = qkv + b * t * ld + h * d
        let k = qkv + b * t * ld + (heads + h / group) * d, v = k + kvHeads * d
        let p = probs + chunk * t * t                                   // [T, T]
        Parallel.$threads.withValue(1) {
            for r0 in stride(from: 0, to: t, by: attentionBlock) {
                let r1 = min(t, r0 + attentionBlock)
                gemm(.nt, m: r1 - r0, n: r1, k: d, a: q + r0 * ld, lda: ld, b: k, ldb: ld, c: p + r0 * t, ldc: t)
                for i in r0..<r1 {
                    let row = p + i * t
                    Kernels.scale(row, count: i + 1, by: scale)
                    softmaxInPlace(row, i + 1)
                    (row + i + 1).update(repeating: 0, count: t - i - 1)
                }
                gemm(.nn, m: r1 - r0, n: d, k: r1, a: p + r0 * t, lda: t, b: v, ldb: ld,
                     c: out + (b * t + r0) * ldo + h * d, ldc: ldo)
            }
        }
    }
}

/// Gradients of `groupedAttentionForward`, written (not accumulated) into dqkv. With P = probs of a head:
///   dP = dO·Vᵀ,  dS = P ⊙ (dP − rowsum(P ⊙ dP)) · scale,
///   dQ = dS·K,   dK = dSᵀ·Q,   dV = Pᵀ·dO          (each a GEMM over the causal blocks only)
/// A kv head's dK and dV sum over the query heads of its group: the parallel split is (b, kv head),
/// and the group's query heads run in order within it, so the sums do not depend on threads.
public func groupedAttentionBackward(
    dqkv: UnsafeMutablePointer<Float>,
    dout: UnsafePointer<Float>, qkv: UnsafePointer<Float>, probs: UnsafePointer<Float>,
    batch: Int, time t: Int, heads: Int, kvHeads: Int, headDim d: Int
) {
    let scale = 1 / Float(d).squareRoot(), ld = (heads + 2 * kvHeads) * d, ldo = heads * d, group = heads / kvHeads
    Parallel.forEachChunk(batch * kvHeads, flops: 4 * batch * t * t * heads * d) { chunk in
        let b = chunk / kvHeads, g = chunk % kvHeads
        let k = qkv + b * t * ld + (heads + g) * d, v = k + kvHeads * d
        let dk = dqkv + b * t * ld + (heads + g) * d, dv = dk + kvHeads * d
        withUnsafeTemporaryAllocation(of: Float.self, capacity: t * t) { buffer in
            let ds = buffer.baseAddress!                                // [T, T]: dP, then dS
            Parallel.$threads.withValue(1) {
                for h in g * group..<(g + 1) * group {
                    let q = qkv + b * t * ld + h * d, dq = dqkv + b * t * ld + h * d
                    let dO = dout + b * t * ldo + h * d, p = probs + (b * heads + h) * t * t
                    let first = h == g * group                          // the group's first head writes dK, dV
                    for r0 in stride(from: 0, to: t, by: attentionBlock) {
                        let r1 = min(t, r0 + attentionBlock)
                        gemm(.nt, m: r1 - r0, n: r1, k: d, a: dO + r0 * ldo, lda: ldo, b: v, ldb: ld, c: ds + r0 * t, ldc: t)
                        for i in r0..<r1 {
                            let pi = p + i * t, si = ds + i * t, n = i + 1
                            let pdp = dot(pi, si, n)
                            forEachVector(n) { j, w in store(load(pi + j, w) * (load(si + j, w) - pdp) * scale, si + j, w) }
                            (si + n).update(repeating: 0, count: r1 - n)    // the block's columns above the diagonal
                        }
                        gemm(.nn, m: r1 - r0, n: d, k: r1, a: ds + r0 * t, lda: t, b: k, ldb: ld, c: dq + r0 * ld, ldc: ld)
                    }
                    // Columns [j0, j1) of dS and P are non-zero only in rows i ≥ j0.
                    for j0 in stride(from: 0, to: t, by: attentionBlock) {
                        let j1 = min(t, j0 + attentionBlock)
                        gemm(.tn, m: j1 - j0, n: d, k: t - j0, a: ds + j0 * t + j0, lda: t, b: q + j0 * ld, ldb: ld,
                             c: dk + j0 * ld, ldc: ld, accumulate: !first)
                        gemm(.tn, m: j1 - j0, n: d, k: t - j0, a: p + j0 * t + j0, lda: t, b: dO + j0 * ldo, ldb: ldo,
                             c: dv + j0 * ld, ldc: ld, accumulate: !first)
                    }
                }
            }
        }
    }
}

/// Reference causal attention in any precision: qkv [B, T, 3C] → out [B, T, C].
@inlinable public func attentionNaive<T: Real & BinaryFloatingPoint>(qkv: [T], batch: Int, time t: Int, channels c: Int, heads: Int) -> [T] {
    groupedAttentionNaive(qkv: qkv, batch: batch, time: t, heads: heads, kvHeads: heads, headDim: c / heads)
}

/// Reference grouped-query attention in any precision: qkv [B, T, (H + 2G)·D] → out [B, T, H·D].
@inlinable public func groupedAttentionNaive<T: Real & BinaryFloatingPoint>(
    qkv: [T], batch: Int, time t: Int, heads: Int, kvHeads: Int, headDim d: Int
) -> [T] {
    let scale = 1 / T(d).squareRoot(), ld = (heads + 2 * kvHeads) * d, ldo = heads * d, group = heads / kvHeads
    var out = [T](repeating: 0, count: batch * t * ldo)
    for b in 0..<batch {
        for h in 0..<heads {
            let kv = heads * d + (h / group) * d
            for i in 0..<t {
                let q = (b * t + i) * ld + h * d
                var scores = (0...i).map { j -> T in
                    let k = (b * t + j) * ld + kv
                    return (0..<d).reduce(T(0)) { $0 + qkv[q + $1] * qkv[k + $1] } * scale
                }
                let mx = scores.max()!
                scores = scores.map { T.exp($0 - mx) }
                let total = scores.reduce(0, +)
                for j in 0...i {
                    let v = (b * t + j) * ld + kv + kvHeads * d
                    for k in 0..<d { out[(b * t + i) * ldo + h * d + k] += scores[j] / total * qkv[v + k] }
                }
            }
        }
    }
    return out
}
