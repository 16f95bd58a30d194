// The model config: files written before architectures existed read as GPT-2, defaults resolve the
// same however a config is written, and every problem is named.

import Foundation
import Testing
import Transformer

@Suite struct ModelConfigTests {
    /// A checkpoint's config_json from before architectures: CausalLM-2, with its derived values.
    @Test func configWithoutArchitectureIsGPT2() throws {
        let old = #"{"context":64,"embedding":32,"heads":2,"layers":2,"vocab":259}"#
        let config = try JSONDecoder().decode(ModelConfig.self, from: Data(old.utf8))
        #expect(config == ModelConfig(vocab: 259, context: 64, layers: 2, heads: 2, embedding: 32))
        #expect(config.architecture == .gpt2 && config.kvHeads == 2 && config.headDim == 16 && config.intermediate == 128)
        #expect(config.normEps == 1e-5 && config.qkvBias && config.tiedHead && config.scalarHeadBias)
        #expect(config.problems.isEmpty)
        // What it encodes reads back equal, and into the same layout as before (GPT-2's names).
        let again = try JSONDecoder().decode(ModelConfig.self, from: try JSONEncoder().encode(config))
        #expect(again == config)
        let names = try CausalLM.layout(config: config, scalarHead: true).views.map(\.name)
        #expect(names.prefix(3) == ["wte", "wpe", "h.0.ln_1.weight"] && names.suffix(2) == ["score.weight", "score.bias"])
    }

    @Test func llamaDefaultsAndRoundTrip() throws {
        let json = #"{"architecture":"llama","vocab":49152,"context":2048,"layers":30,"heads":9,"kv_heads":3,"embedding":576,"intermediate":1536,"norm_eps":1e-5,"rope_theta":100000,"bos_id":0,"eos_id":0}"#
        let config = try JSONDecoder().decode(ModelConfig.self, from: Data(json.utf8))
        #expect(config.headDim == 64 && !config.qkvBias && config.tiedHead && config.padID == nil && config.problems.isEmpty)
        #expect(try JSONDecoder().decode(ModelConfig.self, from: try JSONEncoder().encode(config)) == config)
        var scaled = config
        scaled.ropeScaling = RopeScaling(factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192)
        #expect(try JSONDecoder().decode(ModelConfig.self, from: try JSONEncoder().encode(scaled)) == scaled)
        #expect(String(decoding: try JSONEncoder().encode(scaled), as: UTF8.self).contains(#""original_max_position_embeddings":8192"#))
    }

    @Test func problemsNameTheKeys() {
        var llama = ModelConfig(architecture: .llama, vocab: 100, context: 16, layers: 2, heads: 9, embedding: 576, kvHeads: 4,
                                headDim: 63, ropeTheta: 1, eosID: 100)
        llama.ropeScaling = RopeScaling(factor: 0.5, lowFreqFactor: 4, highFreqFactor: 1, originalContext: 0)
        let found = llama.problems(in: "model").map { "\($0.key): \($0.message)" }.joined(separator: "\n")
        for expected in ["kv_heads: must divide model.heads (9)", "head_dim: must be even", "rope_theta: must be greater than 1",
                         "eos_id: must be a token id below model.vocab (100)", "rope_scaling.factor: must be at least 1",
                         "rope_scaling.low_freq_factor: must be positive and below model.rope_scaling.high_freq_factor",
                         "rope_scaling.original_max_position_embeddings: must be positive"] {
            #expect(found.contains(expected), "missing: \(expected)")
        }
        var gpt2 = ModelConfig(vocab: 259, context: 8, layers: 1, heads: 4, embedding: 30)
        gpt2.kvHeads = 2
        gpt2.qkvBias = false
        let gpt2Problems = gpt2.problems.map { "\($0.key): \($0.message)" }.joined(separator: "\n")
        #expect(gpt2Problems.contains("heads: must divide embedding (30) into equal heads (got 4)"))
        #expect(gpt2Problems.contains("kv_heads: must equal heads (4) for gpt2"))
        #expect(gpt2Problems.contains("qkv_bias: must be true for gpt2"))
        #expect(throws: ModelConfigError.self) { try CausalLM(config: gpt2) }
    }
}
