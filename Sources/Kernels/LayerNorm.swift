// LayerNorm over the channels of each row, forward and backward side by side.
//
// Legend: N rows (tokens, B·T), C channels.
//   x, out, dx, dout : [N, C]     weight, bias, dweight, dbias : [C]     mean, rstd : [N]
// Backward accumulates (+=) into dx, dweight and dbias, as every backward in this module does: a
// tensor that feeds several consumers sums their gradients without extra buffers.

import RealModule

public let layerNormEpsilon: Float = 1e-5

/// out = (x − mean) · rstd · weight + bias, with mean and rstd = 1/√(var + ε) saved per row.
public func layerNormForward(
    out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
    x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    rows: Int, channels c: Int
) {
    let rowsPerChunk = 32
    Parallel.forEachChunk((rows + rowsPerChunk - 1) / rowsPerChunk, flops: 8 * rows * c) { chunk in
        for row in chunk * rowsPerChunk..<min(rows, (chunk + 1) * rowsPerChunk) {
            let xr = x + row * c, outr = out + row * c
            var sum = Vec(repeating: 0)
            forEachVector(c) { j, n in sum += load(xr + j, n) }
            let mu = sum.sum() / Float(c)
            var squares = Vec(repeating: 0)
            forEachVector(c) { j, n in
                let d = load(xr + j, n, fill: mu) - mu
                squares.addProduct(d, d)
            }
            let r = 1 / (squares.sum() / Float(c) + layerNormEpsilon).squareRoot()
            mean[row] = mu
            rstd[row] = r
            forEachVector(c) { j, n in
                store((load(xr + j, n) - mu) * r * load(weight + j, n) + load(bias + j, n), outr + j, n)
            }
        }
    }
}

/// Gradients of `layerNormForward`. With n̂ = (x − mean)·rstd and g = dout·weight:
///   dbias += Σ_rows dout,  dweight += Σ_rows dout·n̂,
///   dx += rstd · (g − mean(g) − n̂ · mean(g·n̂)).
public func layerNormBackward(
    dx: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>,
    dout: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
    rows: Int, channels c: Int
) {
    let rowsPerChunk = 32
    let chunks = (rows + rowsPerChunk - 1) / rowsPerChunk
    // partial: [dweight (C) | dbias (C)] per chunk, summed in chunk order below.
    let sums = UnsafeMutablePointer<Float>.allocate(capacity: 2 * c)
    defer { sums.deallocate() }
    sums.initialize(repeating: 0, count: 2 * c)
    Parallel.reduceChunks(chunks, width: 2 * c, flops: 14 * rows * c, into: sums) { chunk, partial in
        for row in chunk * rowsPerChunk..<min(rows, (chunk + 1) * rowsPerChunk) {
            let xr = x + row * c, dor = dout + row * c, dxr = dx + row * c
            let mu = mean[row], r = rstd[row]
            var gSum = Vec(repeating: 0), gnSum = Vec(repeating: 0)
            forEachVector(c) { j, n in
                let xn = (load(xr + j, n, fill: mu) - mu) * r
                let d = load(dor + j, n)
                let g = d * load(weight + j, n)
                gSum += g
                gnSum.addProduct(g, xn)
                store(load(partial + j, n).addingProduct(d, xn), partial + j, n)
                store(load(partial + c + j, n) + d, partial + c + j, n)
            }
            let gMean = gSum.sum() / Float(c), gnMean = gnSum.sum() / Float(c)
            forEachVector(c) { j, n in
                let xn = (load(xr + j, n, fill: mu) - mu) * r
                let g = load(dor + j, n) * load(weight + j, n)
                store(load(dxr + j, n) + (g - gMean - xn * gnMean) * r, dxr + j, n)
            }
        }
    }
    axpy(1, sums, dweight, c)
    axpy(1, sums + c, dbias, c)
}

/// Reference: the textbook definition in any precision (tests run it in Double).
@inlinable public func layerNormNaive<T: Real & BinaryFloatingPoint>(x: [T], weight: [T], bias: [T], rows: Int, channels c: Int) -> [T] {
    var out = [T](repeating: 0, count: rows * c)
    for row in 0..<rows {
        let xs = x[row * c..<(row + 1) * c]
        let mean = xs.reduce(0, +) / T(c)
        let variance = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / T(c)
        let rstd = 1 / (variance + T(layerNormEpsilon)).squareRoot()
        for j in 0..<c { out[row * c + j] = (x[row * c + j] - mean) * rstd * weight[j] + bias[j] }
    }
    return out
}
