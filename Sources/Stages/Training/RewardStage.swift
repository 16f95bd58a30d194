// The Bradley-Terry reward model: the SFT network with a scalar head read at each sequence's last
// real token (the EOS we append), trained on preference pairs.
//   z = r(x, y_c) − r(x, y_r) − margin,   loss = mean_pairs(−log σ(z)) + coef · mean_pairs((r_c + r_r)²)
//   ∂loss/∂r_c = (−(1 − σ(z)) + 2·coef·(r_c + r_r)) / B,   ∂loss/∂r_r = ((1 − σ(z)) + 2·coef·(r_c + r_r)) / B
// Reported: loss, pairwise accuracy (r_c > r_r), mean margin r_c − r_r, reward mean and std. The
// held-out reward mean/std are stored in the checkpoint (/reward_stats) so PPO can normalise scores.

import Checkpoint
import Foundation
import Transformer

public final class RewardStage: SingleNetworkStage {
    public let spec: StageSpec
    let trainer: NetworkTrainer
    var data: StageData<PreferenceRecord>
    var lastMetrics = Metrics()
    var rewardStats = Metrics()

    /// The network being trained.
    public var model: CausalLM { trainer.model }

    init(spec: StageSpec, context: StageContext) throws {
        self.spec = spec
        data = try StageData(spec: spec, context: context)
        trainer = try NetworkTrainer(stage: spec, context: context, scalarHead: true)
    }

    public func step() throws -> Metrics {
        let step = trainer.step + 1
        let pairs = data.order.next(spec.batch)
        trainer.beginStep()
        var scores = PairScores()
        for chunk in microBatches(pairs, size: spec.rowsPerPass) {
            let batch = data.train.batch(chunk, context: model.config.context)
            let (chosen, rejected) = rewards(model: model, batch: batch)
            let dvalues = scores.add(chosen: chosen, rejected: rejected, margins: batch.margins, center: spec.centerRewards,
                                     pairsInStep: pairs.count)
            model.backward(dvalues: spreadAtLastTokens(dvalues, batch: batch.sequences))
        }
        try requireFinite(scores.loss, "the loss", stage: spec.name, step: step)
        return try finishStep(scores.metrics(prefix: ""))
    }

    /// Held-out loss, accuracy and margin; also refreshes the reward mean/std kept for PPO.
    public func evaluate() throws -> Metrics {
        guard let eval = data.eval else { return Metrics() }
        let result = evaluatePreferences(model: model, data: eval, batchSize: spec.rowsPerPass, center: spec.centerRewards)
        rewardStats = Metrics([("mean", result["eval_reward_mean"] ?? 0), ("std", result["eval_reward_std"] ?? 1)])
        return result
    }

    func saveExtras(into root: inout CheckpointGroup) {
        root.groups["reward_stats"] = StateGroups.group(of: rewardStats)
    }

    func restoreExtras(from root: CheckpointGroup, source: String) throws {
        rewardStats = StateGroups.metrics(root.groups["reward_stats"])
    }
}

/// Scalar-head rewards at each row's last real token: chosen rows come first in a preference batch.
func rewards(model: CausalLM, batch: PreferenceBatch) -> (chosen: [Double], rejected: [Double]) {
    let rows = batch.sequences
    model.forward(tokens: rows.tokens, batch: rows.rows, time: rows.width)
    let values = model.scalarValues()
    let last = rows.lastTokenIndices.enumerated().map { Double(values[$0.offset * rows.width + $0.element]) }
    return (Array(last[..<batch.pairs]), Array(last[batch.pairs...]))
}

/// A [rows, T] gradient that is zero except `perRow[r]` at row r's last real token.
func spreadAtLastTokens(_ perRow: [Double], batch: TokenBatch) -> [Float] {
    var spread = [Float](repeating: 0, count: batch.rows * batch.width)
    for (row, index) in batch.lastTokenIndices.enumerated() { spread[row * batch.width + index] = Float(perRow[row]) }
    return spread
}

/// Running Bradley-Terry statistics over the pairs of a step or an evaluation.
struct PairScores {
    var loss = 0.0, pairs = 0, correct = 0, marginSum = 0.0
    var rewardSum = 0.0, rewardSquares = 0.0

    /// Adds a micro-batch; returns ∂loss/∂r for its rows (chosen then rejected), for a loss that is
    /// a mean over `pairsInStep` pairs.
    mutating func add(chosen: [Double], rejected: [Double], margins: [Float], center: Double, pairsInStep: Int) -> [Double] {
        let scale = 1 / Double(pairsInStep)
        var dChosen: [Double] = [], dRejected: [Double] = []
        for i in chosen.indices {
            let (rc, rr) = (chosen[i], rejected[i])
            let z = rc - rr - Double(margins[i])
            // −log σ(z) = softplus(−z), computed without overflow for large |z|.
            loss += (max(-z, 0) + log1p(exp(-abs(z))) + center * (rc + rr) * (rc + rr)) * scale
            let oneMinusSigma = 1 / (1 + exp(z))
            dChosen.append((-oneMinusSigma + 2 * center * (rc + rr)) * scale)
            dRejected.append((oneMinusSigma + 2 * center * (rc + rr)) * scale)
            pairs += 1
            if rc > rr { correct += 1 }
            marginSum += rc - rr
            rewardSum += rc + rr
            rewardSquares += rc * rc + rr * rr
        }
        return dChosen + dRejected
    }

    func metrics(prefix: String) -> Metrics {
        let n = Double(max(1, pairs))
        let mean = rewardSum / (2 * n)
        let std = (max(0, rewardSquares / (2 * n) - mean * mean)).squareRoot()
        return Metrics([(prefix + "loss", loss), (prefix + "accuracy", Double(correct) / n), (prefix + "margin", marginSum / n),
                        (prefix + "reward_mean", mean), (prefix + "reward_std", std)])
    }
}

/// Bradley-Terry loss, accuracy, margin and reward statistics of `model` on `data`, in order.
/// Used by reward evaluation and `rlhf eval` on preference data.
public func evaluatePreferences(model: CausalLM, data: Dataset<PreferenceRecord>, batchSize: Int, center: Double = 0) -> Metrics {
    var scores = PairScores()
    for start in stride(from: 0, to: data.count, by: batchSize) {
        let batch = data.batch(Array(start..<min(data.count, start + batchSize)), context: model.config.context)
        let (chosen, rejected) = rewards(model: model, batch: batch)
        _ = scores.add(chosen: chosen, rejected: rejected, margins: batch.margins, center: center, pairsInStep: data.count)
    }
    return scores.metrics(prefix: "eval_")
}

extension StageKind {
    public static let reward = StageKind("reward")
}

extension RewardStage {
    static let declaration = StageKindDeclaration(
        .reward, summary: "Bradley-Terry reward model: the network with a scalar head, trained on preference pairs",
        sources: [SourceUse(.initial, required: false, "starting weights (fresh GPT-2 initialisation when absent)")],
        data: [DataUse(.train, required: true, "preference rows", PreferenceRecord.self),
               DataUse(.eval, required: false, "held-out rows of the same kind", PreferenceRecord.self)],
        stageKeys: ["center_rewards"],
        build: { try RewardStage(spec: $0, context: $1) })
}
