// RMSNorm over the channels of each row (the Llama family's normalisation), forward and backward
// side by side.
//
// Legend: N rows (tokens, B·T), C channels.
//   x, out, dx, dout : [N, C]     weight, dweight : [C]     rstd : [N]
// As Hugging Face's LlamaRMSNorm: the mean of squares in Float, then x · rstd, then × weight; no
// mean is subtracted and there is no bias. Backward accumulates (+=) into dx and dweight.

import RealModule

/// out = x · rstd · weight, with rstd = 1/√(mean(x²) + ε) saved per row.
public func rmsNormForward(
    out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
    x: UnsafePointer<Float>, weight: UnsafePointer<Float>, rows: Int, channels c: Int, epsilon: Float
) {
    let rowsPerChunk = 32
    Parallel.forEachChunk((rows + rowsPerChunk - 1) / rowsPerChunk, flops: 5 * rows * c) { chunk in
        for row in chunk * rowsPerChunk..<min(rows, (chunk + 1) * rowsPerChunk) {
            let xr = x + row * c, outr = out + row * c
            var squares = Vec(repeating: 0)
            forEachVector(c) { j, n in
                let v = load(xr + j, n)
                squares.addProduct(v, v)
            }
            let r = 1 / (squares.sum() / Float(c) + epsilon).squareRoot()
            rstd[row] = r
            forEachVector(c) { j, n in store(load(xr + j, n) * r * load(weight + j, n), outr + j, n) }
        }
    }
}

/// Gradients of `rmsNormForward`. With n̂ = x·rstd and g = dout·weight:
///   dweight += Σ_rows dout·n̂,
///   dx += rstd · (g − n̂ · mean(g·n̂)).
public func rmsNormBackward(
    dx: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>,
    dout: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
    rows: Int, channels c: Int
) {
    let rowsPerChunk = 32
    let chunks = (rows + rowsPerChunk - 1) / rowsPerChunk
    // partial: dweight (C) per chunk, summed in chunk order.
    Parallel.reduceChunks(chunks, width: c, flops: 10 * rows * c, into: dweight) { chunk, partial in
        for row in chunk * rowsPerChunk..<min(rows, (chunk + 1) * rowsPerChunk) {
            let xr = x + row * c, dor = dout + row * c, dxr = dx + row * c, r = rstd[row]
            var gnSum = Vec(repeating: 0)
            forEachVector(c) { j, n in
                let xn = load(xr + j, n) * r
                let d = load(dor + j, n)
                gnSum.addProduct(d * load(weight + j, n), xn)
                store(load(partial + j, n).addingProduct(d, xn), partial + j, n)
            }
            let gnMean = gnSum.sum() / Float(c)
            forEachVector(c) { j, n in
                let xn = load(xr + j, n) * r
                let g = load(dor + j, n) * load(weight + j, n)
                store(load(dxr + j, n) + (g - xn * gnMean) * r, dxr + j, n)
            }
        }
    }
}

/// Reference: the textbook definition in any precision (tests run it in Double).
@inlinable public func rmsNormNaive<T: Real & BinaryFloatingPoint>(x: [T], weight: [T], rows: Int, channels c: Int, epsilon: T) -> [T] {
    var out = [T](repeating: 0, count: rows * c)
    for row in 0..<rows {
        let meanSquare = x[row * c..<(row + 1) * c].reduce(0) { $0 + $1 * $1 } / T(c)
        let rstd = 1 / (meanSquare + epsilon).squareRoot()
        for j in 0..<c { out[row * c + j] = x[row * c + j] * rstd * weight[j] }
    }
    return out
}
