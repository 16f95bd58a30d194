// The byte-level tokenizer of the demos: every UTF-8 byte is a token, plus three special tokens.
//
// Byte-level is the simplest tokenizer that can represent any text with no vocabulary file and no
// unknown token; at the scale of the demo models (T = 128–256) the longer sequences it gives are
// affordable, and it keeps the whole pipeline free of downloads.
//
//   id 0…255   the byte with that value
//   id 256     BOS, begins every sequence (the post-processor adds it)
//   id 257     EOS, ends a completion (the reward model reads the hidden state here)
//   id 258     PAD, fills a batch row after its last real token (never trained on)
//   V = 259
//
// Text is never searched for special-token names: `<|eos|>` in a dataset is seven byte tokens.

/// Token ids are `Int32`, as the model's embedding lookup and the batches store them.
public struct ByteTokenizer: Tokenizer, Equatable {
    public static let bos: Int32 = 256
    public static let eos: Int32 = 257
    public static let pad: Int32 = 258
    /// V: the number of token ids (kernels may pad it internally).
    public static let vocabularySize = 259

    public init() {}

    public var vocabularySize: Int { Self.vocabularySize }
    public var special: SpecialTokens? { SpecialTokens(bos: Self.bos, eos: Self.eos, pad: Self.pad) }
    public var sequencePrefix: [Int32] { [Self.bos] }
    public var sequenceSuffix: [Int32] { [] }

    /// The UTF-8 bytes of `text`, one token each.
    public func encode(_ text: String) -> [Int32] {
        text.utf8.map { Int32($0) }
    }

    /// Byte tokens are decoded as UTF-8 with every invalid sequence (a model may sample any bytes)
    /// replaced by U+FFFD. Special tokens are dropped, or shown as `<|bos|>`, `<|eos|>`, `<|pad|>`;
    /// ids outside 0..<V are dropped. As in Hugging Face, what is dropped leaves no trace: the bytes
    /// on either side of it decode together.
    public func decode(_ tokens: [Int32], skipSpecialTokens: Bool) -> String {
        var text = ""
        var bytes: [UInt8] = []
        for token in tokens {
            if (0...255).contains(token) {
                bytes.append(UInt8(token))
            } else if !skipSpecialTokens, let name = Self.specialName(token) {
                text += String(decoding: bytes, as: UTF8.self) + name
                bytes.removeAll(keepingCapacity: true)
            }
        }
        return text + String(decoding: bytes, as: UTF8.self)
    }

    public func isSpecial(_ token: Int32) -> Bool { Self.specialName(token) != nil }

    public func tokenText(_ token: Int32) -> String? {
        if (0...255).contains(token) {
            let byte = UInt8(token)
            return byte < 0x80 ? String(Unicode.Scalar(byte)) : "<0x\(String(byte, radix: 16, uppercase: true))>"
        }
        return Self.specialName(token)
    }

    /// Nil: text never encodes to a special token of the byte tokenizer.
    public func textOfSpecialToken(_ token: Int32) -> String? { nil }

    /// `<|bos|>`, `<|eos|>`, `<|pad|>`, or nil for any other id.
    public static func specialName(_ token: Int32) -> String? {
        switch token {
        case bos: "<|bos|>"
        case eos: "<|eos|>"
        case pad: "<|pad|>"
        default: nil
        }
    }
}
