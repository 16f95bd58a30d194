// DPO: the policy learns from preference pairs directly, against a frozen reference (the starting
// policy), with no reward model. Reference log-probs are computed once per dataset, when the stage
// is built, and kept with its state (checkpointed, so a resume does not recompute them).

import Checkpoint
import Foundation
import Transformer

public final class DPOStage: SingleNetworkStage {
    public let spec: StageSpec
    let settings: DPOSettings
    let trainer: NetworkTrainer
    var data: StageData<PreferenceRecord>
    /// Reference sequence log-probs of every pair: [N] chosen, [N] rejected.
    var referenceTrain: (chosen: [Double], rejected: [Double])
    var referenceEval: (chosen: [Double], rejected: [Double])?
    var lastMetrics = Metrics()

    /// The network being trained.
    public var model: CausalLM { trainer.model }

    var average: Bool { settings.loss == .ipo }

    init(spec: StageSpec, context: StageContext) throws {
        self.spec = spec
        settings = spec.settings(DPOSettings.self)
        data = try StageData(spec: spec, context: context)
        trainer = try NetworkTrainer(stage: spec, context: context, source: try context.source(.policy))
        // The reference is the starting policy: score every pair with it now, before any update.
        let average = settings.loss == .ipo, model = trainer.model
        referenceTrain = Self.score(model, data.train, batch: spec.rowsPerPass, average: average)
        referenceEval = data.eval.map { Self.score(model, $0, batch: spec.rowsPerPass, average: average) }
    }

    /// Sequence log-probs of every pair of `data`, in order.
    static func score(_ model: CausalLM, _ data: Dataset<PreferenceRecord>, batch: Int, average: Bool) -> (chosen: [Double], rejected: [Double]) {
        var chosen: [Double] = [], rejected: [Double] = []
        for start in stride(from: 0, to: data.count, by: batch) {
            let pairs = data.batch(Array(start..<min(data.count, start + batch)), context: model.config.context)
            let logps = sequenceLogProbs(model: model, batch: pairs.sequences, average: average)
            chosen += logps[..<pairs.pairs]
            rejected += logps[pairs.pairs...]
        }
        return (chosen, rejected)
    }

    public func step() throws -> Metrics {
        let step = trainer.step + 1
        let indices = data.order.next(spec.batch)
        trainer.beginStep()
        var stats = PreferenceStatistics()
        for chunk in microBatches(indices, size: spec.rowsPerPass) {
            objective(pairs: chunk, pairsInStep: indices.count, statistics: &stats, backward: true)
        }
        try requireFinite(stats.loss, "the loss", stage: spec.name, step: step)
        return try finishStep(stats.metrics(prefix: ""))
    }

    /// The DPO loss of training pairs `pairs` (a share 1/pairsInStep each) into `statistics`; with
    /// `backward`, its gradient is accumulated into the policy's gradients.
    func objective(pairs: [Int], pairsInStep: Int, statistics: inout PreferenceStatistics, backward: Bool) {
        let batch = data.train.batch(pairs, context: model.config.context)
        let logps = sequenceLogProbs(model: model, batch: batch.sequences, average: average)
        let dh = statistics.add(policyChosen: Array(logps[..<batch.pairs]), policyRejected: Array(logps[batch.pairs...]),
                                referenceChosen: pairs.map { referenceTrain.chosen[$0] },
                                referenceRejected: pairs.map { referenceTrain.rejected[$0] },
                                settings: settings, pairsInStep: pairsInStep)
        if backward { model.backward(dlogp: spreadOverCompletions(dh + dh.map { -$0 }, batch: batch.sequences, average: average)) }
    }

    /// Held-out loss, reward accuracy, chosen/rejected rewards and margin.
    public func evaluate() throws -> Metrics {
        guard let eval = data.eval, let reference = referenceEval else { return Metrics() }
        var stats = PreferenceStatistics()
        let policy = Self.score(model, eval, batch: spec.rowsPerPass, average: average)
        _ = stats.add(policyChosen: policy.chosen, policyRejected: policy.rejected, referenceChosen: reference.chosen,
                      referenceRejected: reference.rejected, settings: settings, pairsInStep: eval.count)
        return stats.metrics(prefix: "eval_")
    }

    func saveExtras(into root: inout CheckpointGroup) {
        var reference = CheckpointGroup()
        reference.attributes["train_chosen"] = .doubles(referenceTrain.chosen)
        reference.attributes["train_rejected"] = .doubles(referenceTrain.rejected)
        if let r = referenceEval {
            reference.attributes["eval_chosen"] = .doubles(r.chosen)
            reference.attributes["eval_rejected"] = .doubles(r.rejected)
        }
        root[group: "dpo"].groups["reference_logps"] = reference
    }

    func restoreExtras(from root: CheckpointGroup, source: String) throws {
        let reference = root.groups["dpo"]?.groups["reference_logps"]?.attributes ?? [:]
        let count = data.train.count
        guard case let .doubles(chosen)? = reference["train_chosen"], case let .doubles(rejected)? = reference["train_rejected"],
              chosen.count == count, rejected.count == count else {
            throw StageError.badCheckpoint("\(source): /dpo/reference_logps does not match the training data (\(count) pairs)")
        }
        referenceTrain = (chosen, rejected)
        if case let .doubles(c)? = reference["eval_chosen"], case let .doubles(r)? = reference["eval_rejected"] { referenceEval = (c, r) }
    }
}

/// Running DPO statistics over the pairs of a step or an evaluation.
struct PreferenceStatistics {
    var loss = 0.0, pairs = 0, correct = 0, chosenReward = 0.0, rejectedReward = 0.0

    /// Adds pairs; returns ∂loss/∂π_c per pair (∂loss/∂π_r is its negative) for a loss that is a
    /// mean over `pairsInStep` pairs.
    mutating func add(policyChosen: [Double], policyRejected: [Double], referenceChosen: [Double], referenceRejected: [Double],
                      settings: DPOSettings, pairsInStep: Int) -> [Double] {
        var dh: [Double] = []
        for i in policyChosen.indices {
            let chosen = policyChosen[i] - referenceChosen[i], rejected = policyRejected[i] - referenceRejected[i]
            let (l, d) = DPOLoss.pair(h: chosen - rejected, settings: settings)
            loss += l / Double(pairsInStep)
            dh.append(d / Double(pairsInStep))
            pairs += 1
            if chosen > rejected { correct += 1 }
            chosenReward += settings.beta * chosen
            rejectedReward += settings.beta * rejected
        }
        return dh
    }

    func metrics(prefix: String) -> Metrics {
        let n = Double(max(1, pairs))
        return Metrics([(prefix + "loss", loss), (prefix + "reward_accuracy", Double(correct) / n),
                        (prefix + "chosen_reward", chosenReward / n), (prefix + "rejected_reward", rejectedReward / n),
                        (prefix + "margin", (chosenReward - rejectedReward) / n)])
    }
}
