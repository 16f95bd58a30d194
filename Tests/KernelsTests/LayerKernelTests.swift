// Every layer kernel against its naive twin (forward) and against central finite differences of the
// naive twin in Double (backward), on odd sizes; and bit-identity across thread counts.

import Foundation
import Kernels
import RealModule
import Testing

@Suite struct LayerNormTests {
    @Test(arguments: [(1, 1), (3, 7), (5, 129), (2, 384)])
    func forwardAndBackward(rows: Int, channels c: Int) {
        let x = randomArray(rows * c, seed: 1, scale: 2), w = randomArray(c, seed: 2), b = randomArray(c, seed: 3)
        var out = [Float](repeating: 0, count: rows * c), mean = [Float](repeating: 0, count: rows), rstd = mean
        layerNormForward(out: &out, mean: &mean, rstd: &rstd, x: x, weight: w, bias: b, rows: rows, channels: c)
        let reference = layerNormNaive(x: x.doubles, weight: w.doubles, bias: b.doubles, rows: rows, channels: c)
        #expect(worstRelativeError(out, reference) < 1e-4)

        let dout = randomArray(rows * c, seed: 4)
        var dx = [Float](repeating: 0, count: rows * c), dw = [Float](repeating: 0, count: c), db = dw
        layerNormBackward(dx: &dx, dweight: &dw, dbias: &db, dout: dout, x: x, weight: w,
                          mean: mean, rstd: rstd, rows: rows, channels: c)
        let loss = { (x: [Double], w: [Double], b: [Double]) in
            weightedSum(layerNormNaive(x: x, weight: w, bias: b, rows: rows, channels: c), dout)
        }
        if c > 1 {  // with one channel the output does not depend on x at all (x − mean = 0)
            #expect(worstRelativeError(dx, finiteDifferences({ loss($0, w.doubles, b.doubles) }, at: x.doubles)) < 2e-3)
        }
        #expect(worstRelativeError(dw, finiteDifferences({ loss(x.doubles, $0, b.doubles) }, at: w.doubles)) < 2e-3)
        #expect(worstRelativeError(db, finiteDifferences({ loss(x.doubles, w.doubles, $0) }, at: b.doubles)) < 2e-3)
    }

    @Test func identicalAcrossThreadCounts() {
        let (rows, c) = (1024, 384)
        let x = randomArray(rows * c, seed: 5), w = randomArray(c, seed: 6), b = randomArray(c, seed: 7)
        let dout = randomArray(rows * c, seed: 8)
        let (one, two) = atOneAndTwoThreads { () -> [Float] in
            var out = [Float](repeating: 0, count: rows * c), mean = [Float](repeating: 0, count: rows), rstd = mean
            layerNormForward(out: &out, mean: &mean, rstd: &rstd, x: x, weight: w, bias: b, rows: rows, channels: c)
            var dx = [Float](repeating: 0, count: rows * c), dw = [Float](repeating: 0, count: c), db = dw
            layerNormBackward(dx: &dx, dweight: &dw, dbias: &db, dout: dout, x: x, weight: w,
                              mean: mean, rstd: rstd, rows: rows, channels: c)
            return out + dx + dw + db
        }
        #expect(one == two)
    }
}

@Suite struct GELUTests {
    @Test(arguments: [1, 7, 129, 40_000])
    func forwardAndBackward(count: Int) {
        let x = randomArray(count, seed: 11, scale: 4)
        var out = [Float](repeating: 0, count: count)
        geluForward(out: &out, x: x, count: count)
        #expect(worstRelativeError(out, geluNaive(x.doubles)) < 1e-5)

        let probe = Array(x.prefix(300))
        let dout = randomArray(probe.count, seed: 12)
        var dx = [Float](repeating: 0, count: probe.count)
        geluBackward(dx: &dx, dout: dout, x: probe, count: probe.count)
        let expected = finiteDifferences({ weightedSum(geluNaive($0), dout) }, at: probe.doubles)
        #expect(worstRelativeError(dx, expected) < 1e-4)
    }

    @Test func extremeInputsStayFinite() {
        let x: [Float] = [-1e30, -100, -10, 0, 10, 100, 1e30]
        var out = [Float](repeating: 0, count: x.count), dx = out
        geluForward(out: &out, x: x, count: x.count)
        geluBackward(dx: &dx, dout: [Float](repeating: 1, count: x.count), x: x, count: x.count)
        #expect(out.allSatisfy(\.isFinite) && dx.allSatisfy(\.isFinite))
        #expect(abs(out[0]) < 1e-6 && out[3] == 0 && out[5] == 100 && out[6] == 1e30)
        #expect(abs(dx[0]) < 1e-30 && dx[6] == 1)
    }
}

