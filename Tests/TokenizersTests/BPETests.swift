// Byte-level BPE on small hand-made tokenizers, whose answers follow from the rules by hand. The
// real tokenizers are checked against Hugging Face in CI (ci/check_tokenizers.py).

import JSON
import Testing
@testable import Tokenizers

/// A tokenizer.json with the byte alphabet (ids 0–255 in byte order), then `tokens` in order, `merges`,
/// and the given components (JSON text).
func tokenizerJSON(tokens: [String] = [], merges: [String] = [], added: String = "[]", normalizer: String = "null",
                   preTokenizer: String = #"{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}"#,
                   postProcessor: String = "null", decoder: String = #"{"type": "ByteLevel"}"#,
                   model: String = "") -> String {
    var vocab: [JSONObject.Element] = (0..<256).map { (ByteLevel.spelling(of: [UInt8($0)]), .number(Double($0))) }
    for (i, token) in tokens.enumerated() { vocab.append((token, .number(Double(256 + i)))) }
    let vocabText = JSONValue.object(JSONObject(vocab)).serialized
    let mergesText = JSONValue.array(merges.map { .string($0) }).serialized
    return """
        {"version": "1.0", "truncation": null, "padding": null, "added_tokens": \(added),
         "normalizer": \(normalizer), "pre_tokenizer": \(preTokenizer), "post_processor": \(postProcessor),
         "decoder": \(decoder),
         "model": {"type": "BPE", "dropout": null, "unk_token": null, "fuse_unk": false, "byte_fallback": false\(model),
                   "vocab": \(vocabText), "merges": \(mergesText)}}
        """
}

func bpe(_ json: String) throws -> BPETokenizer {
    try BPETokenizer(tokenizerJSON: Array(json.utf8), file: "tokenizer.json")
}

@Suite struct BPETests {
    @Test func mergesInRankOrder() throws {
        // "abc": ranks make (b, c) merge first, so "ab" never forms; then "a" + "bc" → "abc".
        let tokenizer = try bpe(tokenizerJSON(tokens: ["ab", "bc", "abc"], merges: ["b c", "a b", "a bc"]))
        #expect(tokenizer.encode("abc") == [258])
        #expect(tokenizer.encode("ab") == [256])
        #expect(tokenizer.encode("abab") == [256, 256])
        // Equal pairs merge leftmost first: "aaa" with (a, a) → "aa" + "a".
        let repeated = try bpe(tokenizerJSON(tokens: ["aa"], merges: ["a a"]))
        #expect(repeated.encode("aaa") == [256, 97])
        #expect(repeated.decode(repeated.encode("aaa")) == "aaa")
    }

    @Test func bytesAreSpelledInTheAlphabet() throws {
        // " a" is spelled "Ġa"; the merge applies to the space byte and "a".
        let tokenizer = try bpe(tokenizerJSON(tokens: ["Ġa"], merges: ["Ġ a"]))
        #expect(tokenizer.encode("a a") == [97, 256])
        #expect(tokenizer.tokenText(256) == "Ġa")
        #expect(tokenizer.encode("é") == [0xC3, 0xA9])
    }

