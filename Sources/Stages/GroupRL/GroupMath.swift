// The arithmetic GRPO and RLOO share, as plain functions of plain numbers so each can be checked by
// hand. Rewards come per completion, G consecutive completions per prompt (a group); nil is a completion
// no grader answered (unscorable: it takes no part in means and stds, and its advantage is 0).
//
//   nanmean(x)  = mean over the scorable x
//   nanstd(x)   = √(Σ (x − nanmean)² / (n − 1))   Bessel's correction (torch's std; NaN when n < 2)
//   surrogate   = −min(ρ·A, clip(ρ, 1 − ε_low, 1 + ε_high)·A),  ρ = e^{logπ − logπ_old}
//   k3          = e^{logπ_ref − logπ} − (logπ_ref − logπ) − 1       (Schulman's estimator, ≥ 0)

import Foundation

/// Mean of the values that are present; NaN when none is.
public func nanMean(_ x: [Double?]) -> Double {
    let present = x.compactMap { $0 }
    return present.isEmpty ? .nan : present.reduce(0, +) / Double(present.count)
}

/// Standard deviation with Bessel's correction over the values that are present; NaN when fewer than two are.
public func nanStd(_ x: [Double?]) -> Double {
    let present = x.compactMap { $0 }
    guard present.count > 1 else { return .nan }
    let mean = present.reduce(0, +) / Double(present.count)
    return (present.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(present.count - 1)).squareRoot()
}

/// torch.isclose(std, 0) with its default tolerances: |std| ≤ 1e-8 (NaN is not close).
func isZeroStd(_ std: Double) -> Bool { abs(std) <= 1e-8 }

/// The clipped surrogate for one ratio with asymmetric bounds: loss, ∂loss/∂logπ, and which side
/// clipped (as TRL counts it: low when ρ < 1 − ε_low with A < 0, high when ρ > 1 + ε_high with A > 0).
public func clippedSurrogate(logRatio: Double, advantage a: Double, epsilonLow: Double, epsilonHigh: Double)
    -> (loss: Double, gradient: Double, lowClipped: Bool, highClipped: Bool) {
    let ratio = exp(logRatio)
    let clipped = min(max(ratio, 1 - epsilonLow), 1 + epsilonHigh)
    let unclippedTerm = ratio * a, clippedTerm = clipped * a
    let low = ratio < 1 - epsilonLow && a < 0, high = ratio > 1 + epsilonHigh && a > 0
    // −min(ρA, ρ̄A): the gradient flows through ρ when the unclipped term is the smaller (or ρ is inside
    // the bounds, where both are equal); through ρ̄ it is zero outside the bounds.
    if unclippedTerm <= clippedTerm { return (-unclippedTerm, -unclippedTerm, low, high) }
    return (-clippedTerm, 0, low, high)
}

/// k3 = e^{d} − d − 1 with d = logπ_ref − logπ, and ∂k3/∂logπ = 1 − e^{d}.
public func k3(logp: Double, refLogp: Double) -> (value: Double, gradient: Double) {
    let d = refLogp - logp
    return (exp(d) - d - 1, 1 - exp(d))
}
