// The fast GEMM driver. First version: row-parallel, SIMD axpy over rows of B for .nn/.tn and SIMD
// dot products for .nt. Deterministic: each output row is computed by one thread, K ascending.

/// C[M,N] = (accumulate ? C : 0) + op(A)·op(B) (+ bias). See `GEMMLayout` for the storage.
public func gemm(
    _ layout: GEMMLayout, m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    bias: UnsafePointer<Float>? = nil, accumulate: Bool = false
) {
    guard m > 0, n > 0 else { return }
    let rowsPerChunk = 16
    let chunks = (m + rowsPerChunk - 1) / rowsPerChunk
    Parallel.forEachChunk(chunks, flops: 2 * m * n * k) { chunk in
        let rows = (chunk * rowsPerChunk)..<min(m, (chunk + 1) * rowsPerChunk)
        for i in rows {
            let ci = c + i * ldc
            if !accumulate { ci.update(repeating: 0, count: n) }
            switch layout {
            case .nn, .tn:
                for p in 0..<k {
                    let aip = layout == .tn ? a[p * lda + i] : a[i * lda + p]
                    axpy(aip, b + p * ldb, ci, n)
                }
            case .nt:
                for j in 0..<n { ci[j] += dot(a + i * lda, b + j * ldb, k) }
            }
            if let bias { axpy(1, bias, ci, n) }
        }
    }
}
