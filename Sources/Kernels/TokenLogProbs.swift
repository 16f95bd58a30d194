// Log-probabilities of given tokens under the logits, forward and backward side by side.
//
// Legend: N rows (tokens), V vocabulary.
//   logits : [N, V]    targets : [N] Int32 (a negative target means "no token": logp = 0, no gradient)
//   logp, lse, entropy, dlogp : [N]
//
// Every language-model loss here is a function of per-token log-probabilities: SFT's cross-entropy is
// −mean(logp) over completion tokens, DPO sums logp per sequence, PPO takes exp(logp − logp_old).
// So one kernel serves them all: the stage turns its loss into dL/dlogp, and the backward turns that
// into dL/dlogits = dlogp · (onehot(target) − softmax(logits)).

/// logp[r] = logits[r, target[r]] − logsumexp(logits[r]); lse saved for the backward pass;
/// entropy[r] = −Σ_v p·log p when requested (PPO reports it).
public func tokenLogProbsForward(
    logp: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>, entropy: UnsafeMutablePointer<Float>?,
    logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, rows: Int, vocab v: Int
) {
    let rowsPerChunk = 16
    Parallel.forEachChunk((rows + rowsPerChunk - 1) / rowsPerChunk, flops: 20 * rows * v) { chunk in
        for r in chunk * rowsPerChunk..<min(rows, (chunk + 1) * rowsPerChunk) {
            let z = logits + r * v
            var runningMax = Vec(repeating: -.greatestFiniteMagnitude)
            forEachVector(v) { j, k in runningMax = vmax(runningMax, load(z + j, k, fill: -.greatestFiniteMagnitude)) }
            let mx = runningMax.max()
            // Explicit loops around vexp (here and below): inside a `forEachVector` closure it made the
            // closure too large to inline, leaving a call per vector.
            var sum = Vec(repeating: 0), weighted = Vec(repeating: 0)
            var j = 0
            while j + lanes <= v {
                let x = load(z + j) - mx, e = vexp(x)
                sum += e
                weighted.addProduct(e, x)
                j += lanes
            }
            if j < v {
                let x = load(z + j, v - j, fill: mx) - mx
                let e = vexp(x).replacing(with: 0, where: laneIndices .>= SIMD16<Int32>(repeating: Int32(v - j)))
                sum += e
                weighted.addProduct(e, x)
            }
            let total = sum.sum()
            let logTotal = Float.log(total)
            lse[r] = mx + logTotal
            let target = Int(targets[r])
            logp[r] = target >= 0 ? z[target] - lse[r] : 0
            // H = log Σe^x − Σ p·x with x = z − max.
            entropy?[r] = logTotal - weighted.sum() / total
        }
    }
}

/// In place: logits[r, :] ← dlogp[r] · (onehot(target[r]) − softmax(logits[r])), using the saved lse.
public func tokenLogProbsBackward(
    logits: UnsafeMutablePointer<Float>,
    lse: UnsafePointer<Float>, targets: UnsafePointer<Int32>, dlogp: UnsafePointer<Float>,
    rows: Int, vocab v: Int
) {
    let rowsPerChunk = 16
    Parallel.forEachChunk((rows + rowsPerChunk - 1) / rowsPerChunk, flops: 20 * rows * v) { chunk in
        for r in chunk * rowsPerChunk..<min(rows, (chunk + 1) * rowsPerChunk) {
            let z = logits + r * v, g = dlogp[r], target = Int(targets[r])
            if g == 0 || target < 0 { z.update(repeating: 0, count: v); continue }
            let shift = lse[r]
            var j = 0
            while j + lanes <= v {
                store(-g * vexp(load(z + j) - shift), z + j)
                j += lanes
            }
            if j < v { store(-g * vexp(load(z + j, v - j) - shift), z + j, v - j) }
            z[target] += g
        }
    }
}
