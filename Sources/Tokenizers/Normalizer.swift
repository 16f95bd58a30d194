// Normalization before pre-tokenization. Byte-level BPE models use none (GPT-2, Llama 3, SmolLM2) or
// NFC (Qwen2): canonically equivalent spellings (`é` as U+00E9, or as `e` + U+0301) become one, the
// composed form. Any other normalizer is refused when the tokenizer is read.
//
// NFC as Hugging Face computes it, which is with Unicode 9.0 data (its unicode-normalization-alignments
// crate): a scalar assigned later is, to it, unassigned: no decomposition, combining class 0, composes
// with nothing. Such a scalar blocks reordering and composition across it, so NFC of a text is NFC of
// the runs between those scalars, the scalars left as they are. Within a run we use the standard
// library's NFC twice: its first pass can leave marks out of canonical order after expanding a
// composition-excluded scalar (U+0F73 U+0F73 gives 0F71 0F72 0F71 0F72, not 0F71 0F71 0F72 0F72), and NFC
// of an NFC text changes nothing else. ci/check_tokenizers.py compares every scalar, and mixes of marks
// and decomposable scalars, with Hugging Face.

enum Normalizer: Sendable, Equatable {
    case nfc

    /// The Unicode version of Hugging Face's normalization tables.
    static let unicodeVersion = (major: 9, minor: 0)

    /// Calls `body` with the normalized form of `text` (valid UTF-8); `text` itself when it is already
    /// normalized, which every scalar below U+0300 is (no composition involves them as a second scalar).
    func withNormalized<R>(_ text: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        switch self {
        case .nfc:
            // Scalars from U+0300 on have a UTF-8 lead byte of 0xCC or more.
            guard text.contains(where: { $0 >= 0xCC }) else { return body(text) }
            var composed: [UInt8] = []
            composed.reserveCapacity(text.count)
            var runStart = 0, i = 0
            func composeRun(to end: Int) {
                guard runStart < end else { return }
                let run = String(decoding: UnsafeBufferPointer(rebasing: text[runStart..<end]), as: UTF8.self)
                composed += String(decoding: run._nfcCodeUnits, as: UTF8.self)._nfcCodeUnits
            }
            while i < text.count {
                let (value, length) = UTF8Scalars.decode(text, at: i)
                if value >= 0x300 && !Self.isKnown(value) {
                    composeRun(to: i)
                    composed += text[i..<(i + length)]
                    runStart = i + length
                }
                i += length
            }
            composeRun(to: text.count)
            return composed.withUnsafeBufferPointer(body)
        }
    }

    /// Whether Hugging Face's normalization tables know the scalar (assigned by Unicode 9.0).
    static func isKnown(_ value: UInt32) -> Bool {
        guard let age = Unicode.Scalar(value)?.properties.age else { return false }
        return (age.major, age.minor) <= unicodeVersion
    }

    /// `text` normalized (for added tokens' contents).
    func normalize(_ text: String) -> String {
        var copy = text
        return copy.withUTF8 { bytes in withNormalized(bytes) { String(decoding: $0, as: UTF8.self) } }
    }
}
