// The Llama family's kernels (RMSNorm, RoPE, SwiGLU, grouped-query attention) against their naive
// twins (forward) and central finite differences of the naive twins in Double (backward), on odd
// shapes; and bit-identity across thread counts.

import Foundation
import Kernels
import RealModule
import Testing

@Suite struct RMSNormTests {
    @Test(arguments: [(1, 1), (3, 7), (5, 129), (2, 576)])
    func forwardAndBackward(rows: Int, channels c: Int) {
        let x = randomArray(rows * c, seed: 101, scale: 2), w = randomArray(c, seed: 102)
        var out = [Float](repeating: 0, count: rows * c), rstd = [Float](repeating: 0, count: rows)
        rmsNormForward(out: &out, rstd: &rstd, x: x, weight: w, rows: rows, channels: c, epsilon: 1e-5)
        #expect(worstRelativeError(out, rmsNormNaive(x: x.doubles, weight: w.doubles, rows: rows, channels: c, epsilon: 1e-5)) < 1e-4)

        let dout = randomArray(rows * c, seed: 103)
        var dx = [Float](repeating: 0.25, count: rows * c), dw = [Float](repeating: -0.5, count: c)  // accumulates
        rmsNormBackward(dx: &dx, dweight: &dw, dout: dout, x: x, weight: w, rstd: rstd, rows: rows, channels: c)
        let loss = { (x: [Double], w: [Double]) in weightedSum(rmsNormNaive(x: x, weight: w, rows: rows, channels: c, epsilon: 1e-5), dout) }
        let probed = Array(stride(from: 0, to: x.count, by: max(1, x.count / 300)))
        #expect(worstRelativeError(probed.map { dx[$0] - 0.25 }, finiteDifferences({ loss($0, w.doubles) }, at: x.doubles, indices: probed)) < 2e-3)
        #expect(worstRelativeError(dw.map { $0 + 0.5 }, finiteDifferences({ loss(x.doubles, $0) }, at: w.doubles)) < 2e-3)
    }

    @Test func identicalAcrossThreadCounts() {
        let (rows, c) = (1024, 576)
        let x = randomArray(rows * c, seed: 104), w = randomArray(c, seed: 105), dout = randomArray(rows * c, seed: 106)
        let (one, two) = atOneAndTwoThreads { () -> [Float] in
            var out = [Float](repeating: 0, count: rows * c), rstd = [Float](repeating: 0, count: rows)
            rmsNormForward(out: &out, rstd: &rstd, x: x, weight: w, rows: rows, channels: c, epsilon: 1e-6)
            var dx = [Float](repeating: 0, count: rows * c), dw = [Float](repeating: 0, count: c)
            rmsNormBackward(dx: &dx, dweight: &dw, dout: dout, x: x, weight: w, rstd: rstd, rows: rows, channels: c)
            return out + dx + dw
        }
        #expect(one == two)
    }
}

@Suite struct RoPETests {
    /// Angles p·θ_i for θ_i = 10000^(−2i/D), as a model's tables hold them.
    static func angles(positions: Int, headDim d: Int) -> [Double] {
        (0..<positions).flatMap { p in (0..<d / 2).map { i in Double(p) * Double.pow(10_000, -Double(2 * i) / Double(d)) } }
    }

    /// Head sizes 2 (one frequency), 6, 40 (a partial vector of frequencies) and 64; three heads in a
    /// row of stride wider than the heads; positions out of order.
    @Test(arguments: [2, 6, 40, 64])
    func forwardAndBackward(headDim d: Int) {
        let (rows, heads, ld, positionCount) = (5, 3, 3 * d + 5, 9)
        let positions: [Int32] = [0, 8, 3, 3, 1]
        let angles = Self.angles(positions: positionCount, headDim: d)
        let cos = angles.map { Float(Foundation.cos($0)) }, sin = angles.map { Float(Foundation.sin($0)) }
        let x = randomArray(rows * ld, seed: 111, scale: 2)
        var out = x
        ropeRotate(&out, ld: ld, rows: rows, heads: heads, headDim: d, positions: positions, cos: cos, sin: sin)
        let naive = ropeNaive(x.doubles, ld: ld, rows: rows, heads: heads, headDim: d, positions: positions, angles: angles)
        #expect(worstRelativeError(out, naive) < 1e-5)
        #expect((0..<rows).allSatisfy { r in (heads * d..<ld).allSatisfy { out[r * ld + $0] == x[r * ld + $0] } })  // past the heads: untouched

        let dout = randomArray(rows * ld, seed: 112)
        var grad = dout
        ropeRotate(&grad, ld: ld, rows: rows, heads: heads, headDim: d, positions: positions, cos: cos, sin: sin, inverse: true)
        let expected = finiteDifferences({
            weightedSum(ropeNaive($0, ld: ld, rows: rows, heads: heads, headDim: d, positions: positions, angles: angles), dout)
        }, at: x.doubles)
        #expect(worstRelativeError(grad, expected) < 1e-4)
    }
}

