// B packed once for many products: when the same matrix is the B of many GEMMs, as the weights are
// for every token of a generation, packing it once takes the packing out of every call.
//
// Why it matters for decoding (M = batch rows, 8–16): each weight value feeds only M FMAs, so a
// decode step runs at the speed the weights stream from memory. Read in place, a 32-column panel
// walks down rows of W a whole row (1.5–6 KB) apart, a new 4 KiB page every row or two, which keeps
// the prefetchers and the TLB from streaming it. Packed, each panel is one contiguous run, and the
// tiles prefetch it 16 KB ahead (GEMMDriver.swift, `StreamingGEMMChunk`). Small-model generation,
// 1 thread: 486 ms read in place → 274 ms packed → 185 ms packed and prefetched.
//
// The packed layout is the driver's (GEMMPlan.packedBOffset, depth blocks of at most
// `GEMMPlan.maxDepthBlock`), so the product sums in the same order as `gemm`: the same result bit
// for bit.

/// A B operand packed into the GEMM's panel order, in memory the caller owns (as every kernel takes
/// its operands): a snapshot of B, to be packed again when B changes.
public struct GEMMPackedB {
    /// Whether B was stored [N,K] (`.nt`) or [K,N] (`.nn`, `.tn`): the layouts it can serve.
    public let transposed: Bool
    public let k: Int, n: Int
    let panels: UnsafePointer<Float>

    /// Floats the packed form of a K×N matrix takes (K × N rounded up to whole column panels).
    public static func floatCount(k: Int, n: Int) -> Int {
        GEMMPlan(.nn, m: 1, n: n, k: k, bIsPrepacked: true).packedBCount
    }

    /// Packs op(B) [K,N] of `layout` (B stored [K,N] with row stride `ldb`, or [N,K] for `.nt`) into
    /// `into`, which must hold `floatCount(k:n:)` floats and outlive every product with it.
    public init(_ layout: GEMMLayout, k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int, into: UnsafeMutablePointer<Float>) {
        precondition(k > 0 && n > 0, "GEMMPackedB: empty matrix")
        transposed = layout.transposesB
        self.k = k; self.n = n
        panels = UnsafePointer(into)
        let plan = GEMMPlan(layout, m: 1, n: n, k: k, bIsPrepacked: true)
        packAllPanels(of: GEMMOperand(b: b, ldb: ldb, layout), plan: plan, into: into, flops: .max)
    }

    /// Dense form: B stored contiguously.
    public init(_ layout: GEMMLayout, k: Int, n: Int, b: UnsafePointer<Float>, into: UnsafeMutablePointer<Float>) {
        self.init(layout, k: k, n: n, b: b, ldb: layout.transposesB ? k : n, into: into)
    }
}

/// C[M,N] = (accumulate ? C : 0) + op(A)·B (+ bias), with B packed beforehand. `layout` must
/// transpose B exactly when `b` was packed from a transposed B.
public func gemm(
    _ layout: GEMMLayout, m: Int, a: UnsafePointer<Float>, lda: Int, b: GEMMPackedB,
    c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>? = nil, accumulate: Bool = false
) {
    precondition(layout.transposesB == b.transposed, "gemm: B was packed for another layout")
    precondition(m >= 0, "gemm: negative dimension")
    guard m > 0 else { return }
    gemmBlocked(layout, m: m, a: a, lda: lda, packedB: b, c: c, ldc: ldc, bias: bias, accumulate: accumulate)
}
