// Every architecture behind the seam against its Double reference: forward values and every
// parameter's gradient by central finite differences (tied and untied heads, q/k/v bias, grouped
// kv heads, llama3 rope scaling, a head size other than C/H); the chunked LM head against the
// one-chunk head; bit-identity across thread counts.

import Kernels
import Testing
import Transformer

/// Small shapes of each architecture, with the features a gradient check must cover.
enum TestConfigs {
    /// Llama: tied head, no bias, 4 query heads sharing 2 kv heads.
    static let llamaTied = ModelConfig(architecture: .llama, vocab: 23, context: 8, layers: 2, heads: 4, embedding: 16,
                                       kvHeads: 2, intermediate: 24, normEps: 1e-5)
    /// Qwen2-like: untied head, q/k/v bias, 2 query heads on 1 kv head, head size 8 ≠ C/H, llama3
    /// scaling whose wavelengths fall in all three bands (kept, blended, stretched).
    static let llamaUntied = ModelConfig(architecture: .llama, vocab: 23, context: 8, layers: 2, heads: 2, embedding: 12,
                                         kvHeads: 1, headDim: 8, intermediate: 20, normEps: 1e-6, ropeTheta: 100,
                                         ropeScaling: RopeScaling(factor: 4, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 16),
                                         qkvBias: true, tiedHead: false)
    /// GPT-2 with its own lm_head and an MLP width other than 4C.
    static let gpt2Untied = ModelConfig(architecture: .gpt2, vocab: 23, context: 8, layers: 2, heads: 2, embedding: 16,
                                        intermediate: 24, tiedHead: false)
}

@Suite struct CausalLMTests {
    static let gradientCases: [(ModelConfig, Bool)] = [
        (TestConfigs.llamaTied, false), (TestConfigs.llamaTied, true), (TestConfigs.llamaUntied, true), (TestConfigs.gpt2Untied, true),
    ]

    /// A model with larger-than-initial random weights, so every path carries a visible gradient.
    static func makeModel(_ config: ModelConfig, scalarHead: Bool, seed: UInt64 = 7) throws -> CausalLM {
        let model = try CausalLM(config: config, scalarHead: scalarHead, seed: seed)
        let noise = seededWeights(model.parameterCount, seed: 99, scale: 0.3)
        for i in 0..<model.parameterCount { model.parameters.base[i] += noise[i] }
        return model
    }

