// Direct Preference Optimization losses (Rafailov et al. 2023; IPO: Azar et al. 2023; cDPO label
// smoothing: Mitchell 2023), as TRL defines them. With sequence log-probs π (policy) and ρ (frozen
// reference) of the chosen (c) and rejected (r) completions:
//   h = (π_c − ρ_c) − (π_r − ρ_r)
//   sigmoid: −(1−ε)·log σ(β·h) − ε·log σ(−β·h)
//   hinge:   max(0, 1 − β·h)
//   ipo:     (h − 1/(2β))²      (IPO uses per-token mean log-probs, not sums)
// Implicit rewards: β·(π_c − ρ_c) and β·(π_r − ρ_r); accuracy = chosen reward > rejected reward.

import Foundation

public enum DPOLoss {
    /// The loss of one pair and its derivative with respect to h.
    public static func pair(h: Double, settings: DPOSettings) -> (loss: Double, dh: Double) {
        let beta = settings.beta
        switch settings.loss {
        case .sigmoid:
            let eps = settings.labelSmoothing, u = beta * h
            let loss = (1 - eps) * softplus(-u) + eps * softplus(u)
            // d/du softplus(−u) = −σ(−u);  d/du softplus(u) = σ(u)
            let du = -(1 - eps) * sigmoid(-u) + eps * sigmoid(u)
            return (loss, du * beta)
        case .hinge:
            let margin = 1 - beta * h
            return margin > 0 ? (margin, -beta) : (0, 0)
        case .ipo:
            let d = h - 1 / (2 * beta)
            return (d * d, 2 * d)
        }
    }

    /// log(1 + eˣ) without overflow.
    static func softplus(_ x: Double) -> Double { max(x, 0) + log1p(exp(-abs(x))) }

    static func sigmoid(_ x: Double) -> Double { x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)) }
}
