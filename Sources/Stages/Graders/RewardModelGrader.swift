// `type: reward_model`: a reward model of this project (a reward stage or its checkpoint, the stage's
// `reward` source) scores each prompt + completion at its last token, as PPO's reward does; with
// `normalize`, by the held-out mean and std the reward stage recorded.

import Transformer

final class RewardModelGrader: Grader {
    let name: String
    let weight: Double
    let model: CausalLM
    let stats: (mean: Double, std: Double)?

    init(name: String, weight: Double, source: StageSource, config: ModelConfig, normalize: Bool) throws {
        self.name = name
        self.weight = weight
        model = try makeNetwork(config: config, scalarHead: true, seed: 0, from: source.checkpoint, sourceName: source.reference)
        let recorded = StateGroups.metrics(source.checkpoint.root.groups["reward_stats"])
        let stats = recorded["mean"].flatMap { mean in recorded["std"].map { (mean, max($0, 1e-6)) } }
        if normalize && stats == nil {
            throw StageError.invalidInput("grader \(name): normalize needs reward statistics, but \(source.reference) recorded none "
                                          + "(evaluate the reward model on held-out data)")
        }
        self.stats = normalize ? stats : nil
    }

    func grade(_ rows: [GradingRow]) throws -> [[Double?]] {
        var prompts: [[Int32]] = [], completions: [[Int32]] = []
        for row in rows {
            for tokens in row.completionTokens {
                prompts.append(row.promptTokens)
                completions.append(tokens)
            }
        }
        let rollout = Rollout(prompts: prompts, responses: completions, stopped: completions.map { _ in true }, pad: ByteTokenizer.pad)
        model.forward(tokens: rollout.tokens, batch: rollout.rows, time: rollout.width)
        let values = model.scalarValues()
        var scores = (0..<rollout.rows).map { Double(values[rollout.lastTokenPosition($0)]) }
        if let stats { scores = scores.map { ($0 - stats.mean) / stats.std } }
        var index = 0
        return rows.map { row in
            row.completionTokens.map { _ in
                defer { index += 1 }
                return scores[index]
            }
        }
    }
}