@Suite struct AttentionTests {
    /// (batch, time, channels, heads): head sizes 1, 3, 8 and 32; one time step; odd lengths.
    static let shapes = [(1, 1, 2, 2), (2, 5, 6, 2), (1, 9, 16, 2), (2, 17, 64, 2)]

    @Test(arguments: shapes)
    func forwardAndBackward(shape: (Int, Int, Int, Int)) {
        let (b, t, c, h) = shape
        let qkv = randomArray(b * t * 3 * c, seed: 21, scale: 1.5)
        var out = [Float](repeating: 0, count: b * t * c), probs = [Float](repeating: 0, count: b * h * t * t)
        attentionForward(out: &out, probs: &probs, qkv: qkv, batch: b, time: t, channels: c, heads: h)
        #expect(worstRelativeError(out, attentionNaive(qkv: qkv.doubles, batch: b, time: t, channels: c, heads: h)) < 1e-4)
        for row in 0..<(b * h * t) {  // each probability row sums to 1 over the causal prefix, 0 after
            let i = row % t
            let p = probs[row * t..<(row + 1) * t]
            #expect(abs(p.prefix(i + 1).reduce(0, +) - 1) < 1e-5)
            #expect(p.dropFirst(i + 1).allSatisfy { $0 == 0 })
        }

        let dout = randomArray(b * t * c, seed: 22)
        var dqkv = [Float](repeating: .nan, count: b * t * 3 * c)   // written, not accumulated
        attentionBackward(dqkv: &dqkv, dout: dout, qkv: qkv, probs: probs, batch: b, time: t, channels: c, heads: h)
        // Probe every input of small shapes, a strided sample of larger ones (q, k and v of every head).
        let probed = Array(stride(from: 0, to: qkv.count, by: max(1, qkv.count / 400)))
        let expected = finiteDifferences({ weightedSum(attentionNaive(qkv: $0, batch: b, time: t, channels: c, heads: h), dout) },
                                         at: qkv.doubles, indices: probed)
        #expect(worstRelativeError(probed.map { dqkv[$0] }, expected) < 2e-3)
    }

    /// The decoder's one-row attention against the last row of the naive causal attention, for key
    /// counts that end in each of its paths (whole 4-vector blocks, 1–3 leftover vectors, a padded
    /// last vector) and head sizes 8, 40 (a partial output vector) and 64. The padding lanes of K
    /// hold NaN: they are read but must not leak into the result.
    @Test(arguments: [8, 40, 64])
    func decodeRowMatchesNaive(headSize d: Int) {
        for n in [1, 15, 16, 17, 33, 48, 50, 64, 65, 100, 128, 131] {
            let qkv = randomArray(n * 3 * d, seed: UInt64(30 + n), scale: 1.5)
            let ldk = (n + 15) / 16 * 16
            var kT = [Float](repeating: .nan, count: d * ldk)
            for j in 0..<n { for c in 0..<d { kT[c * ldk + j] = qkv[j * 3 * d + d + c] } }
            var out = [Float](repeating: 0, count: d), probs = [Float](repeating: 0, count: ldk)
            let q = Array(qkv[(n - 1) * 3 * d..<(n - 1) * 3 * d + d])
            qkv.withUnsafeBufferPointer { qkv in
                attentionRow(out: &out, probs: &probs, q: q, kT: kT, ldk: ldk, v: qkv.baseAddress! + 2 * d, ldv: 3 * d,
                             keys: n, headSize: d, scale: 1 / Float(d).squareRoot())
            }
            let naive = attentionNaive(qkv: qkv.doubles, batch: 1, time: n, channels: d, heads: 1)
            #expect(worstRelativeError(out, Array(naive[(n - 1) * d..<n * d])) < 1e-4, "keys \(n) head size \(d)")
            #expect(abs(probs.prefix(n).reduce(0, +) - 1) < 1e-5)
        }
    }

