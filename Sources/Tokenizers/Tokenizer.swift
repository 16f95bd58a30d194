// The tokenizer seam: text ↔ token ids, the special ids a training sequence needs, and the tokens a
// tokenizer puts around one sequence. Stages hold one `any Tokenizer` and never ask which kind it is.
//
//   ByteTokenizer   every UTF-8 byte is a token, plus BOS/EOS/PAD (the demos' vocabulary, V = 259)
//   BPETokenizer    byte-level BPE from Hugging Face files: tokenizer.json, or vocab.json + merges.txt
//
// Sequences are built as TRL builds them (see docs/data.md): `prefix prompt completion EOS suffix`,
// where prefix and suffix are what the tokenizer's post-processor adds around a single sequence
// (`add_special_tokens=True` in Hugging Face): BOS for the byte tokenizer and Llama 3, nothing for
// GPT-2, Qwen2 and SmolLM2.

/// Text to token ids and back.
public protocol Tokenizer: Sendable {
    /// V: one more than the largest token id (the model's vocabulary must be at least this large).
    var vocabularySize: Int { get }
    /// The ids a training or generation sequence needs; nil when the tokenizer's files do not say
    /// (a bare tokenizer.json without tokenizer_config.json).
    var special: SpecialTokens? { get }
    /// Tokens the post-processor puts before and after one sequence (Hugging Face's
    /// `add_special_tokens=True`): `[BOS]` and `[]` for the byte tokenizer and Llama 3.
    var sequencePrefix: [Int32] { get }
    var sequenceSuffix: [Int32] { get }

    /// The ids of `text`, without the post-processor's tokens. Special-token text inside `text` (e.g.
    /// `<|im_end|>`) becomes that token, as in Hugging Face.
    func encode(_ text: String) -> [Int32]

    /// The text of `tokens`. Bytes that do not form valid UTF-8 become U+FFFD; ids outside the
    /// vocabulary are dropped; special tokens are dropped when `skipSpecialTokens`.
    func decode(_ tokens: [Int32], skipSpecialTokens: Bool) -> String

    /// Whether `token` is a special token (BOS, EOS, PAD, chat markers): text a model should not be
    /// scored on when it is shown as words.
    func isSpecial(_ token: Int32) -> Bool

    /// The token's own text for display (`Ġthe`, `<|im_end|>`), or nil for an id outside the vocabulary.
    func tokenText(_ token: Int32) -> String?

    /// The text that encodes to exactly this token, for a special token written into text (an added
    /// token's content: `<|im_end|>`), or nil (the byte tokenizer's special tokens have no text).
    func textOfSpecialToken(_ token: Int32) -> String?
}

extension Tokenizer {
    /// `prefix + encode(text) + suffix` when `addSpecialTokens`: what `tokenizer(text)` gives in Hugging Face.
    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        addSpecialTokens ? sequencePrefix + encode(text) + sequenceSuffix : encode(text)
    }

    /// The text of `tokens` with special tokens dropped.
    public func decode(_ tokens: [Int32]) -> String { decode(tokens, skipSpecialTokens: true) }
}

/// The special ids of a tokenizer, as a model directory declares them (tokenizer_config.json,
/// config.json, generation_config.json) or as the byte tokenizer fixes them.
public struct SpecialTokens: Equatable, Sendable, Codable {
    /// Beginning of sequence, when the tokenizer has one (GPT-2 and Qwen2 have none that sequences use).
    public var bos: Int32?
    /// End of sequence: appended to every completion; the reward model reads its hidden state.
    public var eos: Int32
    /// Fills batch rows after their last real token; never trained on. EOS when the tokenizer has none
    /// (as TRL does).
    public var pad: Int32
    /// Generation stops at any of these: EOS and the ids generation_config.json lists (`<|eot_id|>`,
    /// `<|im_end|>`, ...), EOS first.
    public var stop: [Int32]

    public init(bos: Int32?, eos: Int32, pad: Int32? = nil, stop: [Int32] = []) {
        self.bos = bos
        self.eos = eos
        self.pad = pad ?? eos
        var stops = [eos]
        for token in stop where !stops.contains(token) { stops.append(token) }
        self.stop = stops
    }
}