@Suite struct SwiGLUTests {
    @Test(arguments: [(1, 1), (3, 7), (2, 40), (4, 1536)])
    func forwardAndBackward(rows: Int, width i: Int) {
        let gu = randomArray(rows * 2 * i, seed: 121, scale: 4)
        var out = [Float](repeating: 0, count: rows * i)
        swigluForward(out: &out, gu: gu, rows: rows, width: i)
        #expect(worstRelativeError(out, swigluNaive(gu.doubles, rows: rows, width: i)) < 1e-5)

        let dout = randomArray(rows * i, seed: 122)
        var dgu = [Float](repeating: .nan, count: rows * 2 * i)               // written, not accumulated
        swigluBackward(dgu: &dgu, dout: dout, gu: gu, rows: rows, width: i)
        let probed = Array(stride(from: 0, to: gu.count, by: max(1, gu.count / 300)))
        let expected = finiteDifferences({ weightedSum(swigluNaive($0, rows: rows, width: i), dout) }, at: gu.doubles, indices: probed)
        #expect(worstRelativeError(probed.map { dgu[$0] }, expected) < 1e-4)
    }

    @Test func extremeGatesStayFinite() {
        let gu: [Float] = [-1e30, -100, 0, 100, 1e30, 2, 2, 2, 2, 2]
        var out = [Float](repeating: 0, count: 5), dgu = [Float](repeating: 0, count: 10)
        swigluForward(out: &out, gu: gu, rows: 1, width: 5)
        swigluBackward(dgu: &dgu, dout: [Float](repeating: 1, count: 5), gu: gu, rows: 1, width: 5)
        #expect(out.allSatisfy(\.isFinite) && dgu.allSatisfy(\.isFinite))
        #expect(out[2] == 0 && out[3] == 200 && abs(out[1]) < 1e-30)
    }
}

@Suite struct GroupedAttentionTests {
    /// (batch, time, heads, kv heads, head size): groups of 1, 2, 3 and 4 query heads; one time step;
    /// odd lengths; head sizes 1, 3, 8 and 64.
    static let shapes = [(1, 1, 2, 1, 3), (2, 5, 4, 2, 8), (1, 9, 3, 1, 1), (2, 17, 6, 2, 8), (1, 33, 4, 4, 64)]

    @Test(arguments: shapes)
    func forwardAndBackward(shape: (Int, Int, Int, Int, Int)) {
        let (b, t, h, g, d) = shape
        let width = (h + 2 * g) * d
        let qkv = randomArray(b * t * width, seed: 131, scale: 1.5)
        var out = [Float](repeating: 0, count: b * t * h * d), probs = [Float](repeating: 0, count: b * h * t * t)
        groupedAttentionForward(out: &out, probs: &probs, qkv: qkv, batch: b, time: t, heads: h, kvHeads: g, headDim: d)
        func naive(_ qkv: [Double]) -> [Double] { groupedAttentionNaive(qkv: qkv, batch: b, time: t, heads: h, kvHeads: g, headDim: d) }
        #expect(worstRelativeError(out, naive(qkv.doubles)) < 1e-4)

        let dout = randomArray(b * t * h * d, seed: 132)
        var dqkv = [Float](repeating: .nan, count: qkv.count)                 // written, not accumulated
        groupedAttentionBackward(dqkv: &dqkv, dout: dout, qkv: qkv, probs: probs, batch: b, time: t, heads: h, kvHeads: g, headDim: d)
        let probed = Array(stride(from: 0, to: qkv.count, by: max(1, qkv.count / 400)))
        let expected = finiteDifferences({ weightedSum(naive($0), dout) }, at: qkv.doubles, indices: probed)
        #expect(worstRelativeError(probed.map { dqkv[$0] }, expected) < 2e-3)
    }

    /// With G = H, the grouped kernels are the GPT-2 ones bit for bit.
    @Test func oneGroupPerHeadIsMultiHeadAttention() {
        let (b, t, c, h) = (2, 19, 32, 4)
        let qkv = randomArray(b * t * 3 * c, seed: 133), dout = randomArray(b * t * c, seed: 134)
        var out1 = [Float](repeating: 0, count: b * t * c), probs1 = [Float](repeating: 0, count: b * h * t * t)
        var out2 = out1, probs2 = probs1
        attentionForward(out: &out1, probs: &probs1, qkv: qkv, batch: b, time: t, channels: c, heads: h)
        groupedAttentionForward(out: &out2, probs: &probs2, qkv: qkv, batch: b, time: t, heads: h, kvHeads: h, headDim: c / h)
        #expect(out1 == out2 && probs1 == probs2)
        var dqkv1 = [Float](repeating: 0, count: qkv.count), dqkv2 = dqkv1
        attentionBackward(dqkv: &dqkv1, dout: dout, qkv: qkv, probs: probs1, batch: b, time: t, channels: c, heads: h)
        groupedAttentionBackward(dqkv: &dqkv2, dout: dout, qkv: qkv, probs: probs2, batch: b, time: t, heads: h, kvHeads: h,
                                 headDim: c / h)
        #expect(dqkv1 == dqkv2)
    }

    @Test func identicalAcrossThreadCounts() {
        let (b, t, h, g, d) = (2, 64, 9, 3, 64)
        let width = (h + 2 * g) * d
        let qkv = randomArray(b * t * width, seed: 135), dout = randomArray(b * t * h * d, seed: 136)
        let (one, two) = atOneAndTwoThreads { () -> [Float] in
            var out = [Float](repeating: 0, count: b * t * h * d), probs = [Float](repeating: 0, count: b * h * t * t)
            groupedAttentionForward(out: &out, probs: &probs, qkv: qkv, batch: b, time: t, heads: h, kvHeads: g, headDim: d)
            var dqkv = [Float](repeating: 0, count: qkv.count)
            groupedAttentionBackward(dqkv: &dqkv, dout: dout, qkv: qkv, probs: probs, batch: b, time: t, heads: h, kvHeads: g, headDim: d)
            return out + dqkv
        }
        #expect(one == two)
    }
}
