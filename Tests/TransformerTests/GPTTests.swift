// The model against the Double reference: forward values, every parameter's gradient by central
// finite differences (LM head and scalar head, with padding), thread-count determinism, overfitting.

import Kernels
import Testing
import Transformer

/// 2 layers, C = 16, 2 heads, T = 8, and a small vocabulary so the reference stays fast.
let testConfig = ModelConfig(vocab: 23, context: 8, layers: 2, heads: 2, embedding: 16)

/// Two rows; the second is padded after 5 tokens (PAD = the last id, targets −1 = ignored).
let testTokens: [Int32] = [1, 5, 7, 2, 9, 3, 4, 11, 6, 8, 10, 12, 14, 22, 22, 22]
let testTargets: [Int32] = [5, 7, 2, 9, 3, 4, 11, 0, 8, 10, 12, 14, 1, -1, -1, -1]

func seededWeights(_ count: Int, seed: UInt64, scale: Float) -> [Float] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in (rng.nextFloat() * 2 - 1) * scale }
}

@Suite struct GPTTests {
    /// A model with larger-than-GPT-2 random weights, so every path carries a visible gradient.
    static func makeModel(scalarHead: Bool) throws -> CausalLM {
        let model = try CausalLM(config: testConfig, scalarHead: scalarHead, seed: 7)
        let noise = seededWeights(model.parameterCount, seed: 99, scale: 0.3)
        for i in 0..<model.parameterCount { model.parameters.base[i] += noise[i] }
        return model
    }

    @Test(arguments: [false, true])
    func gradientsMatchFiniteDifferences(scalarHead: Bool) throws {
        let model = try Self.makeModel(scalarHead: scalarHead)
        let (b, t) = (2, 8)
        // L = Σ wL·logp + Σ wV·values, with zero weight on the padded positions.
        let wL = seededWeights(b * t, seed: 5, scale: 1).enumerated().map { testTargets[$0] < 0 ? 0 : $1 }
        let wV = seededWeights(b * t, seed: 6, scale: 1).enumerated().map { testTargets[$0] < 0 ? 0 : $1 }

        model.forward(tokens: testTokens, batch: b, time: t)
        let (logp, _) = model.tokenLogProbs(targets: testTargets)
        let values = scalarHead ? model.scalarValues() : []
        model.gradients.zero()
        model.backward(dlogp: wL, dvalues: scalarHead ? wV : nil)

        let reference = ReferenceGPT(config: testConfig, layout: model.parameters.layout)
        let params = Array(model.parameters.buffer).map(Double.init)
        let expected = reference.heads(params, tokens: testTokens, targets: testTargets, batch: b, time: t)
        for (got, want) in zip(logp, expected.logp) { #expect(abs(Double(got) - want) < 1e-4) }
        for (got, want) in zip(values, expected.values) { #expect(abs(Double(got) - want) < 1e-4) }

        func loss(_ p: [Double]) -> Double {
            let out = reference.heads(p, tokens: testTokens, targets: testTargets, batch: b, time: t)
            return zip(out.logp, wL).reduce(0) { $0 + $1.0 * Double($1.1) }
                + zip(out.values, wV).reduce(0) { $0 + $1.0 * Double($1.1) }
        }
        // Every tensor, up to 10 evenly spaced elements each.
        for view in model.parameters.layout.views {
            let picks = Array(Set(stride(from: 0, to: view.count, by: max(1, view.count / 10)).map { view.offset + $0 })).sorted()
            for index in picks {
                var plus = params, minus = params
                plus[index] += 1e-5
                minus[index] -= 1e-5
                let numeric = (loss(plus) - loss(minus)) / 2e-5
                let analytic = Double(model.gradients.base[index])
                let tolerance: Double = 2e-3 * max(1, abs(numeric))
                #expect(abs(analytic - numeric) <= tolerance,
                        "\(view.name)[\(index - view.offset)]: analytic \(analytic), numeric \(numeric)")
            }
        }
    }

    @Test func identicalAcrossThreadCounts() throws {
        let config = ModelConfig(vocab: 259, context: 64, layers: 2, heads: 4, embedding: 128)
        let tokens: [Int32] = (0..<512).map { (i: Int) -> Int32 in Int32(i * 31 % 259) }
        let targets: [Int32] = (0..<512).map { (i: Int) -> Int32 in Int32((i * 17 + 3) % 259) }
        func run() throws -> [Float] {
            let model = try CausalLM(config: config, scalarHead: true, seed: 3)
            model.forward(tokens: tokens, batch: 8, time: 64)
            let logp = model.tokenLogProbs(targets: targets).logp
            let values = model.scalarValues()
            let dlogp = [Float](repeating: -1.0 / 512, count: logp.count)
            let dvalues: [Float] = values.map { $0 * 0.01 }
            model.backward(dlogp: dlogp, dvalues: dvalues)
            return logp + values + Array(model.gradients.buffer)
        }
        let (one, two) = try atThreadCounts(1, 2, run)
        #expect(one == two)
    }

    @Test func overfitsOneBatch() throws {
        let model = try CausalLM(config: testConfig, seed: 11)
        let moments = (Arena(model.parameters.layout), Arena(model.parameters.layout))
        let count = Float(testTargets.filter { $0 >= 0 }.count)
        var losses: [Float] = []
        for step in 1...60 {
            model.forward(tokens: testTokens, batch: 2, time: 8)
            let (logp, _) = model.tokenLogProbs(targets: testTargets)
            losses.append(-logp.reduce(0, +) / count)
            model.gradients.zero()
            model.backward(dlogp: testTargets.map { $0 < 0 ? 0 : -1 / count })
            adamWUpdate(params: model.parameters.base, m: moments.0.base, v: moments.1.base, grads: model.gradients.base,
                        count: model.parameterCount, step: step, learningRate: 1e-2, weightDecay: 0, settings: AdamWSettings())
        }
        #expect(losses[0] > 2.5)                 // ≈ ln 23 at initialisation
        #expect(losses.last! < 0.05, "loss after 60 steps: \(losses.last!)")
    }
}

/// Runs `body` under two thread budgets.
func atThreadCounts<R>(_ a: Int, _ b: Int, _ body: () throws -> R) rethrows -> (R, R) {
    (try Parallel.$threads.withValue(a, operation: body), try Parallel.$threads.withValue(b, operation: body))
}
