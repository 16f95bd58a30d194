// What a checkpoint records about the tokenizer it was trained with: enough to rebuild it exactly, to
// refuse mixing it with a checkpoint of another tokenizer, and to export it again (docs/checkpoints.md):
//
//   bytes     the byte tokenizer (also every checkpoint written before tokenizers were recorded)
//   files     a Hugging Face tokenizer: its files byte for byte, and the special ids of the model's
//             config.json / generation_config.json
//
// As checkpoint attributes (strings): `kind` = "byte" | "huggingface", then for Hugging Face one
// attribute per file, named as the file (`tokenizer.json`, `tokenizer_config.json`, ...), and
// `model_ids_json`. Two sources are the same tokenizer when they are equal; `fingerprint` names one
// in messages.

import Foundation
import JSON

public enum TokenizerSource: Equatable, Sendable {
    case bytes
    case files(TokenizerFiles)

    /// The tokenizer itself.
    public func tokenizer() throws(TokenizerError) -> any Tokenizer {
        switch self {
        case .bytes: return ByteTokenizer()
        case .files(let files): return try files.tokenizer(directory: "<checkpoint>")
        }
    }

    /// `byte`, or `huggingface` and a 64-bit FNV-1a hash of the files and ids (16 hex digits).
    public var fingerprint: String {
        switch self {
        case .bytes:
            return "byte"
        case .files(let files):
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            func mix<S: Sequence<UInt8>>(_ bytes: S) {
                for byte in bytes {
                    hash ^= UInt64(byte)
                    hash = hash &* 0x0000_0100_0000_01B3
                }
                hash ^= 0xFF
                hash = hash &* 0x0000_0100_0000_01B3
            }
            for name in files.files.keys.sorted() {
                mix(name.utf8)
                mix(files.files[name]!)
            }
            mix(Self.idsJSON(files.modelIDs).utf8)
            let hex = String(hash, radix: 16)
            return "huggingface " + String(repeating: "0", count: 16 - hex.count) + hex
        }
    }

    // MARK: Checkpoint attributes

    /// The attributes that record this source (all strings).
    public var attributes: [String: String] {
        switch self {
        case .bytes:
            return ["kind": "byte"]
        case .files(let files):
            var attributes = ["kind": "huggingface", "model_ids_json": Self.idsJSON(files.modelIDs)]
            for (name, bytes) in files.files { attributes[name] = String(decoding: bytes, as: UTF8.self) }
            return attributes
        }
    }

    /// Reads what `attributes` wrote. `source` names the checkpoint in errors.
    public init(attributes: [String: String], source: String) throws(TokenizerError) {
        switch attributes["kind"] {
        case "byte":
            self = .bytes
        case "huggingface":
            var files: [String: [UInt8]] = [:]
            for name in TokenizerFiles.tokenizerFileNames {
                if let text = attributes[name] { files[name] = Array(text.utf8) }
            }
            guard files["tokenizer.json"] != nil || (files["vocab.json"] != nil && files["merges.txt"] != nil) else {
                throw TokenizerError(file: source, at: "/tokenizer", "records a Hugging Face tokenizer without its tokenizer files")
            }
            var ids = ModelSpecialIDs()
            if let json = attributes["model_ids_json"] {
                do {
                    ids = try JSONDecoder().decode(ModelSpecialIDs.self, from: Data(json.utf8))
                } catch {
                    throw TokenizerError(file: source, at: "/tokenizer@model_ids_json", "is not valid: \(error.localizedDescription)")
                }
            }
            self = .files(TokenizerFiles(files: files, modelIDs: ids))
        case let other:
            throw TokenizerError(file: source, at: "/tokenizer@kind",
                                 "is \(other.map { "\"\($0)\"" } ?? "missing") (expected \"byte\" or \"huggingface\")")
        }
    }

    static func idsJSON(_ ids: ModelSpecialIDs) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(ids), as: UTF8.self)
    }

    // MARK: Export

    /// The tokenizer files a Hugging Face model directory holds for this tokenizer: the recorded files
    /// as they were, or for the byte tokenizer a tokenizer.json that Hugging Face `tokenizers` reads and
    /// that encodes text to our ids, with a tokenizer_config.json naming BOS, EOS and PAD.
    public func huggingFaceFiles() -> [String: [UInt8]] {
        switch self {
        case .files(let files): return files.files
        case .bytes: return ByteTokenizer.huggingFaceFiles
        }
    }
}

extension ByteTokenizer {
    /// tokenizer.json and tokenizer_config.json for the byte tokenizer. A BPE model with one token per
    /// byte (spelled in the byte-level alphabet, id = the byte) and no merges, one piece per text (no
    /// regex), so every byte is its own token; BOS, EOS and PAD are vocabulary entries 256–258, not
    /// added tokens, so that `tokenizers` never finds them in text (as we never do); the post-processor
    /// puts BOS first. transformers, given tokenizer_config.json's special tokens, adds them as special
    /// tokens and does match their text (`<|eos|>` in a text): the one place where the two differ.
    public static var huggingFaceFiles: [String: [UInt8]] {
        var vocab = JSONObject()
        for byte in 0..<256 { vocab.append(ByteLevel.spelling(of: [UInt8(byte)]), .number(Double(byte))) }
        for token in [bos, eos, pad] { vocab.append(specialName(token)!, .number(Double(token))) }
        func object(_ members: [(String, JSONValue)]) -> JSONValue { .object(JSONObject(members.map { (key: $0.0, value: $0.1) })) }
        let byteLevel = object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)),
                                ("trim_offsets", .bool(false)), ("use_regex", .bool(false))])
        let bosName = JSONValue.string(specialName(bos)!)
        let template = object([
            ("type", .string("TemplateProcessing")),
            ("single", .array([object([("SpecialToken", object([("id", bosName), ("type_id", .number(0))]))]),
                               object([("Sequence", object([("id", .string("A")), ("type_id", .number(0))]))])])),
            ("pair", .array([object([("SpecialToken", object([("id", bosName), ("type_id", .number(0))]))]),
                             object([("Sequence", object([("id", .string("A")), ("type_id", .number(0))]))]),
                             object([("Sequence", object([("id", .string("B")), ("type_id", .number(1))]))])])),
            ("special_tokens", object([(specialName(bos)!, object([("id", bosName), ("ids", .array([.number(Double(bos))])),
                                                                   ("tokens", .array([bosName]))]))])),
        ])
        let tokenizerJSON = object([
            ("version", .string("1.0")), ("truncation", .null), ("padding", .null), ("added_tokens", .array([])),
            ("normalizer", .null), ("pre_tokenizer", byteLevel), ("post_processor", template), ("decoder", byteLevel),
            ("model", object([("type", .string("BPE")), ("dropout", .null), ("unk_token", .null),
                              ("continuing_subword_prefix", .null), ("end_of_word_suffix", .null), ("fuse_unk", .bool(false)),
                              ("byte_fallback", .bool(false)), ("ignore_merges", .bool(false)),
                              ("vocab", .object(vocab)), ("merges", .array([]))])),
        ])
        let config = object([
            ("tokenizer_class", .string("PreTrainedTokenizerFast")), ("bos_token", .string(specialName(bos)!)),
            ("eos_token", .string(specialName(eos)!)), ("pad_token", .string(specialName(pad)!)),
            ("clean_up_tokenization_spaces", .bool(false)), ("model_max_length", .number(1e9)),
        ])
        return ["tokenizer.json": Array(tokenizerJSON.serialized.utf8), "tokenizer_config.json": Array(config.serialized.utf8)]
    }
}
