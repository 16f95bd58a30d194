// The tokenizer of a Hugging Face model directory: its files as they are on disk, and how they combine.
//
//   tokenizer.json            the pipeline (TokenizerJSON.swift); or, for older GPT-2 directories,
//   vocab.json + merges.txt   with GPT-2's pipeline and the added tokens of tokenizer_config.json
//   tokenizer_config.json     bos_token, eos_token, pad_token; added_tokens_decoder; chat_template;
//                             add_bos_token / add_eos_token (when present, they replace the post-processor
//                             with [BOS] A [EOS], as transformers does)
//   special_tokens_map.json   bos/eos/pad when tokenizer_config.json does not name them
//   chat_template.jinja       the chat template (newer transformers save it apart)
//   config.json               bos_token_id, eos_token_id, pad_token_id, when the tokenizer files name none
//   generation_config.json    eos_token_id (one or a list): where generation stops; pad_token_id
//
// A `TokenizerFiles` value is what a checkpoint records to name its tokenizer (`TokenizerSource`): the
// tokenizer's own files byte for byte (so they can be exported again) and the ids read from the
// model's config files. Two checkpoints have the same tokenizer when these are equal.

import Foundation
import JSON

public struct TokenizerFiles: Equatable, Sendable {
    /// The tokenizer files by name, as read (tokenizer.json or vocab.json + merges.txt, and the others
    /// of the table above that exist).
    public var files: [String: [UInt8]]
    /// The special ids config.json and generation_config.json declare.
    public var modelIDs: ModelSpecialIDs

    /// The files a directory may hold, in the order they are read and written.
    public static let tokenizerFileNames = ["tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json",
                                            "special_tokens_map.json", "chat_template.jinja"]

    public init(files: [String: [UInt8]], modelIDs: ModelSpecialIDs = ModelSpecialIDs()) {
        self.files = files
        self.modelIDs = modelIDs
    }

    /// Reads the tokenizer files of a model directory. Throws when it has neither tokenizer.json nor
    /// vocab.json + merges.txt, or when config.json / generation_config.json are not valid.
    public init(directory: String) throws(TokenizerError) {
        var files: [String: [UInt8]] = [:]
        for name in Self.tokenizerFileNames {
            if let bytes = try Self.read(directory, name) { files[name] = bytes }
        }
        guard files["tokenizer.json"] != nil || (files["vocab.json"] != nil && files["merges.txt"] != nil) else {
            throw TokenizerError(file: directory, "has no tokenizer: expected tokenizer.json, or vocab.json and merges.txt")
        }
        var ids = ModelSpecialIDs()
        for name in ["config.json", "generation_config.json"] {
            guard let bytes = try Self.read(directory, name) else { continue }
            let path = (directory as NSString).appendingPathComponent(name)
            try ids.read(bytes, file: path)
        }
        self.init(files: files, modelIDs: ids)
    }

    private static func read(_ directory: String, _ name: String) throws(TokenizerError) -> [UInt8]? {
        let path = (directory as NSString).appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else { throw TokenizerError(file: path, "cannot be read") }
        return [UInt8](data)
    }

    /// Writes the tokenizer files into `directory` (which must exist).
    public func write(to directory: String) throws {
        for name in Self.tokenizerFileNames {
            guard let bytes = files[name] else { continue }
            try Data(bytes).write(to: URL(fileURLWithPath: directory).appendingPathComponent(name), options: .atomic)
        }
    }

    // MARK: The tokenizer

