// The shape of a causal language model: its architecture and every dimension the model, its
// checkpoints and its manifests agree on. One commented config, validated with errors that say what
// to change. Keys are the manifest's (docs/manifest.md, "model"); a checkpoint records the same JSON
// in `config_json`. A config without `architecture` is GPT-2 (every file written before it existed).
//
//   architecture: gpt2       # gpt2 | llama (RMSNorm, RoPE, SwiGLU, grouped-query attention)
//   vocab: 259               # token ids 0..<vocab (the byte tokenizer: 256 bytes + BOS, EOS, PAD)
//   context: 128             # longest sequence
//   layers: 4
//   embedding: 128           # the hidden size C (Hugging Face: hidden_size / n_embd)
//   heads: 4                 # query heads
//   kv_heads: 4              # key/value heads (llama: grouped-query attention); default heads
//   head_dim: 32             # default embedding / heads
//   intermediate: 512        # MLP width; default 4·embedding
//   norm_eps: 1.0e-5         # LayerNorm (gpt2, always 1e-5) or RMSNorm epsilon
//   rope_theta: 10000        # llama: rotary base
//   rope_scaling: { type: llama3, factor: 32, low_freq_factor: 1, high_freq_factor: 4,
//                   original_max_position_embeddings: 8192 }   # llama: absent = none
//   qkv_bias: false          # llama: biases on q/k/v (Qwen2); gpt2 always has every bias
//   tied_head: true          # LM head shares the token embedding (else its own lm_head.weight)
//   bos_id / eos_id / pad_id # special token ids; absent = the tokenizer's own

import Foundation

/// Which decoder a config describes. Adding one is a file in Transformer/ implementing `Trunk` and a
/// case in `CausalLM.makeTrunk`.
public enum Architecture: String, Codable, CaseIterable, Sendable {
    /// GPT-2: learned positions, pre-LayerNorm blocks, GELU MLP, biases everywhere, tied head.
    case gpt2
    /// The Llama family (SmolLM2, Qwen2.5, Llama 3.2, TinyLlama): RMSNorm, rotary positions in the
    /// half-split layout, SwiGLU MLP, grouped-query attention, optional q/k/v bias.
    case llama
}

/// Llama 3's frequency-dependent stretch of the rotary wavelengths (Hugging Face `rope_type: llama3`).
public struct RopeScaling: Codable, Hashable, Sendable {
    /// Only `llama3` exists today.
    public var type: String
    public var factor: Double
    public var lowFreqFactor: Double
    public var highFreqFactor: Double
    public var originalContext: Int

    public init(factor: Double, lowFreqFactor: Double, highFreqFactor: Double, originalContext: Int) {
        self.type = "llama3"
        self.factor = factor
        self.lowFreqFactor = lowFreqFactor
        self.highFreqFactor = highFreqFactor
        self.originalContext = originalContext
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, factor, lowFreqFactor = "low_freq_factor", highFreqFactor = "high_freq_factor"
        case originalContext = "original_max_position_embeddings"
    }

    public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// `type` may be left out (llama3 is the only one).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decodeIfPresent(String.self, forKey: .type) ?? "llama3"
        factor = try c.decode(Double.self, forKey: .factor)
        lowFreqFactor = try c.decode(Double.self, forKey: .lowFreqFactor)
        highFreqFactor = try c.decode(Double.self, forKey: .highFreqFactor)
        originalContext = try c.decode(Int.self, forKey: .originalContext)
    }
}

/// Model dimensions and architecture. Derived defaults (kv_heads, head_dim, intermediate, norm_eps,
/// qkv_bias) are resolved when the config is made or decoded, so two configs that describe the same
/// network compare equal however they were written.
public struct ModelConfig: Codable, Hashable, Sendable {
    public var architecture: Architecture
    /// Vocabulary size V.
    public var vocab: Int
    /// Longest sequence T (GPT-2's position table; Llama's largest rotary position + 1).
    public var context: Int
    /// Number of transformer blocks L.
    public var layers: Int
    /// Query heads H.
    public var heads: Int
    /// Channels C of the residual stream (the hidden size).
    public var embedding: Int
    /// Key/value heads; each serves heads / kvHeads query heads.
    public var kvHeads: Int
    /// Channels D of one head.
    public var headDim: Int
    /// Width of the MLP's hidden layer.
    public var intermediate: Int
    /// Epsilon of the normalisations.
    public var normEps: Double
    /// Rotary base θ (llama).
    public var ropeTheta: Double
    /// Llama 3 scaling of the rotary frequencies; nil = none.
    public var ropeScaling: RopeScaling?
    /// Biases on the q, k and v projections (gpt2: always; llama: Qwen2 has them).
    public var qkvBias: Bool
    /// Whether the LM head is the token embedding (else a separate `lm_head.weight` [V, C]).
    public var tiedHead: Bool
    /// Special token ids; nil = the tokenizer's own.
    public var bosID: Int?
    public var eosID: Int?
    public var padID: Int?

