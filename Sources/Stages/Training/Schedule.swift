// The learning-rate schedule: linear warm-up, then constant, linear or cosine decay to
// min_lr_ratio · lr at the last step. A pure function of the step, so its "state" is the step count.

import Foundation

extension OptimizerSettings {
    /// The learning rate for optimizer step `step` (counted from 0) of `total`.
    public func learningRate(step: Int, total: Int) -> Double {
        if warmup > 0 && step < warmup { return lr * Double(step + 1) / Double(warmup) }
        let floor = lr * minLRRatio
        let span = max(1, total - warmup - 1)
        let progress = min(1, Double(step - warmup) / Double(span))
        switch schedule {
        case .constant: return lr
        case .linear: return lr - (lr - floor) * progress
        case .cosine: return floor + (lr - floor) * 0.5 * (1 + cos(Double.pi * progress))
        }
    }
}
