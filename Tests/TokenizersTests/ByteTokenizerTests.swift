// The byte tokenizer: bytes in, bytes out, three special ids.

import Testing
@testable import Tokenizers

@Suite struct ByteTokenizerTests {
    let tokenizer = ByteTokenizer()

    @Test func specialIDsAndVocabulary() {
        #expect(tokenizer.special == SpecialTokens(bos: 256, eos: 257, pad: 258))
        #expect(tokenizer.special?.stop == [257])
        #expect(tokenizer.vocabularySize == 259)
        #expect(tokenizer.sequencePrefix == [256] && tokenizer.sequenceSuffix.isEmpty)
    }

    @Test func encodesUTF8Bytes() {
        #expect(tokenizer.encode("Hi, you!") == [72, 105, 44, 32, 121, 111, 117, 33])
        #expect(tokenizer.encode("Hi", addSpecialTokens: true) == [256, 72, 105])
        #expect(tokenizer.encode("é€😀") == [0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80])
        // Special-token names are text to the byte tokenizer.
        #expect(tokenizer.encode("<|eos|>").count == 7)
        // Canonically equivalent spellings stay apart.
        #expect(tokenizer.encode("\u{E9}") != tokenizer.encode("e\u{301}"))
    }

    @Test func decodesWithoutLosingText() {
        for text in ["", "plain", "naïve café", "漢字", "👨‍👩‍👧", "e\u{301}", "tab\tnew\nline"] {
            #expect(tokenizer.decode(tokenizer.encode(text)) == text)
        }
        let tokens = [ByteTokenizer.bos] + tokenizer.encode("hi") + [ByteTokenizer.eos, ByteTokenizer.pad]
        #expect(tokenizer.decode(tokens) == "hi")
        #expect(tokenizer.decode(tokens, skipSpecialTokens: false) == "<|bos|>hi<|eos|><|pad|>")
    }

    @Test func invalidBytesBecomeReplacementCharacters() {
        #expect(tokenizer.decode([0xFF, 65]) == "\u{FFFD}A")
        #expect(tokenizer.decode([0xE2, 0x82, 65]) == "\u{FFFD}A")  // a cut 3-byte character
        #expect(tokenizer.decode([0xC0, 0xAF]) == "\u{FFFD}\u{FFFD}")  // overlong encoding
        // Ids outside the vocabulary and skipped special tokens vanish, as in Hugging Face.
        #expect(tokenizer.decode([65, 999, -1, 66]) == "AB")
        #expect(tokenizer.decode([0xC3, ByteTokenizer.eos, 0xA9]) == "é")
        #expect(tokenizer.decode([0xC3, ByteTokenizer.eos, 0xA9], skipSpecialTokens: false) == "\u{FFFD}<|eos|>\u{FFFD}")
    }

    @Test func specialTokensAreFlagged() {
        #expect(tokenizer.isSpecial(256) && tokenizer.isSpecial(258) && !tokenizer.isSpecial(255))
        #expect(tokenizer.tokenText(65) == "A" && tokenizer.tokenText(257) == "<|eos|>" && tokenizer.tokenText(0xC3) == "<0xC3>")
    }
}
