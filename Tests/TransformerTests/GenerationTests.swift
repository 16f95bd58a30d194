// KV-cache decoding against the full forward pass, the sampler's filters, and reproducibility.

import Kernels
import Testing
import Transformer

@Suite struct GenerationTests {
    static let config = ModelConfig(vocab: 40, context: 24, layers: 2, heads: 4, embedding: 32)
    /// A Llama with every feature the cache must handle: grouped kv heads (K/V stored once per kv
    /// head), q/k/v bias, llama3 rope scaling, an untied head, head size ≠ C/H.
    static let llama: ModelConfig = {
        var config = TestConfigs.llamaUntied
        config.vocab = 40
        config.context = 24
        return config
    }()

    /// Prompts of different lengths, then fixed continuations fed one token per step: the cache's
    /// logits must match the full forward pass's at every position of every row.
    @Test(arguments: [config, llama, TestConfigs.llamaTied.withVocab(40, context: 24)])
    func cacheLogitsMatchFullForward(config: ModelConfig) throws {
        let model = try CausalLM(config: config, seed: 5)
        let prompts: [[Int32]] = [[1, 2, 3, 4, 5], [7], [9, 8, 7]]
        let continuations: [[Int32]] = [[11, 12, 13, 14], [15, 16, 17, 18], [19, 20, 21, 22]]
        let decoder = KVCacheDecoder(model: model, batch: 3)
        var stepLogits = [decoder.prefill(prompts: prompts)]
        for step in 0..<4 { stepLogits.append(decoder.step(tokens: continuations.map { $0[step] })) }

        let v = config.vocab
        for row in 0..<3 {
            let sequence = prompts[row] + continuations[row]
            model.forward(tokens: sequence, batch: 1, time: sequence.count)
            let full = model.logits(rows: 0..<sequence.count)
            for step in 0...4 {
                let position = prompts[row].count - 1 + step
                let cached = stepLogits[step][row * v..<(row + 1) * v]
                let reference = full[position * v..<(position + 1) * v]
                let worst = zip(cached, reference).map { abs($0 - $1) }.max()!
                #expect(worst < 1e-4, "row \(row) position \(position): max |Δlogit| \(worst)")
            }
        }
    }

    @Test(arguments: [config, llama])
    func generationIsReproducibleAndThreadIndependent(config: ModelConfig) throws {
        let model = try CausalLM(config: config, seed: 6)
        let prompts: [[Int32]] = [[1, 2], [3], [4, 5, 6], [7, 8]]
        func run(_ threads: Int) -> Generation {
            var rng = Xoshiro256(seed: 42)
            return Parallel.$threads.withValue(threads) {
                model.generate(prompts: prompts, maxNewTokens: 12, settings: SamplingSettings(temperature: 1.3, topK: 20, topP: 0.95),
                               stopToken: 0, rng: &rng)
            }
        }
        let first = run(1)
        #expect(first == run(2))
        #expect(first == run(1))
        for row in 0..<4 {
            #expect(first.tokens[row].count == first.logprobs[row].count)
            #expect(first.stopped[row] == (first.tokens[row].last == 0))
            #expect(first.stopped[row] || first.tokens[row].count == 12)
            #expect(!first.tokens[row].dropLast().contains(0))       // nothing after the stop token
        }
    }

    /// The decoder packs the weights at prefill and its memory is reused by the next decoder: a
    /// generation after the weights change must see the new weights (not a stale packed copy), and
    /// two decoders alive at once must not share memory.
    @Test(arguments: [config, llama])
    func decodersUseTheCurrentWeightsAndTheirOwnMemory(config: ModelConfig) throws {
        let model = try CausalLM(config: config, seed: 7)
        let prompts: [[Int32]] = [[1, 2], [3, 4, 5]]
        func logits(_ decoder: KVCacheDecoder) -> [[Float]] {
            [decoder.prefill(prompts: prompts), decoder.step(tokens: [6, 7]), decoder.step(tokens: [8, 9])]
        }
        func logits(_ model: CausalLM) -> [[Float]] { logits(KVCacheDecoder(model: model, batch: 2)) }
        let before = logits(model)
        let madeBeforeTheChange = KVCacheDecoder(model: model, batch: 2)
        let p = model.parameters.buffer
        for i in p.indices { p[i] *= 1.25 }
        let after = logits(madeBeforeTheChange)
        let fresh = try CausalLM(config: config)
        _ = fresh.parameters.buffer.update(fromContentsOf: model.parameters.buffer)
        #expect(after == logits(fresh))
        #expect(after != before)

        let first = KVCacheDecoder(model: model, batch: 2)
        let firstPrefill = first.prefill(prompts: prompts)
        let second = KVCacheDecoder(model: model, batch: 2)
        _ = second.prefill(prompts: [[9, 9, 9], [8]])
        _ = second.step(tokens: [1, 1])
        #expect([firstPrefill, first.step(tokens: [6, 7]), first.step(tokens: [8, 9])] == after)
    }

    @Test func greedyAndFiltersPickTheLikeliestToken() {
        let logits: [Float] = [0.1, 2.0, -1.0, 1.9, 0.0]
        var rng = Xoshiro256(seed: 1)
        #expect(sampleToken(logits: logits[...], settings: SamplingSettings(temperature: 0), rng: &rng).token == 1)
        for _ in 0..<50 {
            #expect(sampleToken(logits: logits[...], settings: SamplingSettings(topK: 1), rng: &rng).token == 1)
            #expect(sampleToken(logits: logits[...], settings: SamplingSettings(topP: 0.01), rng: &rng).token == 1)
            let top2 = sampleToken(logits: logits[...], settings: SamplingSettings(topK: 2), rng: &rng).token
            #expect(top2 == 1 || top2 == 3)
        }
    }

    @Test func samplingFollowsTheDistribution() {
        let logits: [Float] = [0, Float.log(2), Float.log(5)]     // probabilities 1/8, 2/8, 5/8
        var rng = Xoshiro256(seed: 9)
        var counts = [0, 0, 0]
        var logprobs: [Float] = [0, 0, 0]
        for _ in 0..<16_000 {
            let (token, logprob) = sampleToken(logits: logits[...], settings: SamplingSettings(), rng: &rng)
            counts[Int(token)] += 1
            logprobs[Int(token)] = logprob
        }
        #expect(abs(Double(counts[0]) / 16_000 - 0.125) < 0.01)
        #expect(abs(Double(counts[2]) / 16_000 - 0.625) < 0.015)
        #expect(abs(logprobs[1] - Float.log(0.25)) < 1e-5)
    }
}

extension ModelConfig {
    func withVocab(_ vocab: Int, context: Int) -> ModelConfig {
        var config = self
        config.vocab = vocab
        config.context = context
        return config
    }
}