    @Test(arguments: gradientCases)
    func gradientsMatchFiniteDifferences(config: ModelConfig, scalarHead: Bool) throws {
        let model = try Self.makeModel(config, scalarHead: scalarHead)
        let (b, t) = (2, 8)
        let wL = seededWeights(b * t, seed: 5, scale: 1).enumerated().map { testTargets[$0] < 0 ? 0 : $1 }
        let wV = seededWeights(b * t, seed: 6, scale: 1).enumerated().map { testTargets[$0] < 0 ? 0 : $1 }
        model.forward(tokens: testTokens, batch: b, time: t)
        let (logp, _) = model.tokenLogProbs(targets: testTargets)
        let values = scalarHead ? model.scalarValues() : []
        model.gradients.zero()
        model.backward(dlogp: wL, dvalues: scalarHead ? wV : nil)

        let reference = referenceModel(config, layout: model.parameters.layout)
        let params = Array(model.parameters.buffer).map(Double.init)
        let expected = reference.heads(params, tokens: testTokens, targets: testTargets, batch: b, time: t)
        for (got, want) in zip(logp, expected.logp) { #expect(abs(Double(got) - want) < 1e-4) }
        for (got, want) in zip(values, expected.values) { #expect(abs(Double(got) - want) < 1e-4) }

        func loss(_ p: [Double]) -> Double {
            let out = reference.heads(p, tokens: testTokens, targets: testTargets, batch: b, time: t)
            return zip(out.logp, wL).reduce(0) { $0 + $1.0 * Double($1.1) } + zip(out.values, wV).reduce(0) { $0 + $1.0 * Double($1.1) }
        }
        for view in model.parameters.layout.views {
            let picks = Array(Set(stride(from: 0, to: view.count, by: max(1, view.count / 8)).map { view.offset + $0 })).sorted()
            for index in picks {
                var plus = params, minus = params
                plus[index] += 1e-5
                minus[index] -= 1e-5
                let numeric = (loss(plus) - loss(minus)) / 2e-5
                let analytic = Double(model.gradients.base[index])
                #expect(abs(analytic - numeric) <= 2e-3 * max(1, abs(numeric)),
                        "\(config.architecture) \(view.name)[\(index - view.offset)]: analytic \(analytic), numeric \(numeric)")
            }
        }
    }

    /// The arena carries Hugging Face's names and shapes, q/k/v and gate/up stacked.
    @Test func llamaLayoutHasHuggingFaceNames() throws {
        let layout = try CausalLM.layout(config: TestConfigs.llamaUntied, scalarHead: true)
        let names = layout.views.map(\.name)
        #expect(names.first == "model.embed_tokens.weight")
        #expect(names.suffix(3) == ["model.norm.weight", "lm_head.weight", "score.weight"])
        #expect(layout["model.layers.1.self_attn.q_proj.weight"]?.shape == [16, 12])
        #expect(layout["model.layers.1.self_attn.k_proj.weight"]?.shape == [8, 12])
        #expect(layout["model.layers.1.self_attn.v_proj.bias"]?.shape == [8])
        #expect(layout["model.layers.1.self_attn.o_proj.weight"]?.shape == [12, 16])
        #expect(layout["model.layers.0.mlp.down_proj.weight"]?.shape == [12, 20])
        #expect(layout["model.layers.0.self_attn.o_proj.bias"] == nil && layout["score.bias"] == nil)
        let q = layout["model.layers.0.self_attn.q_proj.weight"]!, k = layout["model.layers.0.self_attn.k_proj.weight"]!
        #expect(k.offset == q.offset + q.count)
        let tied = try CausalLM.layout(config: TestConfigs.llamaTied, scalarHead: false)
        #expect(tied["lm_head.weight"] == nil && tied["model.layers.0.self_attn.q_proj.bias"] == nil)
    }

    @Test(arguments: [TestConfigs.llamaUntied, ModelConfig(vocab: 259, context: 64, layers: 2, heads: 4, embedding: 64)])
    func identicalAcrossThreadCounts(config base: ModelConfig) throws {
        var config = base
        config.vocab = 259
        config.context = 64
        let tokens: [Int32] = (0..<256).map { Int32($0 * 31 % 259) }
        let targets: [Int32] = (0..<256).map { Int32(($0 * 17 + 3) % 259) }
        func run() throws -> [Float] {
            let model = try CausalLM(config: config, scalarHead: true, seed: 3)
            model.forward(tokens: tokens, batch: 4, time: 64)
            let logp = model.tokenLogProbs(targets: targets).logp
            let values = model.scalarValues()
            model.backward(dlogp: [Float](repeating: -1.0 / 256, count: logp.count), dvalues: values.map { $0 * 0.01 })
            return logp + values + Array(model.gradients.buffer)
        }
        let (one, two) = try atThreadCounts(1, 2, run)
        #expect(one == two)
    }
}

@Suite struct ChunkedHeadTests {
    /// A vocabulary of 301 and 2×13 rows cut into chunks of 4 rows (the last one of 2): log-probs,
    /// entropy and every gradient equal the one-chunk head's to 1e-5 relative, and are bit-identical
    /// at 1 and 2 threads; the logits of `logits(rows:)` and of the chunks agree.
    @Test(arguments: [TestConfigs.llamaUntied, TestConfigs.llamaTied])
    func chunksMatchTheWholeHead(config base: ModelConfig) throws {
        var config = base
        config.vocab = 301
        config.context = 13
        let (b, t) = (2, 13), n = 26
        let tokens: [Int32] = (0..<n).map { Int32($0 * 37 % 301) }
        var targets: [Int32] = (0..<n).map { Int32(($0 * 53 + 7) % 301) }
        targets[12] = -1
        func run(chunkFloats: Int) throws -> (logp: [Float], entropy: [Float], grads: [Float], logits: [Float]) {
            let model = try CausalLM(config: config, scalarHead: true, seed: 12)
            model.logitsChunkFloats = chunkFloats
            model.forward(tokens: tokens, batch: b, time: t)
            let (logp, entropy) = model.tokenLogProbs(targets: targets, entropy: true, temperature: 0.8)
            let values = model.scalarValues()
            model.backward(dlogp: (0..<n).map { Float($0 % 5) * 0.1 - 0.2 }, dvalues: values.map { $0 * 0.5 })
            // A loss on whole distributions: ½·0.01·Σ logits², so dL/dlogits = 0.01·logits.
            var seen: [Float] = []
            model.forward(tokens: tokens, batch: b, time: t)
            model.backward(dlogits: { rows, logits in
                seen += UnsafeBufferPointer(start: logits, count: rows.count * config.vocab)
                for i in 0..<rows.count * config.vocab { logits[i] *= 0.01 }
            })
            let direct = model.logits(rows: 0..<n)
            #expect(zip(seen, direct).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) })
            return (logp, entropy!, Array(model.gradients.buffer), seen)
        }
        let whole = try run(chunkFloats: 1 << 23)
        let (chunked, chunkedTwo) = try atThreadCounts(1, 2) { try run(chunkFloats: 4 * 301) }
        #expect(chunked.logp == chunkedTwo.logp && chunked.grads == chunkedTwo.grads)
        func worst(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) / (abs($1) + 1e-3) }.max()! }
        #expect(worst(chunked.logp, whole.logp) < 1e-5)
        #expect(worst(chunked.entropy, whole.entropy) < 1e-5)
        #expect(worst(chunked.grads, whole.grads) < 1e-5)
        #expect(worst(chunked.logits, whole.logits) < 1e-5)
    }
}
