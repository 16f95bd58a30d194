// Rotary position embeddings in Hugging Face's half-split layout (`rotate_half`, not Meta's
// interleaved pairs), forward and backward side by side. In place, on the query or key heads of
// each row.
//
// Legend: N rows, D head size, F = D/2 frequencies, P positions of the tables.
//   x, dx   : [N, ld] rows, heads at columns h·D ..< (h+1)·D for h < heads
//   positions : [N] Int32 the position of each row
//   cos, sin  : [P, F] cos(p·θ_i), sin(p·θ_i) (the frequencies θ_i are the model's: Llama.swift)
// For each head, with a = x[i], b = x[i + F] (i < F) and angle φ = p·θ_i:
//   forward   a' = a·cos φ − b·sin φ,   b' = b·cos φ + a·sin φ       (x·cos + rotate_half(x)·sin)
//   backward  the transpose, a rotation by −φ:  da = da'·cos φ + db'·sin φ,  db = db'·cos φ − da'·sin φ

import RealModule

/// Rotates every head of every row by its position's angles (forward), or by their negatives
/// (`inverse`: the backward pass, applied to the gradient in place).
public func ropeRotate(
    _ x: UnsafeMutablePointer<Float>, ld: Int, rows: Int, heads: Int, headDim d: Int,
    positions: UnsafePointer<Int32>, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, inverse: Bool = false
) {
    let f = d / 2, rowsPerChunk = 32
    let sign: Float = inverse ? -1 : 1
    Parallel.forEachChunk((rows + rowsPerChunk - 1) / rowsPerChunk, flops: 6 * rows * heads * d) { chunk in
        for row in chunk * rowsPerChunk..<min(rows, (chunk + 1) * rowsPerChunk) {
            let p = Int(positions[row]), cr = cos + p * f, sr = sin + p * f
            for h in 0..<heads {
                let a = x + row * ld + h * d, b = a + f
                forEachVector(f) { i, n in
                    let va = load(a + i, n), vb = load(b + i, n), c = load(cr + i, n), s = sign * load(sr + i, n)
                    store(va * c - vb * s, a + i, n)
                    store(vb * c + va * s, b + i, n)
                }
            }
        }
    }
}

/// Reference: the rotation of `ropeRotate` (forward) in any precision, on a copy, with the angles
/// given directly: angles[p, i] = p·θ_i.
@inlinable public func ropeNaive<T: Real & BinaryFloatingPoint>(
    _ x: [T], ld: Int, rows: Int, heads: Int, headDim d: Int, positions: [Int32], angles: [T]
) -> [T] {
    var out = x
    let f = d / 2
    for row in 0..<rows {
        for h in 0..<heads {
            for i in 0..<f {
                let phi = angles[Int(positions[row]) * f + i]
                let a = x[row * ld + h * d + i], b = x[row * ld + h * d + i + f]
                out[row * ld + h * d + i] = a * T.cos(phi) - b * T.sin(phi)
                out[row * ld + h * d + i + f] = b * T.cos(phi) + a * T.sin(phi)
            }
        }
    }
    return out
}