    /// A GPT-2 shape (every existing manifest's `{vocab, context, layers, heads, embedding}`).
    public init(vocab: Int = 259, context: Int, layers: Int, heads: Int, embedding: Int) {
        self.init(architecture: .gpt2, vocab: vocab, context: context, layers: layers, heads: heads, embedding: embedding)
    }

    /// Any architecture; nil arguments take the architecture's defaults.
    public init(architecture: Architecture, vocab: Int, context: Int, layers: Int, heads: Int, embedding: Int,
                kvHeads: Int? = nil, headDim: Int? = nil, intermediate: Int? = nil, normEps: Double? = nil,
                ropeTheta: Double = 10_000, ropeScaling: RopeScaling? = nil, qkvBias: Bool? = nil,
                tiedHead: Bool = true, bosID: Int? = nil, eosID: Int? = nil, padID: Int? = nil) {
        self.architecture = architecture
        self.vocab = vocab
        self.context = context
        self.layers = layers
        self.heads = heads
        self.embedding = embedding
        self.kvHeads = kvHeads ?? heads
        self.headDim = headDim ?? (heads > 0 ? embedding / heads : 0)
        self.intermediate = intermediate ?? 4 * embedding
        self.normEps = normEps ?? (architecture == .gpt2 ? 1e-5 : 1e-6)
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.qkvBias = qkvBias ?? (architecture == .gpt2)
        self.tiedHead = tiedHead
        self.bosID = bosID
        self.eosID = eosID
        self.padID = padID
    }

    /// The shapes of the small models people post-train, from their published config.json (the
    /// manifest's `model: { preset: NAME }`, and `rlhf bench --config NAME`).
    public static let presets: KeyValuePairs<String, ModelConfig> = [
        // openai-community/gpt2
        "gpt2-124m": ModelConfig(architecture: .gpt2, vocab: 50257, context: 1024, layers: 12, heads: 12, embedding: 768,
                                 bosID: 50256, eosID: 50256),
        // HuggingFaceTB/SmolLM2-135M
        "smollm2-135m": ModelConfig(architecture: .llama, vocab: 49152, context: 8192, layers: 30, heads: 9, embedding: 576,
                                    kvHeads: 3, intermediate: 1536, normEps: 1e-5, ropeTheta: 100_000, bosID: 0, eosID: 0),
        // HuggingFaceTB/SmolLM2-360M
        "smollm2-360m": ModelConfig(architecture: .llama, vocab: 49152, context: 8192, layers: 32, heads: 15, embedding: 960,
                                    kvHeads: 5, intermediate: 2560, normEps: 1e-5, ropeTheta: 100_000, bosID: 0, eosID: 0),
        // Qwen/Qwen2.5-0.5B
        "qwen2.5-0.5b": ModelConfig(architecture: .llama, vocab: 151_936, context: 32768, layers: 24, heads: 14, embedding: 896,
                                    kvHeads: 2, intermediate: 4864, normEps: 1e-6, ropeTheta: 1_000_000, qkvBias: true,
                                    bosID: 151_643, eosID: 151_643),
    ]

    /// The preset called `name`.
    public static func preset(_ name: String) -> ModelConfig? { presets.first { $0.key == name }?.value }

    /// DESIGN §5 "tiny": 4 layers, C = 128, 4 heads, T = 128 (0.84 M parameters).
    public static let tiny = ModelConfig(context: 128, layers: 4, heads: 4, embedding: 128)
    /// DESIGN §5 "small": 6 layers, C = 384, 6 heads, T = 256 (10.8 M parameters).
    public static let small = ModelConfig(context: 256, layers: 6, heads: 6, embedding: 384)

    /// Head size D (an alias kept for the GPT-2 code's wording).
    public var headSize: Int { headDim }

    /// Whether the scalar head has a bias. GPT-2 networks keep `score.bias` [1] (every checkpoint
    /// written so far has one, and the demo's critic trains it); the Llama family's head is Hugging
    /// Face's `*ForSequenceClassification` `score`: a weight without bias.
    public var scalarHeadBias: Bool { architecture == .gpt2 }

    // MARK: - Codable

