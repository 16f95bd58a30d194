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

/// y[0..<n] += alpha · x[0..<n]
@inline(__always)
func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    var j = 0
    let va = SIMD16<Float>(repeating: alpha)
    while j + 16 <= n {
        let vy = UnsafeRawPointer(y + j).loadUnaligned(as: SIMD16<Float>.self)
        let vx = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(y + j).storeBytes(of: vy.addingProduct(va, vx), as: SIMD16<Float>.self)
        j += 16
    }
    while j < n { y[j] += alpha * x[j]; j += 1 }
}

/// Σ x[i]·y[i], in a fixed order (16 lanes, then lanes summed, then the tail).
@inline(__always)
func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD16<Float>(repeating: 0)
    var j = 0
    while j + 16 <= n {
        let vx = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD16<Float>.self)
        let vy = UnsafeRawPointer(y + j).loadUnaligned(as: SIMD16<Float>.self)
        acc.addProduct(vx, vy)
        j += 16
    }
    var sum = acc.sum()
    while j < n { sum += x[j] * y[j]; j += 1 }
    return sum
}
