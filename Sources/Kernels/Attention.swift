// Causal multi-head self-attention, forward and backward side by side.
//
// Legend: B batch, T positions, C channels, H heads, D = C/H head size.
//   qkv, dqkv : [B, T, 3C]  (q | k | v; head h owns columns h·D..<(h+1)·D of each third)
//   out, dout : [B, T, C]   (heads concatenated)
//   probs     : [B, H, T, T] softmax rows; row i holds p[i, 0...i], zeros after (saved for backward)
// Work is split by (b, h): each pair reads and writes only its own slices, so the split is free of
// races and of reductions across threads.
//
// Scores are computed against Kᵀ (a [D, T] copy of the head's keys) so the inner loop runs along
// keys with full SIMD width instead of short D-long dot products with horizontal sums. The KV cache
// keeps keys in that transposed form too, and decoding reuses `attentionRow`.

import RealModule

/// One query row of causal attention over `n` keys:
///   probs[0..<n] = softmax(scale · q · K[0..<n]ᵀ),   out[0..<D] = probs · V[0..<n].
/// kT: [D, ldk] keys transposed (row d holds component d of every key); v: rows of `ldv` floats.
@inline(__always)
public func attentionRow(
    out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
    q: UnsafePointer<Float>, kT: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
    keys n: Int, headSize d: Int, scale: Float
) {
    // Scores, 16 keys at a time, accumulated in a register over the D components.
    forEachVector(n) { j, k in
        var acc = Vec(repeating: 0)
        for c in 0..<d { acc.addProduct(Vec(repeating: q[c]), load(kT + c * ldk + j, k)) }
        store(acc * scale, probs + j, k)
    }
    softmaxInPlace(probs, n)
    weightedSumOfRows(out: out, weights: probs, rows: v, ld: ldv, count: n, width: d)
}

/// out[0..<width] = Σ_j weights[j] · rows[j·ld ..< j·ld + width], 16 columns at a time in a register.
@inline(__always)
func weightedSumOfRows(out: UnsafeMutablePointer<Float>, weights: UnsafePointer<Float>, rows: UnsafePointer<Float>,
                       ld: Int, count n: Int, width: Int) {
    forEachVector(width) { c, k in
        var acc = Vec(repeating: 0)
        for j in 0..<n { acc.addProduct(Vec(repeating: weights[j]), load(rows + j * ld + c, k)) }
        store(acc, out + c, k)
    }
}

/// x[0..<n] ← softmax(x[0..<n]), in a fixed order.
@inline(__always)
func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
    var runningMax = Vec(repeating: -.greatestFiniteMagnitude)
    forEachVector(n) { j, k in runningMax = vmax(runningMax, load(x + j, k, fill: -.greatestFiniteMagnitude)) }
    let mx = runningMax.max()
    var vsum = Vec(repeating: 0)
    forEachVector(n) { j, k in
        let e = vexp(load(x + j, k) - mx)
        vsum += k == lanes ? e : e.replacing(with: 0, where: laneIndices .>= SIMD16<Int32>(repeating: Int32(k)))
        store(e, x + j, k)
    }
    let inv = 1 / vsum.sum()
    forEachVector(n) { j, k in store(load(x + j, k) * inv, x + j, k) }
}

/// Lane numbers 0...15, for masking the tail of a partial vector.
@inline(__always) @usableFromInline
var laneIndices: SIMD16<Int32> { SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) }

/// out = causal multi-head attention of qkv; probs saved for the backward pass.
public func attentionForward(
    out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
    qkv: UnsafePointer<Float>, batch: Int, time t: Int, channels c: Int, heads: Int
) {
    let d = c / heads, scale = 1 / Float(d).squareRoot()
    Parallel.forEachChunk(batch * heads, flops: 2 * batch * t * t * c) { chunk in
        let b = chunk / heads, h = chunk % heads
        let rows = qkv + b * t * 3 * c
        withUnsafeTemporaryAllocation(of: Float.self, capacity: d * t) { buffer in
            let kT = buffer.baseAddress!                                  // [D, T]
            transposeHead(kT, rows + c + h * d, rows: t, ld: 3 * c, headSize: d)
            for i in 0..<t {
                attentionRow(out: out + (b * t + i) * c + h * d, probs: probs + (chunk * t + i) * t,
                             q: rows + i * 3 * c + h * d, kT: kT, ldk: t,
                             v: rows + 2 * c + h * d, ldv: 3 * c, keys: i + 1, headSize: d, scale: scale)
                (probs + (chunk * t + i) * t + i + 1).update(repeating: 0, count: t - i - 1)
            }
        }
    }
}

