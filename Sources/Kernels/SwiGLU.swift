// The SwiGLU gate of the Llama MLP, forward and backward side by side: down(silu(gate(x)) · up(x))
// needs silu(g)·u between the projections.
//
// Legend: N rows, I MLP width.
//   gu, dgu : [N, 2I]  each row is gate (I) then up (I): one GEMM against the stacked
//                      [gate_proj; up_proj] weight makes both
//   out, dout : [N, I]
//   silu(g) = g·σ(g),   silu'(g) = σ(g)·(1 + g·(1 − σ(g)))
//   forward   out = silu(g)·u
//   backward  dg = dout·u·silu'(g),   du = dout·silu(g)      (written, not accumulated)
// σ uses `vexp` on a clamped argument, so a gate of any size gives finite values.

import RealModule

/// out[r, j] = silu(gu[r, j]) · gu[r, I + j]
public func swigluForward(out: UnsafeMutablePointer<Float>, gu: UnsafePointer<Float>, rows: Int, width i: Int) {
    let rowsPerChunk = max(1, elementwiseChunk / max(1, i))
    Parallel.forEachChunk((rows + rowsPerChunk - 1) / rowsPerChunk, flops: 20 * rows * i) { chunk in
        for row in chunk * rowsPerChunk..<min(rows, (chunk + 1) * rowsPerChunk) {
            let g = gu + row * 2 * i, u = g + i, o = out + row * i
            var j = 0                                  // explicit loops around vexp: see GELU.swift
            while j + lanes <= i {
                let vg = load(g + j)
                store(vg * sigmoid(vg) * load(u + j), o + j)
                j += lanes
            }
            if j < i {
                let vg = load(g + j, i - j)
                store(vg * sigmoid(vg) * load(u + j, i - j), o + j, i - j)
            }
        }
    }
}

/// dgu = the gradient of `swigluForward` w.r.t. gu, written.
public func swigluBackward(dgu: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, gu: UnsafePointer<Float>,
                           rows: Int, width i: Int) {
    let rowsPerChunk = max(1, elementwiseChunk / max(1, i))
    Parallel.forEachChunk((rows + rowsPerChunk - 1) / rowsPerChunk, flops: 30 * rows * i) { chunk in
        for row in chunk * rowsPerChunk..<min(rows, (chunk + 1) * rowsPerChunk) {
            let g = gu + row * 2 * i, u = g + i, d = dout + row * i, dg = dgu + row * 2 * i, du = dg + i
            var j = 0
            while j + lanes <= i {
                let vg = load(g + j), vd = load(d + j), s = sigmoid(vg)
                store(vd * load(u + j) * s * (1 + vg * (1 - s)), dg + j)
                store(vd * vg * s, du + j)
                j += lanes
            }
            if j < i {
                let n = i - j
                let vg = load(g + j, n), vd = load(d + j, n), s = sigmoid(vg)
                store(vd * load(u + j, n) * s * (1 + vg * (1 - s)), dg + j, n)
                store(vd * vg * s, du + j, n)
            }
        }
    }
}

/// σ(x) = 1 / (1 + e^{−x}), lane-wise.
@_transparent
func sigmoid(_ x: Vec) -> Vec { 1 / (1 + vexp(-x)) }

/// Reference SwiGLU in any precision: gu [N, 2I] → [N, I].
@inlinable public func swigluNaive<T: Real & BinaryFloatingPoint>(_ gu: [T], rows: Int, width i: Int) -> [T] {
    var out = [T](repeating: 0, count: rows * i)
    for r in 0..<rows {
        for j in 0..<i {
            let g = gu[r * 2 * i + j], u = gu[r * 2 * i + i + j]
            out[r * i + j] = g / (1 + T.exp(-g)) * u
        }
    }
    return out
}