    @Test func identicalAcrossThreadCounts() {
        let (b, t, c, h) = (4, 64, 128, 4)
        let qkv = randomArray(b * t * 3 * c, seed: 23), dout = randomArray(b * t * c, seed: 24)
        let (one, two) = atOneAndTwoThreads { () -> [Float] in
            var out = [Float](repeating: 0, count: b * t * c), probs = [Float](repeating: 0, count: b * h * t * t)
            attentionForward(out: &out, probs: &probs, qkv: qkv, batch: b, time: t, channels: c, heads: h)
            var dqkv = [Float](repeating: 0, count: b * t * 3 * c)
            attentionBackward(dqkv: &dqkv, dout: dout, qkv: qkv, probs: probs, batch: b, time: t, channels: c, heads: h)
            return out + dqkv
        }
        #expect(one == two)
    }
}

@Suite struct TokenLogProbTests {
    /// log-softmax of one row in Double.
    static func logSoftmax(_ z: ArraySlice<Double>) -> [Double] {
        let mx = z.max()!
        let lse = mx + Double.log(z.reduce(0) { $0 + Double.exp($1 - mx) })
        return z.map { $0 - lse }
    }

    @Test(arguments: [(1, 1), (3, 7), (4, 259)])
    func forwardAndBackward(rows: Int, vocab v: Int) {
        let logits = randomArray(rows * v, seed: 31, scale: 5)
        var targets = (0..<rows).map { Int32($0 * 7919 % v) }
        if rows > 2 { targets[1] = -1 }                          // an ignored position
        var logp = [Float](repeating: 0, count: rows), lse = logp, entropy = logp
        tokenLogProbsForward(logp: &logp, lse: &lse, entropy: &entropy, logits: logits, targets: targets, rows: rows, vocab: v)
        let z = logits.doubles
        func reference(_ z: [Double]) -> [Double] {
            (0..<rows).map { r in targets[r] < 0 ? 0 : Self.logSoftmax(z[r * v..<(r + 1) * v])[Int(targets[r])] }
        }
        #expect(worstRelativeError(logp, reference(z)) < 1e-5)
        let referenceEntropy = (0..<rows).map { r in Self.logSoftmax(z[r * v..<(r + 1) * v]).reduce(0) { $0 - Double.exp($1) * $1 } }
        #expect(worstRelativeError(entropy, referenceEntropy) < 1e-4)

        let dlogp = randomArray(rows, seed: 32)
        var grads = logits
        tokenLogProbsBackward(logits: &grads, lse: lse, targets: targets, dlogp: dlogp, rows: rows, vocab: v)
        let expected = finiteDifferences({ weightedSum(reference($0), dlogp) }, at: z)
        #expect(worstRelativeError(grads, expected) < 1e-3)
    }
}

@Suite struct EmbeddingTests {
    @Test func forwardAddsRowsAndBackwardScatters() {
        let (b, t, c, v) = (2, 3, 5, 4)
        let wte = randomArray(v * c, seed: 41), wpe = randomArray(t * c, seed: 42)
        let tokens: [Int32] = [3, 1, 3, 0, 3, 2]
        var out = [Float](repeating: 0, count: b * t * c)
        embeddingForward(out: &out, tokens: tokens, wte: wte, wpe: wpe, batch: b, time: t, channels: c)
        for row in 0..<(b * t) {
            for j in 0..<c { #expect(out[row * c + j] == wte[Int(tokens[row]) * c + j] + wpe[(row % t) * c + j]) }
        }
        let dout = randomArray(b * t * c, seed: 43)
        var dwte = [Float](repeating: 0, count: v * c), dwpe = [Float](repeating: 0, count: t * c)
        embeddingBackward(dwte: &dwte, dwpe: &dwpe, dout: dout, tokens: tokens, batch: b, time: t, channels: c)
        for j in 0..<c {
            #expect(abs(dwte[3 * c + j] - (dout[0 * c + j] + dout[2 * c + j] + dout[4 * c + j])) < 1e-6)
            #expect(dwte[2 * c + j] == dout[5 * c + j])
            #expect(abs(dwpe[1 * c + j] - (dout[1 * c + j] + dout[4 * c + j])) < 1e-6)
        }
    }
}

@Suite struct OptimizerAndReductionTests {
    @Test func adamWMatchesTheFormulaInDouble() {
        let n = 37
        var p = randomArray(n, seed: 51), m = randomArray(n, seed: 52, scale: 0.1), v = randomArray(n, seed: 53, scale: 0.1).map(abs)
        let g = randomArray(n, seed: 54)
        let (p0, m0, v0) = (p, m, v)
        let s = AdamWSettings(beta1: 0.9, beta2: 0.95, epsilon: 1e-8)
        adamWUpdate(params: &p, m: &m, v: &v, grads: g, count: n, step: 7, learningRate: 1e-2, weightDecay: 0.1, settings: s)
        for i in 0..<n {
            let mi = 0.9 * Double(m0[i]) + 0.1 * Double(g[i])
            let vi = 0.95 * Double(v0[i]) + 0.05 * Double(g[i]) * Double(g[i])
            let mhat = mi / (1 - Double.pow(0.9, 7)), vhat = vi / (1 - Double.pow(0.95, 7))
            let expected = Double(p0[i]) - 1e-2 * (mhat / (vhat.squareRoot() + 1e-8) + 0.1 * Double(p0[i]))
            #expect(abs(Double(p[i]) - expected) < 1e-6)
            #expect(abs(Double(m[i]) - mi) < 1e-6 && abs(Double(v[i]) - vi) < 1e-6)
        }
    }

