// Malformed and unsupported tokenizer files: each gives one line naming the file and the key (or line),
// with what is supported. The `rlhf tokenize` exit code (2) is checked in ci/check_tokenizers.py.

import Testing
@testable import Tokenizers

@Suite struct BadTokenizerFileTests {
    /// The error reading `json` gives, or nil.
    func error(_ json: String) -> String? {
        do {
            _ = try BPETokenizer(tokenizerJSON: Array(json.utf8), file: "m/tokenizer.json")
            return nil
        } catch {
            return error.description
        }
    }

    static let valid = tokenizerJSON(tokens: ["ab"], merges: ["a b"])

    /// `valid` with `old` replaced by `new` (which must occur).
    func edited(_ old: String, _ new: String) -> String {
        precondition(Self.valid.contains(old), "no \(old) in the sample")
        return Self.valid.replacingOccurrences(of: old, with: new)
    }

    @Test func theSampleIsValid() { #expect(error(Self.valid) == nil) }

    @Test(arguments: [
        // Not JSON.
        ("{", "m/tokenizer.json:1:2: invalid JSON: expected a key in double quotes, found the end of the file"),
        ("[]", "m/tokenizer.json: is an array (expected an object)"),
        ("{\"model\": {\"type\": \"BPE\"}} x", "m/tokenizer.json:1:28: invalid JSON: unexpected text after the JSON value"),
        ("{\"model\": \"\u{1}\"}", "m/tokenizer.json:1:12: invalid JSON: control character in a string (write it as an escape such as \\n or \\t)"),
        // The model.
        ("{}", "m/tokenizer.json: model: missing (expected an object)"),
        ("{\"model\": {}}", "m/tokenizer.json: model.type: missing (expected \"BPE\")"),
        ("{\"model\": {\"type\": \"WordPiece\"}}",
         "m/tokenizer.json: model.type: \"WordPiece\" is not supported (only BPE models, as GPT-2, Llama 3, Qwen2 and SmolLM2 use)"),
        ("{\"model\": {\"type\": \"BPE\", \"merges\": []}}", "m/tokenizer.json: model.vocab: missing (expected an object)"),
        ("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}", "m/tokenizer.json: model.merges: missing (expected an array)"),
        ("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}}",
         "m/tokenizer.json: model.vocab.\"a\": -1.0 is not a token id (an integer from 0 to 2147483646)"),
        ("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"a\": 1}, \"merges\": []}}",
         "m/tokenizer.json: model.vocab.\"a\": the key appears twice (ids 0 and 1)"),
        ("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}}",
         "m/tokenizer.json: model.vocab: id 0 is given to two tokens, \"a\" and \"b\""),
        ("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"0\"}, \"merges\": []}}",
         "m/tokenizer.json: model.vocab.\"a\": is a string (expected a token id)"),
    ] as [(String, String)])
    func malformedFiles(json: String, message: String) {
        #expect(error(json) == message)
    }

    @Test func malformedParts() {
        #expect(error(edited(#""merges": ["a b"]"#, #""merges": ["a b c"]"#))
                == #"m/tokenizer.json: model.merges[0]: "a b c" is not two tokens separated by one space"#)
        #expect(error(edited(#""merges": ["a b"]"#, #""merges": ["a x"]"#))
                == #"m/tokenizer.json: model.merges[0]: "ax" is not in the vocabulary"#)
        #expect(error(edited(#""merges": ["a b"]"#, #""merges": [7]"#))
                == #"m/tokenizer.json: model.merges[0]: is a number (expected "a b" or ["a", "b"])"#)
        #expect(error(edited(#""added_tokens": []"#, #""added_tokens": [{"id": 300, "content": "ab"}]"#))
                == "m/tokenizer.json: added_tokens[0].id: is 300, but the token \"ab\" gets id 256 "
                + "(its id in the vocabulary, else the next after the vocabulary and earlier added tokens)")
        #expect(error(edited(#""added_tokens": []"#, #""added_tokens": [{"content": "x"}]"#))
                == "m/tokenizer.json: added_tokens[0].id: missing (expected a token id)")
        #expect(error(edited(#""added_tokens": []"#, #""added_tokens": [{"id": 257, "content": "x", "special": "yes"}]"#))
                == "m/tokenizer.json: added_tokens[0].special: is a string (expected true or false)")
    }

    @Test func unsupportedComponents() {
        #expect(error(edited(#""normalizer": null"#, #""normalizer": {"type": "NFKC"}"#))
                == #"m/tokenizer.json: normalizer.type: "NFKC" is not supported (supported: NFC, Sequence)"#)
        #expect(error(edited(#""normalizer": null"#, #""normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}]}"#))
                == #"m/tokenizer.json: normalizer.normalizers[1].type: "Lowercase" is not supported (supported: NFC, Sequence)"#)
        let metaspace = #"{"type": "Sequence", "pretokenizers": [{"type": "Metaspace"}]}"#
        #expect(error(edited(#"{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}"#, metaspace))
                == #"m/tokenizer.json: pre_tokenizer.pretokenizers[0].type: "Metaspace" is not supported (supported: ByteLevel, Split, Digits, Sequence)"#)
        let otherRegex = #"{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Isolated"}, {"type": "ByteLevel"}]}"#
        #expect(error(edited(#"{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}"#, otherRegex))
                == "m/tokenizer.json: pre_tokenizer.pretokenizers[0].pattern.Regex: this regex is not supported (supported: the exact "
                + "patterns of GPT-2, SmolLM2; Llama 3; Qwen2, Qwen2.5)")
        let noByteLevel = #"{"type": "Digits", "individual_digits": true}"#
        #expect(error(edited(#"{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}"#, noByteLevel))
                == "m/tokenizer.json: pre_tokenizer: has no ByteLevel step: only byte-level BPE is supported (GPT-2, Llama 3, Qwen2, SmolLM2)")
        let afterByteLevel = #"{"type": "Sequence", "pretokenizers": [{"type": "ByteLevel"}, {"type": "Digits"}]}"#
        #expect(error(edited(#"{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}"#, afterByteLevel))
                == "m/tokenizer.json: pre_tokenizer.pretokenizers[1]: a pre-tokenizer after ByteLevel is not supported (ByteLevel must come last)")
        #expect(error(edited(#""decoder": {"type": "ByteLevel"}"#, #""decoder": {"type": "WordPiece"}"#))
                == #"m/tokenizer.json: decoder.type: "WordPiece" is not supported (supported: ByteLevel, Sequence)"#)
        #expect(error(edited(#""post_processor": null"#, #""post_processor": {"type": "Bert"}"#))
                == "m/tokenizer.json: post_processor.type: \"Bert\" is not supported (supported: ByteLevel, TemplateProcessing, "
                + "RobertaProcessing, BertProcessing, Sequence)")
        #expect(error(edited(#""byte_fallback": false"#, #""byte_fallback": true"#))
                == "m/tokenizer.json: model.byte_fallback: byte fallback is not supported (a byte-level BPE needs none)")
        #expect(error(edited(#""dropout": null"#, #""dropout": 0.1"#))
                == "m/tokenizer.json: model.dropout: BPE dropout is not supported (expected null)")
    }

    @Test func mergesTXTLines() {
        do {
            _ = try BPETokenizer(vocabJSON: Array(#"{"a": 0, "b": 1, "ab": 2}"#.utf8), vocabFile: "v.json",
                                 merges: Array("#version: 0.2\na b\nab\n".utf8), mergesFile: "m.txt")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == #"m.txt:3: expected two tokens separated by one space, found "ab""#)
        }
        do {
            _ = try BPETokenizer(vocabJSON: Array(#"{"a": 0, "b": 1}"#.utf8), vocabFile: "v.json",
                                 merges: Array("#version: 0.2\na b\n".utf8), mergesFile: "m.txt")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == #"m.txt:2: "ab" is not in the vocabulary"#)
        }
    }
}