    enum CodingKeys: String, CodingKey, CaseIterable {
        case architecture, vocab, context, layers, heads, embedding
        case kvHeads = "kv_heads", headDim = "head_dim", intermediate, normEps = "norm_eps"
        case ropeTheta = "rope_theta", ropeScaling = "rope_scaling", qkvBias = "qkv_bias", tiedHead = "tied_head"
        case bosID = "bos_id", eosID = "eos_id", padID = "pad_id"
    }

    /// `preset` names a shape from `presets`; keys written beside it override its values.
    enum PresetKey: String, CodingKey { case preset }

    /// Every key of the `model` section.
    public static var keys: [String] { [PresetKey.preset.rawValue] + CodingKeys.allCases.map(\.rawValue) }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var base: ModelConfig?
        let presetContainer = try decoder.container(keyedBy: PresetKey.self)
        if let name = try presetContainer.decodeIfPresent(String.self, forKey: .preset) {
            guard let preset = Self.preset(name) else {
                throw DecodingError.dataCorruptedError(forKey: .preset, in: presetContainer,
                    debugDescription: "unknown preset (known: \(Self.presets.map(\.key).joined(separator: ", ")))")
            }
            base = preset
        }
        func value<T: Decodable>(_ key: CodingKeys, _ preset: T?) throws -> T {
            if let value = try c.decodeIfPresent(T.self, forKey: key) { return value }
            if let preset { return preset }
            return try c.decode(T.self, forKey: key)                    // reports the missing key
        }
        let architecture = try c.decodeIfPresent(Architecture.self, forKey: .architecture) ?? base?.architecture ?? .gpt2
        let embedding: Int = try value(.embedding, base?.embedding), heads: Int = try value(.heads, base?.heads)
        // Keys derived from others follow the written values unless the preset's own still apply.
        let derivedFromPreset = base.map { $0.embedding == embedding && $0.heads == heads } ?? false
        self.init(architecture: architecture,
                  vocab: try value(.vocab, base?.vocab), context: try value(.context, base?.context),
                  layers: try value(.layers, base?.layers), heads: heads, embedding: embedding,
                  kvHeads: try c.decodeIfPresent(Int.self, forKey: .kvHeads) ?? (derivedFromPreset ? base?.kvHeads : nil),
                  headDim: try c.decodeIfPresent(Int.self, forKey: .headDim) ?? (derivedFromPreset ? base?.headDim : nil),
                  intermediate: try c.decodeIfPresent(Int.self, forKey: .intermediate) ?? (derivedFromPreset ? base?.intermediate : nil),
                  normEps: try c.decodeIfPresent(Double.self, forKey: .normEps) ?? base?.normEps,
                  ropeTheta: try c.decodeIfPresent(Double.self, forKey: .ropeTheta) ?? base?.ropeTheta ?? 10_000,
                  ropeScaling: try c.decodeIfPresent(RopeScaling.self, forKey: .ropeScaling) ?? base?.ropeScaling,
                  qkvBias: try c.decodeIfPresent(Bool.self, forKey: .qkvBias) ?? base?.qkvBias,
                  tiedHead: try c.decodeIfPresent(Bool.self, forKey: .tiedHead) ?? base?.tiedHead ?? true,
                  bosID: try c.decodeIfPresent(Int.self, forKey: .bosID) ?? base?.bosID,
                  eosID: try c.decodeIfPresent(Int.self, forKey: .eosID) ?? base?.eosID,
                  padID: try c.decodeIfPresent(Int.self, forKey: .padID) ?? base?.padID)
    }

    // MARK: - Validation

    /// Every problem with the shape, each as the key it is about (a cross-field rule names the key a
    /// user would change: `heads` for a head count that does not divide `embedding`) and a sentence
    /// saying what is expected. The manifest prefixes the key with its section (`model.heads`).
    public var problems: [(key: String, message: String)] { problems(in: "") }

    /// The same, with other keys named in messages under `section` (`must divide model.heads (9)`).
    public func problems(in section: String) -> [(key: String, message: String)] {
        var found: [(key: String, message: String)] = []
        let p = section.isEmpty ? "" : section + "."
        func positive(_ value: Int, _ key: String) {
            if value <= 0 { found.append((key, "must be a positive integer (got \(value))")) }
        }
        positive(vocab, "vocab"); positive(context, "context"); positive(layers, "layers")
        positive(heads, "heads"); positive(embedding, "embedding")
        positive(kvHeads, "kv_heads"); positive(headDim, "head_dim"); positive(intermediate, "intermediate")
        if context > 65_536 { found.append(("context", "must be at most 65536 (got \(context))")) }
        if !(normEps > 0 && normEps < 1) { found.append(("norm_eps", "must be in (0, 1) (got \(normEps))")) }
        for (key, id) in [("bos_id", bosID), ("eos_id", eosID), ("pad_id", padID)] {
            if let id, !(0..<max(vocab, 1)).contains(id) { found.append((key, "must be a token id below \(p)vocab (\(vocab)) (got \(id))")) }
        }
        switch architecture {
        case .gpt2:
            if heads > 0, embedding > 0, embedding % heads != 0 {
                found.append(("heads", "must divide \(p)embedding (\(embedding)) into equal heads (got \(heads))"))
            }
            if kvHeads > 0, kvHeads != heads {
                found.append(("kv_heads", "must equal \(p)heads (\(heads)) for gpt2, which has no grouped-query attention (got \(kvHeads))"))
            }
            if heads > 0, headDim > 0, headDim != embedding / heads {
                found.append(("head_dim", "must be \(p)embedding / \(p)heads (\(embedding / heads)) for gpt2 (got \(headDim))"))
            }
            if normEps > 0 && normEps < 1 && normEps != 1e-5 { found.append(("norm_eps", "must be 1e-5 for gpt2, its LayerNorm epsilon (got \(normEps))")) }
            if !qkvBias { found.append(("qkv_bias", "must be true for gpt2, which has every bias")) }
            if ropeTheta != 10_000 { found.append(("rope_theta", "applies to llama only (gpt2 learns its positions)")) }
            if ropeScaling != nil { found.append(("rope_scaling", "applies to llama only (gpt2 learns its positions)")) }
        case .llama:
            if heads > 0, kvHeads > 0, heads % kvHeads != 0 { found.append(("kv_heads", "must divide \(p)heads (\(heads))")) }
            if headDim > 0, headDim % 2 != 0 { found.append(("head_dim", "must be even: rotary embeddings turn pairs of channels (got \(headDim))")) }
            if !(ropeTheta > 1) { found.append(("rope_theta", "must be greater than 1 (got \(ropeTheta))")) }
            if let s = ropeScaling {
                if s.type != "llama3" { found.append(("rope_scaling.type", "must be llama3 (got \(s.type))")) }
                if !(s.factor >= 1) { found.append(("rope_scaling.factor", "must be at least 1 (got \(s.factor))")) }
                if !(s.lowFreqFactor > 0 && s.highFreqFactor > s.lowFreqFactor) {
                    found.append(("rope_scaling.low_freq_factor",
                                  "must be positive and below \(p)rope_scaling.high_freq_factor (got \(s.lowFreqFactor) and \(s.highFreqFactor))"))
                }
                if s.originalContext <= 0 {
                    found.append(("rope_scaling.original_max_position_embeddings", "must be positive (got \(s.originalContext))"))
                }
            }
        }
        return found
    }

    /// Throws `ModelConfigError` listing every problem at once.
    public func validate() throws {
        let found = problems
        if !found.isEmpty { throw ModelConfigError(problems: found.map { "\($0.key): \($0.message)" }) }
    }

    /// A short form for messages: GPT-2's five keys, plus whatever else differs from the defaults of
    /// the same five keys.
    public var summary: String {
        let base = ModelConfig(architecture: architecture, vocab: vocab, context: context, layers: layers,
                               heads: heads, embedding: embedding)
        var parts = architecture == .gpt2 ? [] : ["architecture: \(architecture.rawValue)"]
        parts += ["vocab: \(vocab)", "context: \(context)", "layers: \(layers)", "heads: \(heads)", "embedding: \(embedding)"]
        if kvHeads != base.kvHeads { parts.append("kv_heads: \(kvHeads)") }
        if headDim != base.headDim { parts.append("head_dim: \(headDim)") }
        if intermediate != base.intermediate { parts.append("intermediate: \(intermediate)") }
        if normEps != base.normEps { parts.append("norm_eps: \(normEps)") }
        if architecture == .llama && ropeTheta != base.ropeTheta { parts.append("rope_theta: \(ropeTheta)") }
        if ropeScaling != nil { parts.append("rope_scaling: llama3") }
        if qkvBias != base.qkvBias { parts.append("qkv_bias: \(qkvBias)") }
        if tiedHead != base.tiedHead { parts.append("tied_head: \(tiedHead)") }
        for (key, id) in [("bos_id", bosID), ("eos_id", eosID), ("pad_id", padID)] { if let id { parts.append("\(key): \(id)") } }
        return "{" + parts.joined(separator: ", ") + "}"
    }
}

/// The name the model shape had before architectures existed; kept so that branches written
/// against it still build while they rebase.
public typealias GPTConfig = ModelConfig

public struct ModelConfigError: Error, CustomStringConvertible {
    public var problems: [String]
    public var description: String { "invalid model shape: " + problems.joined(separator: "; ") }
}