    /// The tokenizer these files define, with its special ids. `directory` names the files in errors.
    public func tokenizer(directory: String = ".") throws(TokenizerError) -> BPETokenizer {
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        let config = try TokenizerConfig(files: files, directory: directory)
        var tokenizer: BPETokenizer
        if let json = files["tokenizer.json"] {
            tokenizer = try BPETokenizer(tokenizerJSON: json, file: path("tokenizer.json"))
        } else {
            tokenizer = try BPETokenizer(vocabJSON: files["vocab.json"]!, vocabFile: path("vocab.json"),
                                         merges: files["merges.txt"]!, mergesFile: path("merges.txt"),
                                         addedTokens: try config.addedTokensForVocabulary(files["vocab.json"]!, file: path("vocab.json")))
        }

        func id(_ token: (text: String, key: String)?) throws(TokenizerError) -> Int32? {
            guard let token else { return nil }
            guard let id = tokenizer.id(of: token.text) else {
                throw TokenizerError(file: config.file, at: token.key, "\"\(token.text)\" is not a token of this tokenizer")
            }
            return id
        }
        let bos = try id(config.bos) ?? modelIDs.bos
        let eos = try id(config.eos) ?? modelIDs.eos.first
        let pad = try id(config.pad) ?? modelIDs.pad
        var special: SpecialTokens?
        if let eos { special = SpecialTokens(bos: bos, eos: eos, pad: pad, stop: modelIDs.eos) }

        if config.addBOS != nil || config.addEOS != nil {
            // transformers rebuilds the post-processor from these flags (`update_post_processor`).
            var definition = tokenizer.definition
            definition.prefix = []
            definition.suffix = []
            if config.addBOS == true {
                guard let bos else { throw TokenizerError(file: config.file, at: "add_bos_token", "is true but the tokenizer has no bos_token") }
                definition.prefix = [bos]
            }
            if config.addEOS == true {
                guard let eos else { throw TokenizerError(file: config.file, at: "add_eos_token", "is true but the tokenizer has no eos_token") }
                definition.suffix = [eos]
            }
            tokenizer = BPETokenizer(definition)
        }
        return tokenizer.with(special: special)
    }

    /// The chat template: chat_template.jinja, else tokenizer_config.json's `chat_template` (its
    /// "default" entry when it is a list of named templates); nil when there is none.
    public func chatTemplate(directory: String = ".") throws(TokenizerError) -> String? {
        if let bytes = files["chat_template.jinja"] {
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw TokenizerError(file: (directory as NSString).appendingPathComponent("chat_template.jinja"), "is not valid UTF-8")
            }
            return text
        }
        return try TokenizerConfig(files: files, directory: directory).chatTemplate
    }
}

/// Special ids as a model's config.json and generation_config.json give them.
public struct ModelSpecialIDs: Equatable, Sendable, Codable {
    public var bos: Int32?
    /// config.json's, then generation_config.json's (one id or a list each), without repeats.
    public var eos: [Int32] = []
    public var pad: Int32?

    public init(bos: Int32? = nil, eos: [Int32] = [], pad: Int32? = nil) {
        self.bos = bos
        self.eos = eos
        self.pad = pad
    }

    /// Adds the ids of config.json, then of generation_config.json: the second adds stop tokens but
    /// does not replace the first's BOS or PAD.
    mutating func read(_ bytes: [UInt8], file: String) throws(TokenizerError) {
        let reader = TokenizerFileReader(file: file)
        let root = try reader.object(try reader.parse(bytes), at: KeyPath())
        func ids(_ key: String) throws(TokenizerError) -> [Int32] {
            guard let value = root[key], !value.isNull else { return [] }
            if let list = value.array {
                var result: [Int32] = []
                for (index, entry) in list.enumerated() {
                    result.append(try reader.id(entry, at: KeyPath().appending(key).appending(index: index)))
                }
                return result
            }
            return [try reader.id(value, at: KeyPath().appending(key))]
        }
        if bos == nil { bos = try ids("bos_token_id").first }
        if pad == nil { pad = try ids("pad_token_id").first }
        for id in try ids("eos_token_id") where !eos.contains(id) { eos.append(id) }
    }
}

/// What tokenizer_config.json (and special_tokens_map.json) say.
struct TokenizerConfig {
    /// The file special tokens were read from, for messages.
    var file: String
    var bos: (text: String, key: String)?
    var eos: (text: String, key: String)?
    var pad: (text: String, key: String)?
    var unk: (text: String, key: String)?
    var addBOS: Bool?
    var addEOS: Bool?
    var chatTemplate: String?
    /// `added_tokens_decoder`, by id.
    var addedTokens: [AddedToken] = []

