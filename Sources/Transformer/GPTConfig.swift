// The shape of a GPT-2-style decoder: every dimension the model, its checkpoints and its manifests
// agree on. One commented config, validated with errors that say what to change.

/// Model dimensions. Names follow the job manifest (DESIGN §3.2).
public struct GPTConfig: Codable, Equatable, Hashable, Sendable {
    /// Vocabulary size V. The byte tokenizer uses 259 (256 bytes + BOS, EOS, PAD).
    public var vocab: Int
    /// Longest sequence T the position table holds.
    public var context: Int
    /// Number of transformer blocks L.
    public var layers: Int
    /// Attention heads H; the head size is embedding / heads.
    public var heads: Int
    /// Channels C of the residual stream.
    public var embedding: Int

    public init(vocab: Int = 259, context: Int, layers: Int, heads: Int, embedding: Int) {
        self.vocab = vocab
        self.context = context
        self.layers = layers
        self.heads = heads
        self.embedding = embedding
    }

    /// DESIGN §5 "tiny": 4 layers, C = 128, 4 heads, T = 128 (0.84 M parameters).
    public static let tiny = GPTConfig(context: 128, layers: 4, heads: 4, embedding: 128)
    /// DESIGN §5 "small": 6 layers, C = 384, 6 heads, T = 256 (10.8 M parameters).
    public static let small = GPTConfig(context: 256, layers: 6, heads: 6, embedding: 384)

    /// Head size D = C / H.
    public var headSize: Int { embedding / heads }

    /// Every problem with the shape, each as the key it is about (a cross-field rule names the key a
    /// user would change: `heads` for a head count that does not divide `embedding`) and a sentence
    /// saying what is expected. The manifest prefixes the key with its section (`model.heads`).
    public var problems: [(key: String, message: String)] {
        var found: [(key: String, message: String)] = []
        func positive(_ value: Int, _ key: String) {
            if value <= 0 { found.append((key, "must be a positive integer (got \(value))")) }
        }
        positive(vocab, "vocab"); positive(context, "context"); positive(layers, "layers")
        positive(heads, "heads"); positive(embedding, "embedding")
        if heads > 0, embedding > 0, embedding % heads != 0 {
            found.append(("heads", "must divide embedding (\(embedding)) into equal heads (got \(heads))"))
        }
        if context > 65_536 { found.append(("context", "must be at most 65536 (got \(context))")) }
        return found
    }

    /// Throws `GPTConfigError` listing every problem at once.
    public func validate() throws {
        let found = problems
        if !found.isEmpty { throw GPTConfigError(problems: found.map { "\($0.key): \($0.message)" }) }
    }
}

public struct GPTConfigError: Error, CustomStringConvertible {
    public var problems: [String]
    public var description: String { "invalid model shape: " + problems.joined(separator: "; ") }
}