    @Test func sumsAreExactInOrderAndThreadIndependent() {
        let (rows, cols) = (1000, 129)
        let x = randomArray(rows * cols, seed: 61)
        let (one, two) = atOneAndTwoThreads { () -> [Float] in
            var out = [Float](repeating: 0, count: cols)
            sumRows(out: &out, x: x, rows: rows, columns: cols)
            return out + [Float(sumOfSquares(x, count: x.count))]
        }
        #expect(one == two)
        for j in [0, 64, 128] {
            let expected = (0..<rows).reduce(0.0) { $0 + Double(x[$1 * cols + j]) }
            #expect(abs(Double(one[j]) - expected) < 1e-3)
        }
        #expect(abs(Double(one[cols]) - x.reduce(0.0) { $0 + Double($1) * Double($1) }) < 1e-2)
    }
}

@Suite struct DistillationKernelTests {
    /// KL and CE of one row in Double, from the student's logits.
    static func reference(_ zs: [Double], _ zt: [Double], target: Int, tau: Double, forward: Bool) -> (kl: Double, ce: Double) {
        func logSoftmax(_ z: [Double], _ s: Double) -> [Double] {
            let x = z.map { $0 * s }, mx = x.max()!
            let lse = mx + Foundation.log(x.reduce(0) { $0 + Foundation.exp($1 - mx) })
            return x.map { $0 - lse }
        }
        let ls = logSoftmax(zs, 1 / tau), lt = logSoftmax(zt, 1 / tau)
        let kl = forward ? zip(lt, ls).reduce(0) { $0 + Foundation.exp($1.0) * ($1.0 - $1.1) }
                         : zip(ls, lt).reduce(0) { $0 + Foundation.exp($1.0) * ($1.0 - $1.1) }
        return (kl, -logSoftmax(zs, 1)[target])
    }

    @Test(arguments: [true, false])
    func gradientMatchesFiniteDifferences(forward: Bool) {
        let (rows, v) = (3, 11)
        let student = randomArray(rows * v, seed: 71, scale: 3), teacher = randomArray(rows * v, seed: 72, scale: 3)
        let targets: [Int32] = [4, 0, 10], weights: [Float] = [0.5, 0, 1.5]
        let (tau, klWeight, ceWeight) = (2.0, Float(0.7), Float(0.3))
        var grad = [Float](repeating: 0, count: rows * v), kl = [Float](repeating: 0, count: rows), ce = kl
        distillationLoss(dstudent: &grad, kl: &kl, ce: &ce, student: student, teacher: teacher, targets: targets, weights: weights,
                         rows: rows, vocab: v, temperature: Float(tau), direction: forward ? .forward : .reverse,
                         klWeight: klWeight, ceWeight: ceWeight)
        func loss(_ z: [Double]) -> Double {
            (0..<rows).reduce(0) { total, r in
                let part = Self.reference(Array(z[r * v..<(r + 1) * v]), teacher[r * v..<(r + 1) * v].map(Double.init),
                                          target: Int(targets[r]), tau: tau, forward: forward)
                return total + Double(weights[r]) * (Double(klWeight) * tau * tau * part.kl + Double(ceWeight) * part.ce)
            }
        }
        #expect(worstRelativeError(grad, finiteDifferences(loss, at: student.doubles)) < 1e-4)
        let first = Self.reference(student[0..<v].map(Double.init), teacher[0..<v].map(Double.init), target: 4, tau: tau, forward: forward)
        #expect(abs(Double(kl[0]) - first.kl) < 1e-5 && abs(Double(ce[0]) - first.ce) < 1e-5)
        #expect(kl[1] == 0 && grad[v..<2 * v].allSatisfy { $0 == 0 })       // weight 0: skipped
    }
}
