// GELU, tanh form (GPT-2's "gelu_new"), forward and backward side by side. Elementwise over n floats.
//   gelu(x) = ½·x·(1 + tanh u),  u = √(2/π)·(x + 0.044715·x³)
// computed as x·σ(2u) (the same function: ½(1 + tanh u) = σ(2u)), which avoids the cancellation in
// 1 + tanh u for negative x, where GELU is small and its relative accuracy would otherwise suffer.
//   gelu'(x) = σ(2u) + x·σ(2u)·(1 − σ(2u))·2u',   u' = √(2/π)·(1 + 3·0.044715·x²)
// u is evaluated on x clamped to ±10: beyond that σ(2u) is 0 or 1 to float precision, and the
// clamp keeps x³ from overflowing into inf·0 = NaN in the derivative.

import RealModule

@usableFromInline let geluScale: Float = 0.7978845608028654   // √(2/π)
@usableFromInline let geluCubic: Float = 0.044715

/// Elements per parallel chunk: large enough that a chunk is worth a thread hop.
let elementwiseChunk = 16_384

/// out[n] = gelu(x[n])
public func geluForward(out: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int) {
    Parallel.forEachChunk((count + elementwiseChunk - 1) / elementwiseChunk, flops: 20 * count) { chunk in
        let begin = chunk * elementwiseChunk, end = min(count, begin + elementwiseChunk)
        // An explicit loop rather than `forEachVector`: with the math inlined, the closure grew too
        // large for the optimiser to inline, and a call per vector cost more than the math.
        var i = begin
        while i + lanes <= end {
            let v = load(x + i)
            store(v * sigmoidOfTwoU(v), out + i)
            i += lanes
        }
        if i < end {
            let v = load(x + i, end - i)
            store(v * sigmoidOfTwoU(v), out + i, end - i)
        }
    }
}

/// dx[n] += dout[n] · gelu'(x[n])
public func geluBackward(dx: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                         x: UnsafePointer<Float>, count: Int) {
    Parallel.forEachChunk((count + elementwiseChunk - 1) / elementwiseChunk, flops: 30 * count) { chunk in
        let begin = chunk * elementwiseChunk, end = min(count, begin + elementwiseChunk)
        var i = begin
        while i + lanes <= end {
            store(load(dx + i).addingProduct(load(dout + i), geluDerivative(load(x + i))), dx + i)
            i += lanes
        }
        if i < end {
            let n = end - i
            store(load(dx + i, n).addingProduct(load(dout + i, n), geluDerivative(load(x + i, n))), dx + i, n)
        }
    }
}

/// gelu'(x) = σ(2u) + x·σ(2u)·(1 − σ(2u))·2u'   (x clamped to ±10 inside, see the file header).
@_transparent
func geluDerivative(_ v: Vec) -> Vec {
    let vc = clampForGELU(v)
    let s = sigmoidOfTwoU(v)
    return s + vc * s * (1 - s) * (2 * geluScale) * (1 + (3 * geluCubic) * vc * vc)
}

@_transparent
func clampForGELU(_ v: Vec) -> Vec { vmax(vmin(v, Vec(repeating: 10)), Vec(repeating: -10)) }

/// σ(2u) = 1 / (1 + e^{−2u}) with u = √(2/π)·(x + 0.044715·x³) on x clamped to ±10.
@_transparent
func sigmoidOfTwoU(_ v: Vec) -> Vec {
    let vc = clampForGELU(v)
    let u = geluScale * vc.addingProduct(geluCubic * vc, vc * vc)
    return 1 / (1 + vexp(-2 * u))
}

/// Reference GELU in any precision.
@inlinable public func geluNaive<T: Real & BinaryFloatingPoint>(_ x: [T]) -> [T] {
    let scale = T(geluScale), cubic = T(geluCubic)
    return x.map { v -> T in
        let u: T = scale * (v + cubic * v * v * v)
        return v / 2 * (1 + T.tanh(u))
    }
}
