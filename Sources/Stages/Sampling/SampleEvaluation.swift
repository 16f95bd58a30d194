// The one evaluation of sampled responses: PPO's held-out report, GRPO's and RLOO's (pass@1, mean
// reward), and `rlhf eval` on prompt data. Completions are sampled for each prompt with a generator
// seeded the same way every time (so before/after compare like with like), then measured: length,
// truncation, every grader's reward, and when given a reward model's score at the last token and the
// KL to a reference (Σ_t logπ − logπ_ref at the sampling temperature).

import Kernels
import Transformer

public struct SampleEvaluation {
    /// Prompts per generation call (each with its `samples` completions).
    public var batch: Int
    public var maxNewTokens: Int
    public var sampling: SamplingSettings
    /// Completions per prompt.
    public var samples: Int
    public var seed: UInt64

    public init(batch: Int, maxNewTokens: Int, sampling: SamplingSettings, samples: Int = 1, seed: UInt64) {
        self.batch = batch
        self.maxNewTokens = maxNewTokens
        self.sampling = sampling
        self.samples = samples
        self.seed = seed
    }

    /// Measurements per completion, prompt by prompt (a prompt's `samples` completions together).
    public struct Result {
        public var prompts = 0
        public var lengths: [Double] = []
        public var truncated: [Bool] = []
        /// [graders][completions]
        public var graded: [[Double?]] = []
        /// The graders' weighted sum; nil where no grader answered.
        public var rewards: [Double?] = []
        /// The reward model's score (when one was given).
        public var scores: [Double] = []
        /// Σ_t logπ − logπ_ref (when a reference was given).
        public var kls: [Double] = []
        /// The first completion of each of the first `Sample.perEvaluation` prompts, with its measures:
        /// `reward` (the reward model's score, else the graders' sum), each grader's, `kl`, `length`, `eos`.
        public var samples: [Sample] = []

        /// The fraction of completions the first grader scores at least `threshold`.
        public func passRate(threshold: Double) -> Double {
            guard let first = graded.first, !first.isEmpty else { return 0 }
            return Double(first.filter { ($0 ?? -.infinity) >= threshold }.count) / Double(first.count)
        }
    }

    public func run(model: CausalLM, prompts: [PromptRow], graders: GraderSet? = nil, reward: CausalLM? = nil, reference: CausalLM? = nil,
                    log: (String) -> Void = { _ in }) throws -> Result {
        let maxPrompt = model.config.context - maxNewTokens
        guard maxPrompt >= 1 else {
            throw StageError.invalidInput("\(maxNewTokens) new tokens leave no room for a prompt in the context (\(model.config.context))")
        }
        var rng = Xoshiro256(seed: seed)
        var result = Result(prompts: prompts.count, graded: Array(repeating: [], count: graders?.graders.count ?? 0))
        let data = Dataset(records: prompts)
        for start in stride(from: 0, to: prompts.count, by: batch) {
            let indices = Array(start..<min(prompts.count, start + batch))
            let tokens = data.promptTokens(indices, maxLength: maxPrompt)
            let queries = tokens.flatMap { Array(repeating: $0, count: samples) }
            let generation = model.generate(prompts: queries, maxNewTokens: maxNewTokens, settings: sampling,
                                            stopToken: ByteTokenizer.eos, rng: &rng)
            let rollout = Rollout(prompts: queries, generation: generation, pad: ByteTokenizer.pad)
            result.lengths += rollout.responses.map { Double($0.count) }
            result.truncated += rollout.stopped.map { !$0 }
            if let graders {
                let rows = indices.enumerated().map { k, index in
                    let range = k * samples..<(k + 1) * samples
                    return GradingRow(row: prompts[index].row, promptTokens: tokens[k], completionTokens: Array(rollout.responses[range]),
                                      truncated: rollout.stopped[range].map { !$0 })
                }
                let graded = try graders.grade(rows, log: log)
                for g in graded.indices { result.graded[g] += graded[g].joined() }
                result.rewards += graders.combine(graded)
            }
            var batchKL: [Double] = []
            if let reward {
                reward.forward(tokens: rollout.tokens, batch: rollout.rows, time: rollout.width)
                let values = reward.scalarValues()
                result.scores += (0..<rollout.rows).map { Double(values[rollout.lastTokenPosition($0)]) }
            }
            defer { result.kls += batchKL }
            if let reference {
                let temperature = Float(max(sampling.temperature, 1e-3))
                model.forward(tokens: rollout.tokens, batch: rollout.rows, time: rollout.width)
                let logp = rollout.gather(model.tokenLogProbs(targets: rollout.targets, temperature: temperature).logp)
                reference.forward(tokens: rollout.tokens, batch: rollout.rows, time: rollout.width)
                let refLogp = rollout.gather(reference.tokenLogProbs(targets: rollout.targets, temperature: temperature).logp)
                batchKL = zip(logp, refLogp).map { zip($0, $1).reduce(0) { $0 + $1.0 - $1.1 } }
            }
            for (k, index) in indices.enumerated() where index < Sample.perEvaluation {
                let row = k * samples, at = result.lengths.count - rollout.rows + row
                var scores = Metrics()
                if reward != nil { scores["reward"] = result.scores[at] } else if let total = result.rewards.count > at ? result.rewards[at] : nil {
                    scores["reward"] = total
                }
                if !batchKL.isEmpty { scores["kl"] = batchKL[row] }
                for (g, grader) in (graders?.graders ?? []).enumerated() { scores[grader.name] = result.graded[g][at] }
                scores["length"] = Double(rollout.responses[row].count)
                scores["eos"] = rollout.stopped[row] ? 1 : 0
                result.samples.append(Sample(index: index, seed: seed, prompt: prompts[index].prompt,
                                             response: ByteTokenizer.decode(rollout.responses[row].filter { $0 != ByteTokenizer.eos }),
                                             scores: scores))
            }
        }
        return result
    }
}