/// Gradients of `attentionForward`, written (not accumulated) into dqkv. Per row i, with p = probs[i]:
///   dp_j = dout_i · v_j,   ds_j = p_j·(dp_j − Σ_k p_k·dp_k),
///   dq_i = scale·Σ_j ds_j·k_j,   dk_j += scale·ds_j·q_i,   dv_j += p_j·dout_i.
public func attentionBackward(
    dqkv: UnsafeMutablePointer<Float>,
    dout: UnsafePointer<Float>, qkv: UnsafePointer<Float>, probs: UnsafePointer<Float>,
    batch: Int, time t: Int, channels c: Int, heads: Int
) {
    let d = c / heads, scale = 1 / Float(d).squareRoot()
    Parallel.forEachChunk(batch * heads, flops: 4 * batch * t * t * c) { chunk in
        let b = chunk / heads, h = chunk % heads
        let rows = qkv + b * t * 3 * c, drows = dqkv + b * t * 3 * c
        for i in 0..<t { for part in 0..<3 { (drows + i * 3 * c + part * c + h * d).update(repeating: 0, count: d) } }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: d * t + t) { buffer in
            let vT = buffer.baseAddress!, ds = vT + d * t                // [D, T], [T]
            transposeHead(vT, rows + 2 * c + h * d, rows: t, ld: 3 * c, headSize: d)
            for i in 0..<t {
                let n = i + 1
                let p = probs + (chunk * t + i) * t, g = dout + (b * t + i) * c + h * d
                let qi = rows + i * 3 * c + h * d, dqi = drows + i * 3 * c + h * d
                forEachVector(n) { j, w in                                // ds ← dp_j = dout_i · v_j
                    var acc = Vec(repeating: 0)
                    for k in 0..<d { acc.addProduct(Vec(repeating: g[k]), load(vT + k * t + j, w)) }
                    store(acc, ds + j, w)
                }
                let pdp = dot(p, ds, n)
                forEachVector(n) { j, k in store(load(p + j, k) * (load(ds + j, k) - pdp), ds + j, k) }
                Kernels.scale(ds, count: n, by: scale)
                weightedSumOfRows(out: dqi, weights: ds, rows: rows + c + h * d, ld: 3 * c, count: n, width: d)  // dq_i
                for j in 0..<n {
                    axpy(p[j], g, drows + j * 3 * c + 2 * c + h * d, d)                 // dv_j
                    axpy(ds[j], qi, drows + j * 3 * c + c + h * d, d)                   // dk_j
                }
            }
        }
    }
}

/// dst[D, T] ← the head's slice of `rows` ([T, ld], columns 0..<D) transposed.
@inline(__always)
func transposeHead(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, rows t: Int, ld: Int, headSize d: Int) {
    for i in 0..<t { for k in 0..<d { dst[k * t + i] = src[i * ld + k] } }
}

/// Reference causal attention in any precision: qkv [B, T, 3C] → out [B, T, C].
@inlinable public func attentionNaive<T: Real & BinaryFloatingPoint>(qkv: [T], batch: Int, time t: Int, channels c: Int, heads: Int) -> [T] {
    let d = c / heads, scale = 1 / T(d).squareRoot()
    var out = [T](repeating: 0, count: batch * t * c)
    for b in 0..<batch {
        for h in 0..<heads {
            for i in 0..<t {
                let q = (b * t + i) * 3 * c + h * d
                var scores = (0...i).map { j -> T in
                    let k = (b * t + j) * 3 * c + c + h * d
                    return (0..<d).reduce(T(0)) { $0 + qkv[q + $1] * qkv[k + $1] } * scale
                }
                let mx = scores.max()!
                scores = scores.map { T.exp($0 - mx) }
                let total = scores.reduce(0, +)
                for j in 0...i {
                    let v = (b * t + j) * 3 * c + 2 * c + h * d
                    for k in 0..<d { out[(b * t + i) * c + h * d + k] += scores[j] / total * qkv[v + k] }
                }
            }
        }
    }
    return out
}
