// The pre-tokenizer scanners on texts whose splits follow from the regexes by hand (the exhaustive check
// against Hugging Face is ci/check_tokenizers.py).

import Testing
@testable import Tokenizers

func pieces(_ text: String, _ regex: SplitRegex) -> [String] {
    var copy = text
    return copy.withUTF8 { bytes in
        UnicodeClasses.basicPlaneRegexClasses.withUnsafeBufferPointer { classes in
            var found: [String] = []
            RegexScanner(regex: regex, text: bytes, classes: classes).forEachMatch(in: 0..<bytes.count) {
                found.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[$0..<$1]), as: UTF8.self))
            }
            return found
        }
    }
}

@Suite struct SplitPatternTests {
    @Test func gpt2() {
        #expect(pieces("Hello world, it's 2024!", .gpt2) == ["Hello", " world", ",", " it", "'s", " 2024", "!"])
        // A run of spaces gives its last space to the next word; at the end it stays whole.
        #expect(pieces("a   b  ", .gpt2) == ["a", "  ", " b", "  "])
        #expect(pieces("x\n\ny", .gpt2) == ["x", "\n", "\n", "y"])
        // Contractions are case-sensitive; punctuation runs take an optional leading space.
        #expect(pieces("IT'S ok?!", .gpt2) == ["IT", "'", "S", " ok", "?!"])
        #expect(pieces(" 'hello", .gpt2) == [" '", "hello"])
        #expect(pieces("漢字 😀😀", .gpt2) == ["漢字", " 😀😀"])
    }

    @Test func llama3() {
        #expect(pieces("Hello world, it's 2024!", .llama3) == ["Hello", " world", ",", " it", "'s", " ", "202", "4", "!"])
        // Case-insensitive contractions, ſ included; a non-letter before letters joins them.
        #expect(pieces("IT'S 'ſ", .llama3) == ["IT", "'S", " '", "ſ"])
        #expect(pieces("\"quoted\" \tx", .llama3) == ["\"quoted", "\"", " ", "\tx"])
        // Newlines: through the last newline of a run of spaces; punctuation keeps following newlines.
        #expect(pieces("a  \n  \n b", .llama3) == ["a", "  \n  \n", " b"])
        #expect(pieces("end.\n\nNext", .llama3) == ["end", ".\n\n", "Next"])
        #expect(pieces("1234567", .llama3) == ["123", "456", "7"])
    }

    @Test func qwen2SplitsEveryDigit() {
        #expect(pieces("x1234", .qwen2) == ["x", "1", "2", "3", "4"])
    }

    @Test func newerScalarsAreUnassignedToTheRegexes() {
        // U+10940 (Sidetic, Unicode 17.0) is a letter to Swift but not to tokenizers' Oniguruma (16.0).
        #expect(pieces("a\u{10940}b", .gpt2) == ["a", "\u{10940}", "b"])
        // U+10D50 (Garay, Unicode 16.0) is a letter to both.
        #expect(pieces("a\u{10D50}b", .gpt2) == ["a\u{10D50}b"])
    }
}
