// Supervised fine-tuning: next-token cross-entropy on completion tokens only (prompt tokens masked;
// `text` rows train on every token), mean over the batch's trained tokens.
//   loss = −(1/Σmask) · Σ_{b,t} mask[b,t] · log p(target[b,t] | tokens[b, ≤t])
// Gradient accumulation: micro-batches share the whole batch's normaliser, so accumulating gives
// the full-batch gradient.

import Checkpoint
import Foundation
import Transformer

public final class SFTStage: SingleNetworkStage {
    public let spec: StageSpec
    let trainer: NetworkTrainer
    var data: StageData<SFTRecord>
    var lastMetrics = Metrics()

    /// The network being trained.
    public var model: CausalLM { trainer.model }

    init(spec: StageSpec, context: StageContext) throws {
        self.spec = spec
        data = try StageData(spec: spec, context: context)
        trainer = try NetworkTrainer(stage: spec, context: context)
    }

    public func step() throws -> Metrics {
        let step = trainer.step + 1
        let context = model.config.context
        let batches = microBatches(data.order.next(spec.batch), size: spec.rowsPerPass).map { data.train.batch($0, context: context) }
        let trained = Float(max(1, batches.reduce(0) { $0 + $1.trainedTokenCount }))
        trainer.beginStep()
        var loss = 0.0
        for batch in batches {
            model.forward(tokens: batch.tokens, batch: batch.rows, time: batch.width)
            let logp = model.tokenLogProbs(targets: batch.targets).logp
            loss -= zip(logp, batch.lossMask).reduce(0.0) { $0 + Double($1.0 * $1.1) } / Double(trained)
            model.backward(dlogp: batch.lossMask.map { -$0 / trained })
        }
        try requireFinite(loss, "the loss", stage: spec.name, step: step)
        return try finishStep(Metrics([("loss", loss), ("tokens", Double(trained))]))
    }

    /// Mean loss per completion token on the eval split, its perplexity, and for scale the loss of a
    /// unigram model of the training completions (what a model that ignores context achieves).
    public func evaluate() throws -> Metrics {
        guard let eval = data.eval else { return Metrics() }
        let (loss, tokens) = sftLoss(model: model, data: eval, batchSize: spec.rowsPerPass)
        return Metrics([("eval_loss", loss), ("eval_perplexity", exp(loss)), ("eval_tokens", Double(tokens)),
                        ("eval_unigram_loss", unigramLoss(train: data.train, eval: eval, context: model.config.context))])
    }
}

/// Mean negative log-likelihood per trained token of `data` under `model`, in dataset order:
/// (loss, number of trained tokens). Used by SFT evaluation and `rlhf eval`.
public func sftLoss(model: CausalLM, data: Dataset<SFTRecord>, batchSize: Int) -> (loss: Double, tokens: Int) {
    var total = 0.0, tokens = 0
    for start in stride(from: 0, to: data.count, by: batchSize) {
        let batch = data.batch(Array(start..<min(data.count, start + batchSize)), context: model.config.context)
        model.forward(tokens: batch.tokens, batch: batch.rows, time: batch.width)
        let logp = model.tokenLogProbs(targets: batch.targets).logp
        total -= zip(logp, batch.lossMask).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        tokens += batch.trainedTokenCount
    }
    return (tokens > 0 ? total / Double(tokens) : 0, tokens)
}

/// Cross-entropy on `eval`'s completion tokens of the unigram distribution of `train`'s completion
/// tokens (add-one smoothed over the byte vocabulary): the baseline a language model must beat.
public func unigramLoss(train: Dataset<SFTRecord>, eval: Dataset<SFTRecord>, context: Int) -> Double {
    func completionTargets(_ data: Dataset<SFTRecord>) -> [Int32] {
        data.records.flatMap { record -> [Int32] in
            let sequence = TokenSequence(record, context: context)
            return Array(sequence.tokens[sequence.completionStart...])
        }
    }
    var counts = [Double](repeating: 1, count: ByteTokenizer.vocabularySize)
    for token in completionTargets(train) { counts[Int(token)] += 1 }
    let total = counts.reduce(0, +)
    let targets = completionTargets(eval)
    return targets.reduce(0) { $0 - log(counts[Int($1)] / total) } / Double(max(1, targets.count))
}

extension StageKind {
    public static let sft = StageKind("sft")
}

extension SFTStage {
    static let declaration = StageKindDeclaration(
        .sft, summary: "supervised fine-tuning: next-token cross-entropy on completion tokens",
        sources: [SourceUse(.initial, required: false, "starting weights (fresh GPT-2 initialisation when absent)")],
        data: [DataUse(.train, required: true, "SFT rows", SFTRecord.self),
               DataUse(.eval, required: false, "held-out rows of the same kind", SFTRecord.self)],
        build: { try SFTStage(spec: $0, context: $1) })
}
