// GEMM: C[M,N] = (accumulate ? C : 0) + op(A)[M,K] · op(B)[K,N] (+ bias[N] on every row).
//
// Row-major storage throughout. The three layouts are the ones a linear layer needs:
//   forward   y  = x · W          .nn  A = x  [M,K],  B = W  [K,N]
//   backward  dx = dy · Wᵀ        .nt  A = dy [M,K],  B = W  stored [N,K] (W is [in,out] = [N,K] here)
//   backward  dW = xᵀ · dy        .tn  A = x  stored [K,M],  B = dy [K,N]
// `lda`, `ldb`, `ldc` are the row strides of the matrices *as stored*, so a head's slice of a wider
// buffer can be passed without a copy.
//
// `gemmNaive` is the reference: the textbook triple loop, used by tests as the oracle and kept as
// the readable definition. `gemm` is the fast path, in five files:
//   GEMMPlan.swift         shape → depth blocks and the chunk grid threads share
//   GEMMDriver.swift       the loop nest, where each panel comes from, threads
//   GEMMPacking.swift      copying A and B into the panel order the tile reads
//   GEMMMicroKernel.swift  the register tile (12×32 with AVX-512, 6×16 otherwise)
//   GEMMPackedB.swift      B packed once for many products (a decoder's weights)
//
// Legend (all four files):
//   M, N, K        C is M×N; the product runs over K, "the depth".
//   MR × NR        the register tile: MR rows × NR columns of C kept in vector registers.
//   row panel      MR rows of C and of op(A); column panel: NR columns of C and of op(B).
//   kc             a depth block: K is cut into ⌈K / 512⌉ blocks of equal size.
//   chunk          the unit of parallel work: a run of ≤ 8 row panels × a run of column panels.
//   lane / depth   an operand's index along C (row of A, column of B) / along K.

/// How the operands of `gemm` are stored.
public enum GEMMLayout: String, Sendable, CaseIterable {
    /// A stored [M,K], B stored [K,N]: C = A·B.
    case nn
    /// A stored [M,K], B stored [N,K]: C = A·Bᵀ.
    case nt
    /// A stored [K,M], B stored [K,N]: C = Aᵀ·B.
    case tn

    /// Whether A is stored transposed (K rows of M).
    @inlinable public var transposesA: Bool { self == .tn }
    /// Whether B is stored transposed (N rows of K).
    @inlinable public var transposesB: Bool { self == .nt }
}

/// C[M,N] = (accumulate ? C : 0) + op(A)·op(B) (+ bias). See `GEMMLayout` for the storage.
/// Bit-identical for every thread budget (`Parallel.threads`).
public func gemm(
    _ layout: GEMMLayout, m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    bias: UnsafePointer<Float>? = nil, accumulate: Bool = false
) {
    precondition(m >= 0 && n >= 0 && k >= 0, "gemm: negative dimension")
    guard m > 0, n > 0 else { return }
    gemmBlocked(layout, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
                bias: bias, accumulate: accumulate)
}

/// The reference GEMM: one dot product per output element, K ascending, in Float.
public func gemmNaive(
    _ layout: GEMMLayout, m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    bias: UnsafePointer<Float>? = nil, accumulate: Bool = false
) {
    for i in 0..<m {
        for j in 0..<n {
            var sum: Float = accumulate ? c[i * ldc + j] : 0
            for p in 0..<k {
                let aip = layout.transposesA ? a[p * lda + i] : a[i * lda + p]
                let bpj = layout.transposesB ? b[j * ldb + p] : b[p * ldb + j]
                sum += aip * bpj
            }
            if let bias { sum += bias[j] }
            c[i * ldc + j] = sum
        }
    }
}

/// Dense convenience form: every matrix is stored contiguously (leading dimension = its row length).
public func gemm(
    _ layout: GEMMLayout, m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
    bias: UnsafePointer<Float>? = nil, accumulate: Bool = false
) {
    gemm(layout, m: m, n: n, k: k,
         a: a, lda: layout.transposesA ? m : k,
         b: b, ldb: layout.transposesB ? k : n,
         c: c, ldc: n, bias: bias, accumulate: accumulate)
}