    init(files: [String: [UInt8]], directory: String) throws(TokenizerError) {
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        file = path("tokenizer_config.json")
        var sources: [(JSONObject, String)] = []
        if let bytes = files["tokenizer_config.json"] {
            let reader = TokenizerFileReader(file: path("tokenizer_config.json"))
            let root = try reader.object(try reader.parse(bytes), at: KeyPath())
            sources.append((root, reader.file))
            addBOS = try root["add_bos_token"].map { value throws(TokenizerError) in
                try reader.bool(value, at: KeyPath().appending("add_bos_token"), default: false)
            }
            addEOS = try root["add_eos_token"].map { value throws(TokenizerError) in
                try reader.bool(value, at: KeyPath().appending("add_eos_token"), default: false)
            }
            if let template = root["chat_template"], !template.isNull {
                if let text = template.string {
                    chatTemplate = text
                } else if let list = template.array {
                    for (index, entry) in list.enumerated() {
                        let entryPath = KeyPath().appending("chat_template").appending(index: index)
                        let object = try reader.object(entry, at: entryPath)
                        if try reader.string(object["name"], at: entryPath.appending("name")) == "default" {
                            chatTemplate = try reader.string(object["template"], at: entryPath.appending("template"))
                        }
                    }
                } else {
                    throw reader.fail(KeyPath().appending("chat_template"), "is \(template.kind) (expected a string)")
                }
            }
            if let decoder = root["added_tokens_decoder"], !decoder.isNull {
                let decoderPath = KeyPath().appending("added_tokens_decoder")
                for member in try reader.object(decoder, at: decoderPath).members {
                    let memberPath = decoderPath.appending("\"\(member.key)\"")
                    guard let id = Int32(member.key), id >= 0 else { throw reader.fail(memberPath, "the key is not a token id") }
                    var token = try reader.addedToken(try reader.object(member.value, at: memberPath), at: memberPath, id: id)
                    token.id = id
                    addedTokens.append(token)
                }
                addedTokens.sort { $0.id < $1.id }
            }
        }
        if let bytes = files["special_tokens_map.json"] {
            let reader = TokenizerFileReader(file: path("special_tokens_map.json"))
            sources.append((try reader.object(try reader.parse(bytes), at: KeyPath()), reader.file))
        }
        // A token is a string or {"content": "..."}; the first file that names it wins.
        for (root, sourceFile) in sources {
            let reader = TokenizerFileReader(file: sourceFile)
            func token(_ key: String) throws(TokenizerError) -> (String, String)? {
                guard let value = root[key], !value.isNull else { return nil }
                if let text = value.string { return (text, key) }
                let object = try reader.object(value, at: KeyPath().appending(key))
                return (try reader.string(object["content"], at: KeyPath().appending(key).appending("content")), key)
            }
            if bos == nil, let found = try token("bos_token") { bos = found; file = sourceFile }
            if eos == nil, let found = try token("eos_token") { eos = found; file = sourceFile }
            if pad == nil, let found = try token("pad_token") { pad = found; file = sourceFile }
            if unk == nil, let found = try token("unk_token") { unk = found }
        }
    }

    /// The added tokens of a vocab.json + merges.txt tokenizer: `added_tokens_decoder`, else the named
    /// special tokens found in the vocabulary (GPT-2's `<|endoftext|>`), each special.
    func addedTokensForVocabulary(_ vocabJSON: [UInt8], file: String) throws(TokenizerError) -> [AddedToken] {
        if !addedTokens.isEmpty { return addedTokens }
        let reader = TokenizerFileReader(file: file)
        let vocab = try reader.object(try reader.parse(vocabJSON), at: KeyPath())
        var result: [AddedToken] = []
        let named = [bos, eos, unk, pad].compactMap { $0?.text }
        let defaults = named.isEmpty ? ["<|endoftext|>"] : named
        for text in defaults where !result.contains(where: { $0.content == text }) {
            guard let value = vocab[text], let number = value.number, let id = Int32(exactly: number) else { continue }
            result.append(AddedToken(id: id, content: text, normalized: false, special: true))
        }
        return result
    }
}

extension TokenizerFileReader {
    /// An entry of `added_tokens_decoder` (its id is the key).
    func addedToken(_ object: JSONObject, at path: KeyPath, id: Int32) throws(TokenizerError) -> AddedToken {
        var fields = object
        if fields["id"] == nil { fields.append("id", .number(Double(id))) }
        return try addedToken(fields, at: path)
    }
}
