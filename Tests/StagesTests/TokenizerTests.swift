// The byte-level tokenizer: round trips, special ids, and display decoding that never fails.

import Stages
import Testing

@Suite struct TokenizerTests {
    @Test func specialIDs() {
        #expect(ByteTokenizer.bos == 256)
        #expect(ByteTokenizer.eos == 257)
        #expect(ByteTokenizer.pad == 258)
        #expect(ByteTokenizer.vocabularySize == 259)
    }

    @Test func asciiRoundTrip() {
        #expect(ByteTokenizer.encode("Hi, you!") == [72, 105, 44, 32, 121, 111, 117, 33])
        #expect(ByteTokenizer.decode(ByteTokenizer.encode("Hi, you!")) == "Hi, you!")
        #expect(ByteTokenizer.encode("").isEmpty)
    }

    @Test func multiByteRoundTrip() {
        #expect(ByteTokenizer.encode("é€😀") == [0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80])
        for text in ["café", "naïve résumé", "日本語のテキスト", "emoji 😀👍🏽 mixed", "\u{0}nul and\ttab\n"] {
            #expect(ByteTokenizer.encode(text).count == text.utf8.count)
            #expect(ByteTokenizer.decode(ByteTokenizer.encode(text)) == text)
        }
    }

    @Test func specialTokensAreDroppedOrShown() {
        let tokens = [ByteTokenizer.bos] + ByteTokenizer.encode("hi") + [ByteTokenizer.eos, ByteTokenizer.pad]
        #expect(ByteTokenizer.decode(tokens) == "hi")
        #expect(ByteTokenizer.decode(tokens, showSpecial: true) == "<|bos|>hi<|eos|><|pad|>")
        // A special token between the bytes of one character splits it: both halves are invalid.
        let split: [Int32] = [0xC3, ByteTokenizer.eos, 0xA9]
        #expect(ByteTokenizer.decode(split) == "\u{FFFD}\u{FFFD}")
    }

    @Test func invalidBytesDecodeLossily() {
        #expect(ByteTokenizer.decode([0xFF, 65]) == "\u{FFFD}A")
        #expect(ByteTokenizer.decode([0xE2, 0x82, 65]) == "\u{FFFD}A")  // a cut 3-byte character
        #expect(ByteTokenizer.decode([0xC0, 0xAF]) == "\u{FFFD}\u{FFFD}")  // overlong encoding
        #expect(ByteTokenizer.decode([65, 999, -1, 66]) == "A\u{FFFD}\u{FFFD}B")  // ids outside 0..<V
    }
}
