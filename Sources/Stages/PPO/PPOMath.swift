// The arithmetic of PPO for language models, as plain functions of plain numbers so each can be
// checked by hand (InstructGPT; Ziegler et al. 2019; TRL's PPO trainer).
//
// Per response token t of a sequence:
//   kl_t      = k1: logπ − logπ_ref        k3: (e^{−k1} − 1) + k1   (Schulman's low-variance estimator)
//   r_t       = −β·kl_t  (+ score at the last token)
//   δ_t       = r_t + γ·V_{t+1} − V_t      (V after the last token = 0)
//   A_t       = δ_t + γλ·A_{t+1}           returns R_t = A_t + V_t
//   policy    = max(−A·ρ, −A·clip(ρ, 1−ε, 1+ε)),  ρ = e^{logπ_new − logπ_old}
//   value     = ½·max((V_new − R)², (clip(V_new, V_old − c, V_old + c) − R)²)

import Foundation

public enum KLEstimate {
    /// The per-token KL estimate between policy and reference from the two log-probabilities.
    public static func perToken(logp: Double, refLogp: Double, estimator: PPOSettings.KLEstimator) -> Double {
        let k1 = logp - refLogp
        switch estimator {
        case .k1: return k1
        case .k3: return (exp(-k1) - 1) + k1
        }
    }
}

/// Generalised advantage estimation over one sequence's response tokens.
public func generalizedAdvantages(rewards: [Double], values: [Double], gamma: Double, lambda: Double)
    -> (advantages: [Double], returns: [Double]) {
    precondition(rewards.count == values.count, "one value per reward")
    var advantages = [Double](repeating: 0, count: rewards.count)
    var next = 0.0, nextValue = 0.0
    for t in rewards.indices.reversed() {
        let delta = rewards[t] + gamma * nextValue - values[t]
        next = delta + gamma * lambda * next
        advantages[t] = next
        nextValue = values[t]
    }
    return (advantages, zip(advantages, values).map(+))
}

/// (x − mean) / std over all values (population std, ε = 1e-8), as TRL whitens advantages.
public func whitened(_ x: [Double]) -> [Double] {
    guard !x.isEmpty else { return x }
    let mean = x.reduce(0, +) / Double(x.count)
    let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count)
    return x.map { ($0 - mean) / (variance + 1e-8).squareRoot() }
}

/// The clipped surrogate for one token: loss, ∂loss/∂logπ_new, and whether the clip was active.
public func clippedPolicyLoss(newLogp: Double, oldLogp: Double, advantage: Double, clip: Double)
    -> (loss: Double, gradient: Double, clipped: Bool) {
    let ratio = exp(newLogp - oldLogp)
    let unclipped = -advantage * ratio
    let clippedRatio = min(max(ratio, 1 - clip), 1 + clip)
    let clippedLoss = -advantage * clippedRatio
    if unclipped >= clippedLoss {
        return (unclipped, -advantage * ratio, false)               // ∂(−A·ρ)/∂logπ = −A·ρ
    }
    // The clipped branch is larger: its gradient is zero once ρ is outside [1−ε, 1+ε].
    let inside = ratio > 1 - clip && ratio < 1 + clip
    return (clippedLoss, inside ? -advantage * ratio : 0, true)
}

/// The clipped value loss for one token: loss, ∂loss/∂V_new, and whether the clip was active.
public func clippedValueLoss(newValue: Double, oldValue: Double, target: Double, clip: Double)
    -> (loss: Double, gradient: Double, clipped: Bool) {
    let clippedValue = min(max(newValue, oldValue - clip), oldValue + clip)
    let plain = (newValue - target) * (newValue - target)
    let clippedLoss = (clippedValue - target) * (clippedValue - target)
    if plain >= clippedLoss { return (0.5 * plain, newValue - target, false) }
    let inside = newValue > oldValue - clip && newValue < oldValue + clip
    return (0.5 * clippedLoss, inside ? clippedValue - target : 0, true)
}

/// The adaptive KL coefficient of Ziegler et al.: β grows when the measured KL exceeds the target
/// and shrinks below it, by at most 20 % per horizon of rollouts.
public struct AdaptiveKLController: Equatable, Sendable {
    public var value: Double
    public var target: Double
    public var horizon: Double

    public init(initial: Double, target: Double, horizon: Double) {
        value = initial
        self.target = target
        self.horizon = horizon
    }

    /// Updates β after `sequences` rollouts with mean sequence KL `currentKL`.
    public mutating func update(currentKL: Double, sequences: Int) {
        let error = min(max(currentKL / target - 1, -0.2), 0.2)
        value *= 1 + error * Double(sequences) / horizon
    }
}
