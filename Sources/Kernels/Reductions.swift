// Reductions with a fixed order (DESIGN §4): bias gradients (column sums) and squared norms.

/// out[N] += Σ_rows x[rows, N] — the gradient of a bias added to every row. Rows are summed in
/// fixed blocks of 64 and the blocks combined in order, so the result does not depend on threads.
public func sumRows(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows: Int, columns: Int) {
    let rowsPerChunk = 64
    Parallel.reduceChunks((rows + rowsPerChunk - 1) / rowsPerChunk, width: columns,
                          flops: rows * columns, into: out) { chunk, partial in
        for row in chunk * rowsPerChunk..<min(rows, (chunk + 1) * rowsPerChunk) {
            axpy(1, x + row * columns, partial, columns)
        }
    }
}

/// Σ x[i]² in Double, over fixed blocks of 4096 floats summed lane-wise in Float, blocks combined
/// in order in Double: accurate enough for a gradient norm and identical for every thread count.
public func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
    let block = 4096
    let chunks = (count + block - 1) / block
    guard chunks > 0 else { return 0 }
    let partials = UnsafeMutablePointer<Double>.allocate(capacity: chunks)
    defer { partials.deallocate() }
    Parallel.forEachChunk(chunks, flops: 2 * count) { chunk in
        let begin = chunk * block
        partials[chunk] = Double(dot(x + begin, x + begin, min(count, begin + block) - begin))
    }
    var total = 0.0
    for chunk in 0..<chunks { total += partials[chunk] }
    return total
}

/// x[0..<n] *= factor
public func scale(_ x: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
    forEachVector(count) { j, n in store(load(x + j, n) * factor, x + j, n) }
}