    @Test func ignoreMergesTakesWholeWordsFromTheVocabulary() throws {
        // "abc" is in the vocabulary but no merge builds it.
        let json = tokenizerJSON(tokens: ["ab", "abc"], merges: ["a b"], model: #", "ignore_merges": true"#)
        #expect(try bpe(json).encode("abc") == [257])
        let without = tokenizerJSON(tokens: ["ab", "abc"], merges: ["a b"])
        #expect(try bpe(without).encode("abc") == [256, 99])
    }

    @Test func canonicallyEquivalentTokensStayApart() throws {
        // "é" as one scalar (bytes C3 A9) and as e + U+0301 (65 CC 81) are different tokens. (No regex:
        // GPT-2's would cut before the mark.)
        func spelled(_ text: String) -> String { ByteLevel.spelling(of: Array(text.utf8)) }
        let accent = spelled("\u{301}")
        let (a, b) = (ByteLevel.spelling(of: [0xCC]), ByteLevel.spelling(of: [0x81]))
        let json = tokenizerJSON(tokens: [spelled("\u{E9}"), accent, spelled("e\u{301}")],
                                 merges: ["Ã ©", "\(a) \(b)", "e \(accent)"],
                                 preTokenizer: #"{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}"#)
        let tokenizer = try bpe(json)
        #expect(tokenizer.encode("\u{E9}") == [256])
        #expect(tokenizer.encode("e\u{301}") == [258])
    }

    @Test func queueAndScanMergeAlike() throws {
        // Random words over a small alphabet with many merges: the two merge loops agree.
        var tokens: [String] = [], merges: [String] = []
        var known = Set(["a", "b", "c"])
        var generator = SplitMix(seed: 7)
        while tokens.count < 60 {
            let left = known.randomElement(using: &generator)!, right = known.randomElement(using: &generator)!
            guard !known.contains(left + right) else { continue }
            known.insert(left + right)
            tokens.append(left + right)
            merges.append("\(left) \(right)")
        }
        let tokenizer = try bpe(tokenizerJSON(tokens: tokens, merges: merges))
        let model = tokenizer.definition.model
        for length in [1, 2, 5, 17, 130, 400] {
            for _ in 0..<20 {
                let word = (0..<length).map { _ in [97, 98, 99].randomElement(using: &generator)! } as [Int32]
                var scanned = word, queued = word
                var ranks: [UInt32] = [], merged: [Int32] = [], scratch = BPEScratch()
                model.mergeByScanning(&scanned, ranks: &ranks, mergedTokens: &merged)
                model.mergeWithQueue(&queued, scratch: &scratch)
                #expect(scanned == queued)
            }
        }
    }

    @Test func addedTokensAreMatchedFirst() throws {
        let added = #"""
            [{"id": 256, "content": "<|end|>", "special": true, "normalized": false},
             {"id": 257, "content": "<|end|>x", "special": false, "normalized": false},
             {"id": 258, "content": "<w>", "single_word": true, "normalized": false},
             {"id": 259, "content": "<l>", "lstrip": true, "normalized": false},
             {"id": 260, "content": "<r>", "rstrip": true, "normalized": false}]
            """#
        let tokenizer = try bpe(tokenizerJSON(tokens: ["<|end|>", "<|end|>x", "<w>", "<l>", "<r>"], added: added))
        // Longest match at the leftmost position.
        #expect(tokenizer.encode("a<|end|>b") == [97, 256, 98])
        #expect(tokenizer.encode("<|end|>x") == [257])
        // single_word: not inside a word.
        #expect(tokenizer.encode("a <w> b") == [97, 32, 258, 32, 98])
        #expect(tokenizer.encode("a<w>b") == [97, 60, 119, 62, 98])
        // lstrip / rstrip take the whitespace on their side.
        #expect(tokenizer.encode("a  <l>b") == [97, 259, 98])
        #expect(tokenizer.encode("a<r> \n b") == [97, 260, 98])
        // Decoding: special tokens kept or skipped.
        #expect(tokenizer.decode([97, 256, 98], skipSpecialTokens: false) == "a<|end|>b")
        #expect(tokenizer.decode([97, 256, 98], skipSpecialTokens: true) == "ab")
        #expect(tokenizer.isSpecial(256) && !tokenizer.isSpecial(257))
    }

    @Test func postProcessorsWrapOneSequence() throws {
        let template = #"""
            {"type": "Sequence", "processors": [{"type": "ByteLevel", "trim_offsets": false},
             {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
              {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
              "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [256], "tokens": ["<s>"]},
                                             "</s>": {"id": "</s>", "ids": [257], "tokens": ["</s>"]}}}]}
            """#
        let tokenizer = try bpe(tokenizerJSON(tokens: ["<s>", "</s>"], postProcessor: template))
        #expect(tokenizer.encode("a", addSpecialTokens: true) == [256, 97, 257])
        #expect(tokenizer.encode("a") == [97])
        let roberta = #"{"type": "RobertaProcessing", "sep": ["</s>", 257], "cls": ["<s>", 256]}"#
        #expect(try bpe(tokenizerJSON(tokens: ["<s>", "</s>"], postProcessor: roberta)).encode("a", addSpecialTokens: true) == [256, 97, 257])
    }
}

/// A small seeded generator for test data.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
