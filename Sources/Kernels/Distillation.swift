// Knowledge distillation loss over full next-token distributions, forward and backward fused.
//
// Legend: N rows (tokens), V vocabulary.  student, teacher, dstudent : [N, V]   targets, weights : [N]
// With P = softmax(z/τ) of each network's logits z:
//   forward KL  KL(P_t ‖ P_s) = Σ_v P_t·(log P_t − log P_s)     ∂/∂z_s = (P_s − P_t)/τ
//   reverse KL  KL(P_s ‖ P_t) = Σ_v P_s·(log P_s − log P_t)     ∂/∂z_s = P_s ⊙ (log P_s − log P_t − KL)/τ
//   cross-entropy on the data's next token (τ = 1)             ∂/∂z_s = softmax(z_s) − onehot(target)
// dstudent = weight_r · (klWeight · τ² · ∂KL + ceWeight · ∂CE): the τ² keeps the KL gradient's scale
// independent of τ (Hinton et al. 2015). dstudent may be student itself (the gradient replaces the
// logits in place): each row is read whole before it is written. Rows are independent; each is computed in Double, which
// costs little beside the GEMMs (V = 259) and keeps the two log-softmaxes exact.

import Foundation

public enum DistillationDirection: Sendable { case forward, reverse }

public func distillationLoss(
    dstudent: UnsafeMutablePointer<Float>, kl: UnsafeMutablePointer<Float>, ce: UnsafeMutablePointer<Float>,
    student: UnsafePointer<Float>, teacher: UnsafePointer<Float>, targets: UnsafePointer<Int32>, weights: UnsafePointer<Float>,
    rows: Int, vocab v: Int, temperature: Float, direction: DistillationDirection, klWeight: Float, ceWeight: Float
) {
    let tau = Double(temperature)
    let rowsPerChunk = 16
    Parallel.forEachChunk((rows + rowsPerChunk - 1) / rowsPerChunk, flops: 40 * rows * v) { chunk in
        var ls = [Double](repeating: 0, count: v), lt = ls, l1 = ls
        for r in chunk * rowsPerChunk..<min(rows, (chunk + 1) * rowsPerChunk) {
            let zs = student + r * v, zt = teacher + r * v, out = dstudent + r * v
            let w = Double(weights[r])
            if w == 0 {
                out.update(repeating: 0, count: v)
                kl[r] = 0; ce[r] = 0
                continue
            }
            logSoftmax(zs, v, scale: 1 / tau, into: &ls)
            logSoftmax(zt, v, scale: 1 / tau, into: &lt)
            logSoftmax(zs, v, scale: 1, into: &l1)
            var divergence = 0.0
            for i in 0..<v {
                divergence += direction == .forward ? exp(lt[i]) * (lt[i] - ls[i]) : exp(ls[i]) * (ls[i] - lt[i])
            }
            let target = Int(targets[r])
            let crossEntropy = target >= 0 ? -l1[target] : 0
            for i in 0..<v {
                let ps = exp(ls[i])
                let dKL = direction == .forward ? (ps - exp(lt[i])) / tau : ps * (ls[i] - lt[i] - divergence) / tau
                var dCE = target >= 0 ? exp(l1[i]) : 0
                if i == target { dCE -= 1 }
                out[i] = Float(w * (Double(klWeight) * tau * tau * dKL + Double(ceWeight) * dCE))
            }
            kl[r] = Float(divergence)
            ce[r] = Float(crossEntropy)
        }
    }
}

/// out = log softmax(scale · z) in Double.
@inline(__always)
func logSoftmax(_ z: UnsafePointer<Float>, _ v: Int, scale: Double, into out: inout [Double]) {
    var mx = -Double.infinity
    for i in 0..<v { mx = max(mx, Double(z[i]) * scale) }
    var sum = 0.0
    for i in 0..<v { sum += exp(Double(z[i]) * scale - mx) }
    let lse = mx + log(sum)
    for i in 0..<v { out[i] = Double(z[i]) * scale - lse }
}
