// RLOO (Ahmadian et al. 2024) as TRL's RLOOTrainer (trl 1.x) defines it.
//
// Reward, with the KL to the reference as a penalty (β > 0; k1 summed over the completion's tokens):
//   r_i ← r_i − β · Σ_t (logπ_old − logπ_ref)
// Advantage: the reward minus the mean of the other scorable completions of the same prompt,
//   A_i = r_i − (Σ_{j≠i} r_j) / (n − 1)        optionally whitened over the batch (normalize_advantages)
// Loss, per completion, on the sequence's log-prob s = Σ_t logπ_t (ρ = e^{s − s_old}), mean over the
// micro-batch's completions, K micro-batches accumulating a step:
//   loss = Σ_i −min(ρ_i·A_i, clip(ρ_i, 1 − ε_low, 1 + ε_high)·A_i) / rows / K

import Foundation

public enum RLOO: GroupObjective {
    public typealias Settings = RLOOSettings
    public static var kind: StageKind { .rloo }
    public static var klInLoss: Bool { false }

    public static func needsOldLogProbs(_ settings: RLOOSettings) -> Bool { true }

    public static func advantages(rewards: [Double?], sequenceKL: [Double]?, settings: RLOOSettings) -> (advantages: [Double], zeroStd: [Bool]) {
        var penalised = rewards
        if let sequenceKL, settings.beta != 0 {
            for i in penalised.indices { penalised[i] = penalised[i].map { $0 - settings.beta * sequenceKL[i] } }
        }
        return leaveOneOutAdvantages(penalised, groupSize: settings.numGenerations, normalize: settings.normalizeAdvantages)
    }

    public static func loss(_ terms: [CompletionTerms], shape: BatchShape, settings: RLOOSettings) -> MicroBatchLoss {
        rlooLoss(terms, epsilonLow: settings.epsilonLow, epsilonHigh: settings.upperEpsilon, shape: shape)
    }
}

/// RLOO's advantages for rewards in groups of `groupSize`, and whether each completion's group had zero std.
public func leaveOneOutAdvantages(_ rewards: [Double?], groupSize: Int, normalize: Bool) -> (advantages: [Double], zeroStd: [Bool]) {
    precondition(groupSize > 0 && rewards.count % groupSize == 0, "rewards come in whole groups")
    var advantages: [Double?] = [], zeroStd: [Bool] = []
    for start in stride(from: 0, to: rewards.count, by: groupSize) {
        let group = Array(rewards[start..<start + groupSize])
        let present = group.compactMap { $0 }
        let sum = present.reduce(0, +), n = Double(present.count)
        let std = groupSize > 1 ? nanStd(group) : 0
        for r in group {
            // A group with one scorable completion has no baseline (0/0): advantage 0, as unscorable ones.
            guard let r, groupSize > 1, n > 1 else { advantages.append(nil); zeroStd.append(isZeroStd(std)); continue }
            advantages.append(r - (sum - r) / (n - 1))
            zeroStd.append(isZeroStd(std))
        }
    }
    if normalize {
        let mean = nanMean(advantages), std = nanStd(advantages)
        advantages = advantages.map { $0.map { ($0 - mean) / (std + 1e-4) } }
    }
    return (advantages.map { $0.flatMap { $0.isNaN ? nil : $0 } ?? 0 }, zeroStd)
}

/// One micro-batch's RLOO loss and its gradient w.r.t. each token's log-prob.
public func rlooLoss(_ terms: [CompletionTerms], epsilonLow: Double, epsilonHigh: Double, shape: BatchShape) -> MicroBatchLoss {
    let weight = 1 / (Double(terms.count) * Double(shape.microBatches))
    var loss = 0.0, statistics = LossStatistics()
    var dlogp: [[Double]] = []
    for term in terms {
        // A masked completion's log-prob sums are 0 and 0: ratio 1, no gradient.
        let s = term.inLoss ? term.logp.reduce(0, +) : 0, old = term.inLoss ? term.oldLogp.reduce(0, +) : 0
        let surrogate = clippedSurrogate(logRatio: s - old, advantage: term.advantage, epsilonLow: epsilonLow, epsilonHigh: epsilonHigh)
        loss += weight * surrogate.loss
        dlogp.append([Double](repeating: term.inLoss ? weight * surrogate.gradient : 0, count: term.logp.count))
        statistics.units += 1
        if surrogate.lowClipped { statistics.lowClipped += 1 }
        if surrogate.highClipped { statistics.highClipped += 1 }
    }
    return MicroBatchLoss(loss: loss, dlogp: dlogp, statistics: statistics)
}
