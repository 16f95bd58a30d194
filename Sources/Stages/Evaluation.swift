// Evaluating a checkpoint on a dataset, whatever its kind (what `rlhf eval` runs):
//   SFT rows (`prompt`/`completion` or `text`) → loss per completion token and perplexity
//   preference rows → reward model: Bradley-Terry loss, pairwise accuracy, margin, reward mean/std;
//                     language model: how often the chosen completion is the more likely one
//   prompt rows      → samples: response length, the graders' rewards (e.g. the demo's sentiment) and
//                     pass@1, and with a reward model and a reference, mean reward and KL to the reference

import Checkpoint
import Foundation
import Kernels
import Transformer

/// The network stored under `group` of a checkpoint, with its recorded shape (and scalar head when
/// the checkpoint has one).
public func loadNetwork(from file: CheckpointFile, group: String = "model", source: String) throws -> CausalLM {
    let config = try StateGroups.config(of: file, source: source)
    guard let weights = file.root.groups[group] else { throw StageError.badCheckpoint("\(source): /\(group) is missing") }
    let model = try CausalLM(config: config, scalarHead: weights.tensors["score.weight"] != nil)
    try StateGroups.load(weights, into: model.parameters, source: source)
    return model
}

/// What kind of rows a JSONL file holds, judged by the fields of its first row.
public enum DatasetKind: String, Sendable {
    case sft, preference, prompts

    struct FieldNames: JSONLRecord {
        let names: Set<String>
        init(row: JSONRow) throws(DataError.Problem) { names = Set(row.fields.keys) }
    }

    public static func detect(path: String) throws -> DatasetKind {
        let rows = try Dataset<FieldNames>(contentsOf: path)
        let names = rows[0].names
        if names.contains("chosen") && names.contains("rejected") { return .preference }
        if names.contains("completion") || names.contains("text") { return .sft }
        if names.contains("prompt") { return .prompts }
        throw StageError.invalidInput("\(path):1: cannot tell the dataset kind: expected \"prompt\"/\"completion\", \"text\", "
                                      + "\"prompt\"/\"chosen\"/\"rejected\" or \"prompt\" fields")
    }
}

public struct EvaluationOptions: Sendable {
    public var batch = 16
    public var sampling = SamplingSettings()
    public var maxNewTokens = 48
    public var seed: UInt64 = 0
    /// Graders of sampled responses (prompt data), e.g. the demo's `sentiment`.
    public var graders: [GraderSpec] = []
    /// A response passes when the first grader gives it at least this (`pass_at_1`).
    public var passThreshold = 1.0
    public init() {}
}

/// Evaluates `model` on the dataset at `path`; `reward` and `reference` are used for prompt data.
public func evaluate(model: CausalLM, dataPath: String, reward: CausalLM? = nil, reference: CausalLM? = nil,
                     options: EvaluationOptions = EvaluationOptions()) throws -> (kind: DatasetKind, metrics: Metrics) {
    let kind = try DatasetKind.detect(path: dataPath)
    switch kind {
    case .sft:
        let (loss, tokens) = sftLoss(model: model, data: try Dataset<SFTRecord>(contentsOf: dataPath), batchSize: options.batch)
        return (kind, Metrics([("loss", loss), ("perplexity", exp(loss)), ("tokens", Double(tokens))]))
    case .preference:
        let data = try Dataset<PreferenceRecord>(contentsOf: dataPath)
        if model.hasScalarHead {
            let m = evaluatePreferences(model: model, data: data, batchSize: options.batch)
            return (kind, Metrics(m.map { (String($0.name.dropFirst("eval_".count)), $0.value) }))
        }
        let (chosen, rejected) = DPOStage.score(model, data, batch: options.batch, average: false)
        let wins = zip(chosen, rejected).filter { $0 > $1 }.count
        return (kind, Metrics([("accuracy", Double(wins) / Double(data.count)),
                               ("logp_margin", zip(chosen, rejected).reduce(0) { $0 + $1.0 - $1.1 } / Double(data.count)),
                               ("pairs", Double(data.count))]))
    case .prompts:
        return (kind, try samplePrompts(model: model, data: try Dataset<PromptRow>(contentsOf: dataPath),
                                        reward: reward, reference: reference, options: options))
    }
}

/// Samples a response to every prompt and measures it (SampleEvaluation, as PPO's held-out report):
/// length, each grader's reward (and pass@1 by the first grader), and with a reward model and a
/// reference, mean reward and KL.
func samplePrompts(model: CausalLM, data: Dataset<PromptRow>, reward: CausalLM?, reference: CausalLM?, options: EvaluationOptions) throws -> Metrics {
    guard model.config.context - options.maxNewTokens >= 1 else {
        throw StageError.invalidInput("--max-tokens must leave room for a prompt in the context (\(model.config.context))")
    }
    let graders = try GraderSet(options.graders, reward: nil, config: model.config, maxCompletionLength: options.maxNewTokens)
    let evaluation = SampleEvaluation(batch: options.batch, maxNewTokens: options.maxNewTokens, sampling: options.sampling,
                                      seed: options.seed)
    let result = try evaluation.run(model: model, prompts: data.records, graders: graders, reward: reward, reference: reference)
    var metrics = Metrics([("response_length", mean(result.lengths)), ("prompts", Double(data.count))])
    for (grader, rewards) in zip(graders.graders, result.graded) {
        metrics["\(grader.name)_mean"] = nanMean(rewards)
        metrics["\(grader.name)_std"] = population(rewards)
    }
    if !graders.graders.isEmpty { metrics["pass_at_1"] = result.passRate(threshold: options.passThreshold) }
    if !result.scores.isEmpty { metrics["reward_mean"] = meanAndStd(result.scores).0; metrics["reward_std"] = meanAndStd(result.scores).1 }
    if !result.kls.isEmpty { metrics["kl"] = mean(result.kls) }
    return metrics
}

/// A checkpoint holding just a network's weights (and its shape), as a stage's final file would:
/// for tools and benchmarks that start a stage from a model made in memory.
public func networkCheckpoint(_ model: CausalLM, stageKind: StageKind, stageName: String) -> CheckpointFile {
    var file = CheckpointFile(metadata: CheckpointMetadata(stageKind: stageKind.rawValue, stageName: stageName, step: 0,
                                                           totalSteps: 0, configJSON: StateGroups.json(model.config)))
    file.root.groups["model"] = StateGroups.group(of: model.parameters)
    return file
}
