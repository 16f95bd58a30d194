// The byte-level tokenizer (DESIGN §3.4): every UTF-8 byte is a token, plus three special tokens.
//
// Byte-level is the simplest tokenizer that can represent any text with no vocabulary file and no
// unknown token; at the scale of the models we train (T = 128–256) the longer sequences it gives are
// affordable, and it keeps the whole pipeline free of downloads.
//
//   id 0…255   the byte with that value
//   id 256     BOS, begins every sequence
//   id 257     EOS, ends a completion (the reward model reads the hidden state here)
//   id 258     PAD, fills a batch row after its last real token (never trained on)
//   V = 259

/// Token ids are `Int32`, as the model's embedding lookup and the batches store them.
public enum ByteTokenizer {
    public static let bos: Int32 = 256
    public static let eos: Int32 = 257
    public static let pad: Int32 = 258
    /// V: the number of token ids (kernels may pad it internally).
    public static let vocabularySize = 259

    /// The UTF-8 bytes of `text`, one token each. No BOS or EOS: sequences add them (`TokenSequence`).
    public static func encode(_ text: String) -> [Int32] {
        text.utf8.map { Int32($0) }
    }

    /// Text for display. Byte tokens are decoded as UTF-8 with every invalid sequence (a model may
    /// sample any bytes) replaced by U+FFFD, so decoding never fails. Special tokens are dropped, or
    /// shown as `<|bos|>`, `<|eos|>`, `<|pad|>` with `showSpecial`; an id outside 0..<V shows as U+FFFD.
    public static func decode(_ tokens: some Sequence<Int32>, showSpecial: Bool = false) -> String {
        var text = ""
        var bytes: [UInt8] = []
        func flushBytes() {
            text += String(decoding: bytes, as: UTF8.self)
            bytes.removeAll(keepingCapacity: true)
        }
        for token in tokens {
            if (0...255).contains(token) {
                bytes.append(UInt8(token))
                continue
            }
            flushBytes()
            if let name = specialName(token) {
                if showSpecial { text += name }
            } else {
                text += "\u{FFFD}"
            }
        }
        flushBytes()
        return text
    }

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
