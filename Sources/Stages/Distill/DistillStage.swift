// Knowledge distillation: a student learns the teacher's full next-token distribution at
// temperature τ on the completion tokens of SFT-style data, mixed with the plain SFT loss:
//   loss = α · τ² · mean_t KL_t + (1 − α) · mean_t CE_t        (KL forward or reverse, see Kernels)
// The teacher may have another shape (layers, width, context) but the same vocabulary; it is frozen.

import Checkpoint
import Foundation
import Kernels
import Transformer

public final class DistillStage: SingleNetworkStage {
    public let spec: StageSpec
    let settings: DistillSettings
    let trainer: NetworkTrainer
    let teacher: CausalLM
    var data: StageData<SFTRecord>
    var lastMetrics = Metrics()

    /// The network being trained.
    public var model: CausalLM { trainer.model }

    init(spec: StageSpec, context: StageContext) throws {
        let teacherSource = try context.source(.teacher)
        self.spec = spec
        settings = spec.settings(DistillSettings.self)
        let teacherName = teacherSource.reference
        let studentConfig = spec.model ?? context.model
        let teacherConfig = try StateGroups.config(of: teacherSource.checkpoint, source: teacherName)
        guard teacherConfig.vocab == studentConfig.vocab else {
            throw StageError.invalidInput("stage \(spec.name): the teacher's vocabulary (\(teacherConfig.vocab)) differs from the student's (\(studentConfig.vocab))")
        }
        guard teacherConfig.context >= studentConfig.context else {
            throw StageError.invalidInput("stage \(spec.name): the teacher's context (\(teacherConfig.context)) is shorter than the student's (\(studentConfig.context))")
        }
        teacher = try makeNetwork(config: teacherConfig, scalarHead: false, seed: 0, from: teacherSource.checkpoint, sourceName: teacherName)
        data = try StageData(spec: spec, context: context)
        trainer = try NetworkTrainer(stage: spec, context: context, config: studentConfig)
    }

    public func step() throws -> Metrics {
        let step = trainer.step + 1
        let batches = microBatches(data.order.next(spec.batch), size: spec.rowsPerPass).map {
            data.train.batch($0, context: model.config.context)
        }
        let trained = Float(max(1, batches.reduce(0) { $0 + $1.trainedTokenCount }))
        trainer.beginStep()
        var totals = DistillTotals()
        for batch in batches { totals.add(distill(batch, normaliser: trained, withGradient: true)) }
        try requireFinite(totals.loss, "the loss", stage: spec.name, step: step)
        return try finishStep(totals.metrics(prefix: ""))
    }

    /// Student and teacher forward on one batch, and this batch's share of the loss terms, each a
    /// sum of per-token values divided by `normaliser`; `withGradient` also accumulates the loss's
    /// gradient into the student. Both networks' logits are made a chunk of rows at a time.
    func distill(_ batch: TokenBatch, normaliser: Float, withGradient: Bool) -> DistillTotals {
        let n = batch.rows * batch.width, v = model.config.vocab
        teacher.forward(tokens: batch.tokens, batch: batch.rows, time: batch.width)
        model.forward(tokens: batch.tokens, batch: batch.rows, time: batch.width)
        let weights = batch.lossMask.map { $0 / normaliser }
        var kl = [Float](repeating: 0, count: n), ce = kl
        var teacherLogits = [Float](repeating: 0, count: model.logitsChunkSize * v)
        let alpha = Float(settings.alpha), temperature = Float(settings.temperature)
        let direction: DistillationDirection = settings.loss == .forwardKL ? .forward : .reverse
        kl.withUnsafeMutableBufferPointer { kl in ce.withUnsafeMutableBufferPointer { ce in
            teacherLogits.withUnsafeMutableBufferPointer { teacherLogits in
                batch.targets.withUnsafeBufferPointer { targets in weights.withUnsafeBufferPointer { weights in
                    // The student's chunk of logits becomes ∂loss/∂logits in place.
                    func lossAndGradient(_ rows: Range<Int>, _ logits: UnsafeMutablePointer<Float>) {
                        let r = rows.lowerBound, t = teacherLogits.baseAddress!
                        teacher.logits(rows: rows, into: t)
                        distillationLoss(dstudent: logits, kl: kl.baseAddress! + r, ce: ce.baseAddress! + r, student: logits,
                                         teacher: t, targets: targets.baseAddress! + r, weights: weights.baseAddress! + r,
                                         rows: rows.count, vocab: v, temperature: temperature, direction: direction,
                                         klWeight: alpha, ceWeight: 1 - alpha)
                    }
                    if withGradient { model.backward(dlogits: lossAndGradient) } else { model.withLogitsChunks(lossAndGradient) }
                } }
            }
        } }
        var part = DistillTotals()
        part.kl = zip(kl, weights).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        part.ce = zip(ce, weights).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        part.loss = settings.alpha * settings.temperature * settings.temperature * part.kl + (1 - settings.alpha) * part.ce
        return part
    }

    /// Held-out KL to the teacher (at τ), cross-entropy and perplexity of the student.
    public func evaluate() throws -> Metrics {
        guard let eval = data.eval else { return Metrics() }
        var totals = DistillTotals()
        let batches = stride(from: 0, to: eval.count, by: spec.rowsPerPass).map {
            eval.batch(Array($0..<min(eval.count, $0 + spec.rowsPerPass)), context: model.config.context)
        }
        let tokens = Float(max(1, batches.reduce(0) { $0 + $1.trainedTokenCount }))
        for batch in batches { totals.add(distill(batch, normaliser: tokens, withGradient: false)) }
        var metrics = totals.metrics(prefix: "eval_")
        metrics["eval_perplexity"] = exp(totals.ce)
        return metrics
    }
}

/// Token-weighted sums of the distillation terms.
struct DistillTotals {
    var loss = 0.0, kl = 0.0, ce = 0.0

    mutating func add(_ other: DistillTotals) {
        loss += other.loss
        kl += other.kl
        ce += other.ce
    }

    func metrics(prefix: String) -> Metrics {
        Metrics([(prefix + "loss", loss), (prefix + "kl", kl), (prefix + "ce", ce)])
    }
}
