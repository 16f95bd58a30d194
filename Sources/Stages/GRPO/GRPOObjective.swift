// GRPO (Shao et al. 2024, DeepSeekMath) as TRL's GRPOTrainer (trl 1.x) defines it.
//
// Advantages, per group of G completions of one prompt (unscorable completions left out, advantage 0):
//   A_i = (r_i − mean_group(r)) / (std + 1e-4)      std = the group's (scale_rewards: group), the batch's
//                                                    (batch), or no division (none); Bessel's correction
// Per response token t of completion i, with ρ = e^{logπ − logπ_old} (ρ = 1 on the first step of a batch):
//   l_t = −min(ρ·A_i, clip(ρ, 1 − ε_low, 1 + ε_high)·A_i) + β·k3_t,   k3 = e^{logπ_ref − logπ} − (logπ_ref − logπ) − 1
// Averaged as loss_type says, over the tokens in the loss (mask), K micro-batches accumulating a step:
//   grpo     Σ_i (Σ_t l_t / n_i) / rows / K        each completion's mean, then the mean of those
//   bnpo     Σ l_t / Σ n_i / K                       the micro-batch's token mean
//   dr_grpo  Σ l_t / (rows · max_completion_length) / K
//   dapo     Σ l_t / N                               N = tokens in the loss over the whole step

import Foundation

public enum GRPO: GroupObjective {
    public typealias Settings = GRPOSettings
    public static var kind: StageKind { .grpo }
    public static var klInLoss: Bool { true }

    public static func needsOldLogProbs(_ settings: GRPOSettings) -> Bool { settings.numIterations > 1 }

    public static func advantages(rewards: [Double?], sequenceKL: [Double]?, settings: GRPOSettings) -> (advantages: [Double], zeroStd: [Bool]) {
        groupAdvantages(rewards, groupSize: settings.numGenerations, scale: settings.scaleRewards)
    }

    public static func loss(_ terms: [CompletionTerms], shape: BatchShape, settings: GRPOSettings) -> MicroBatchLoss {
        grpoLoss(terms, type: settings.lossType, epsilonLow: settings.epsilonLow, epsilonHigh: settings.upperEpsilon,
                 beta: settings.beta, shape: shape)
    }
}

/// GRPO's advantages for rewards in groups of `groupSize` consecutive completions, and whether each
/// completion's std (its group's, or the batch's) is zero.
public func groupAdvantages(_ rewards: [Double?], groupSize: Int, scale: GRPOSettings.ScaleRewards) -> (advantages: [Double], zeroStd: [Bool]) {
    precondition(groupSize > 0 && rewards.count % groupSize == 0, "rewards come in whole groups")
    let batchStd = nanStd(rewards)
    var advantages: [Double] = [], zeroStd: [Bool] = []
    for start in stride(from: 0, to: rewards.count, by: groupSize) {
        let group = Array(rewards[start..<start + groupSize])
        let mean = nanMean(group)
        let std = scale == .batch ? batchStd : (groupSize > 1 ? nanStd(group) : 0)
        for r in group {
            var a = (r ?? .nan) - mean
            if scale != .none { a /= std + 1e-4 }
            advantages.append(a.isNaN ? 0 : a)
            zeroStd.append(isZeroStd(std))
        }
    }
    return (advantages, zeroStd)
}

/// One micro-batch's GRPO loss (see the file comment) and its gradient w.r.t. each token's log-prob.
public func grpoLoss(_ terms: [CompletionTerms], type: GRPOSettings.LossType, epsilonLow: Double, epsilonHigh: Double,
                     beta: Double, shape: BatchShape) -> MicroBatchLoss {
    let rows = Double(terms.count), k = Double(shape.microBatches)
    let microTokens = Double(max(1, terms.reduce(0) { $0 + $1.lossTokens }))
    var loss = 0.0, statistics = LossStatistics()
    var dlogp: [[Double]] = []
    for term in terms {
        var gradient = [Double](repeating: 0, count: term.logp.count)
        defer { dlogp.append(gradient) }
        guard term.inLoss else { continue }
        let weight: Double
        switch type {
        case .grpo: weight = 1 / (Double(max(1, term.logp.count)) * rows * k)
        case .bnpo: weight = 1 / (microTokens * k)
        case .drGRPO: weight = 1 / (rows * Double(shape.maxCompletionLength) * k)
        case .dapo: weight = 1 / Double(max(1, shape.batchTokens))
        }
        for t in term.logp.indices {
            let surrogate = clippedSurrogate(logRatio: term.logp[t] - term.oldLogp[t], advantage: term.advantage,
                                             epsilonLow: epsilonLow, epsilonHigh: epsilonHigh)
            var value = surrogate.loss, slope = surrogate.gradient
            if beta != 0, let ref = term.refLogp {
                let kl = k3(logp: term.logp[t], refLogp: ref[t])
                value += beta * kl.value
                slope += beta * kl.gradient
                statistics.klSum += kl.value
                statistics.klTokens += 1
            }
            loss += weight * value
            gradient[t] = weight * slope
            statistics.units += 1
            if surrogate.lowClipped { statistics.lowClipped += 1 }
            if surrogate.highClipped { statistics.highClipped += 1 }
        }
    }
    return MicroBatchLoss(loss: loss, dlogp: dlogp, statistics: statistics)
}
