// Reading a tokenizer from Hugging Face's files: tokenizer.json, or GPT-2's vocab.json + merges.txt.
//
// `BPETokenizer(tokenizerJSON:file:)` is a function from bytes to a tokenizer or a `TokenizerError`
// (the fuzz target's entry point). What tokenizer.json may hold, and what we do with it:
//
//   model            BPE (vocab, merges as "a b" or ["a", "b"], ignore_merges, unk_token, fuse_unk);
//                    dropout, byte_fallback, a subword prefix or suffix, or another model: refused
//   added_tokens     matched before pre-tokenization (AddedTokens.swift); an id that differs from the one
//                    Hugging Face assigns is refused
//   normalizer       none or NFC (alone or in a Sequence); anything else refused
//   pre_tokenizer    Split (GPT-2, Llama 3 or Qwen2 regex, or a literal), Digits, Sequence, and ByteLevel,
//                    which must come last; anything else refused
//   post_processor   none, ByteLevel, TemplateProcessing (single sequences), RobertaProcessing,
//                    BertProcessing, Sequence of these
//   decoder          none or ByteLevel (alone or in a Sequence)
//   truncation, padding   ignored: sequence lengths are the job's business (docs/data.md)
//
// Every refusal names the file, the key path and what is supported.

import JSON

extension BPETokenizer {
    /// Reads tokenizer.json. `file` names it in errors.
    public convenience init(tokenizerJSON bytes: [UInt8], file: String, special: SpecialTokens? = nil) throws(TokenizerError) {
        let reader = TokenizerFileReader(file: file)
        let root = try reader.object(try reader.parse(bytes), at: KeyPath())
        self.init(try reader.definition(root), special: special)
    }

    /// Reads GPT-2's pair of files: vocab.json (`{"token": id}`) and merges.txt (`#version` line, then one
    /// `a b` merge a line, highest priority first), with GPT-2's pipeline: ByteLevel pre-tokenizer
    /// (no prefix space, GPT-2's regex) and decoder, and `addedTokens` (e.g. `<|endoftext|>`).
    public convenience init(vocabJSON: [UInt8], vocabFile: String, merges: [UInt8], mergesFile: String,
                            addedTokens: [AddedToken] = [], special: SpecialTokens? = nil) throws(TokenizerError) {
        let vocabReader = TokenizerFileReader(file: vocabFile)
        let vocab = try vocabReader.object(try vocabReader.parse(vocabJSON), at: KeyPath())
        // Hugging Face reads only the members whose value is a number.
        let entries = JSONObject(vocab.members.filter { $0.value.number != nil })
        let (pairs, lines) = try TokenizerFileReader.mergesTXT(merges, file: mergesFile)
        let builder = try vocabReader.vocabulary(entries, at: KeyPath())
        var definition = try builder.definition(merges: pairs, mergesReader: TokenizerFileReader(file: mergesFile),
                                                mergesPath: { KeyPath(components: ["\(lines[$0])"]) }, options: BPEOptions(),
                                                addedTokens: addedTokens.map { ($0, KeyPath()) }, reader: vocabReader)
        definition.preTokenizer = PreTokenizer(steps: [], byteLevel: ByteLevelSettings(addPrefixSpace: false, useRegex: true))
        definition.byteLevelDecoder = true
        self.init(definition, special: special)
    }
}

/// The `model` settings other than vocabulary and merges.
struct BPEOptions {
    var ignoreMerges = false
    var unknownToken: String?
    var fuseUnknown = false
}

/// Reads the parts of a tokenizer file, with errors that name the file and key path.
struct TokenizerFileReader {
    let file: String

    func fail(_ path: KeyPath, _ message: String) -> TokenizerError {
        TokenizerError(file: file, at: path.description, message)
    }

    func parse(_ bytes: [UInt8]) throws(TokenizerError) -> JSONValue {
        do throws(JSONSyntaxError) {
            return try JSONValue.parse(bytes[...], options: JSONParseOptions(endOfInput: "the end of the file"))
        } catch {
            throw TokenizerError(file: file, at: "\(error.line):\(error.column)", "invalid JSON: \(error.reason)")
        }
    }

    // MARK: Typed access

    func object(_ value: JSONValue?, at path: KeyPath) throws(TokenizerError) -> JSONObject {
        guard let value else { throw fail(path, "missing (expected an object)") }
        guard let object = value.object else { throw fail(path, "is \(value.kind) (expected an object)") }
        return object
    }

    func array(_ value: JSONValue?, at path: KeyPath) throws(TokenizerError) -> [JSONValue] {
        guard let value else { throw fail(path, "missing (expected an array)") }
        guard let array = value.array else { throw fail(path, "is \(value.kind) (expected an array)") }
        return array
    }

    func string(_ value: JSONValue?, at path: KeyPath) throws(TokenizerError) -> String {
        guard let value else { throw fail(path, "missing (expected a string)") }
        guard let text = value.string else { throw fail(path, "is \(value.kind) (expected a string)") }
        return text
    }

    /// A string, or nil when absent or null.
    func optionalString(_ value: JSONValue?, at path: KeyPath) throws(TokenizerError) -> String? {
        guard let value, !value.isNull else { return nil }
        return try string(value, at: path)
    }

    /// A boolean, or `fallback` when absent or null.
    func bool(_ value: JSONValue?, at path: KeyPath, default fallback: Bool) throws(TokenizerError) -> Bool {
        guard let value, !value.isNull else { return fallback }
        guard let flag = value.bool else { throw fail(path, "is \(value.kind) (expected true or false)") }
        return flag
    }

    /// A token id: an integer in 0 ..< 2³¹.
    func id(_ value: JSONValue?, at path: KeyPath) throws(TokenizerError) -> Int32 {
        guard let value else { throw fail(path, "missing (expected a token id)") }
        guard let number = value.number else { throw fail(path, "is \(value.kind) (expected a token id)") }
        guard number >= 0, number < Double(Int32.max), number.rounded() == number else {
            throw fail(path, "\(number) is not a token id (an integer from 0 to \(Int32.max - 1))")
        }
        return Int32(number)
    }

    /// The `type` of a component, checked against the supported ones.
    func type(of object: JSONObject, at path: KeyPath, supported: [String]) throws(TokenizerError) -> String {
        let typePath = path.appending("type")
        let name = try string(object["type"], at: typePath)
        guard supported.contains(name) else {
            throw fail(typePath, "\"\(name)\" is not supported (supported: \(supported.joined(separator: ", ")))")
        }
        return name
    }

    // MARK: The whole file

    func definition(_ root: JSONObject) throws(TokenizerError) -> BPETokenizer.Definition {
        let modelPath = KeyPath().appending("model")
        let model = try object(root["model"], at: modelPath)
        guard let modelType = model["type"] else {
            throw fail(modelPath.appending("type"), "missing (expected \"BPE\")")
        }
        guard modelType.string == "BPE" else {
            let name = modelType.string.map { "\"\($0)\"" } ?? modelType.kind
            throw fail(modelPath.appending("type"), "\(name) is not supported (only BPE models, as GPT-2, Llama 3, Qwen2 and SmolLM2 use)")
        }
        var options = BPEOptions()
        if let dropout = model["dropout"], !dropout.isNull {
            guard dropout.number == 0 else { throw fail(modelPath.appending("dropout"), "BPE dropout is not supported (expected null)") }
        }
        if try bool(model["byte_fallback"], at: modelPath.appending("byte_fallback"), default: false) {
            throw fail(modelPath.appending("byte_fallback"), "byte fallback is not supported (a byte-level BPE needs none)")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let affix = try optionalString(model[key], at: modelPath.appending(key)), !affix.isEmpty {
                throw fail(modelPath.appending(key), "\"\(affix)\" is not supported (expected null: byte-level BPE has no subword markers)")
            }
        }
        options.ignoreMerges = try bool(model["ignore_merges"], at: modelPath.appending("ignore_merges"), default: false)
        options.unknownToken = try optionalString(model["unk_token"], at: modelPath.appending("unk_token"))
        options.fuseUnknown = try bool(model["fuse_unk"], at: modelPath.appending("fuse_unk"), default: false)

        let vocabPath = modelPath.appending("vocab")
        let builder = try vocabulary(try object(model["vocab"], at: vocabPath), at: vocabPath)
        let mergesPath = modelPath.appending("merges")
        let merges = try mergePairs(try array(model["merges"], at: mergesPath), at: mergesPath)

        let addedPath = KeyPath().appending("added_tokens")
        var added: [(AddedToken, KeyPath)] = []
        if let list = root["added_tokens"], !list.isNull {
            for (index, entry) in try array(list, at: addedPath).enumerated() {
                let path = addedPath.appending(index: index)
                added.append((try addedToken(try object(entry, at: path), at: path), path))
            }
        }
        var definition = try builder.definition(merges: merges, mergesReader: self, mergesPath: { mergesPath.appending(index: $0) },
                                                options: options, addedTokens: added, reader: self)
        definition.normalizer = try normalizer(root["normalizer"], at: KeyPath().appending("normalizer"))
        definition.preTokenizer = try preTokenizer(root["pre_tokenizer"], at: KeyPath().appending("pre_tokenizer"))
        (definition.prefix, definition.suffix) = try postProcessor(root["post_processor"], at: KeyPath().appending("post_processor"),
                                                                   vocabularySize: definition.tokenTexts.count)
        definition.byteLevelDecoder = try decoder(root["decoder"], at: KeyPath().appending("decoder"))
        return definition
    }

    func addedToken(_ object: JSONObject, at path: KeyPath) throws(TokenizerError) -> AddedToken {
        AddedToken(id: try id(object["id"], at: path.appending("id")),
                   content: try string(object["content"], at: path.appending("content")),
                   singleWord: try bool(object["single_word"], at: path.appending("single_word"), default: false),
                   lstrip: try bool(object["lstrip"], at: path.appending("lstrip"), default: false),
                   rstrip: try bool(object["rstrip"], at: path.appending("rstrip"), default: false),
                   normalized: try bool(object["normalized"], at: path.appending("normalized"), default: true),
                   special: try bool(object["special"], at: path.appending("special"), default: false))
    }

    // MARK: Vocabulary and merges

    /// The vocabulary `{"token": id}`: every key exactly as written (scalar for scalar), ids unique.
    func vocabulary(_ vocab: JSONObject, at path: KeyPath) throws(TokenizerError) -> VocabularyBuilder {
        var builder = VocabularyBuilder(capacity: vocab.members.count)
        for member in vocab.members {
            let memberPath = path.appending("\"\(member.key)\"")
            let token = try id(member.value, at: memberPath)
            if let previous = builder.add(member.key, id: token) {
                throw fail(memberPath, "the key appears twice (ids \(previous) and \(token))")
            }
        }
        if let (id, first, second) = builder.sharedID() {
            throw fail(path, "id \(id) is given to two tokens, \"\(first)\" and \"\(second)\"")
        }
        return builder
    }

    /// `["a b", ...]` (a string with one space) or `[["a", "b"], ...]`.
    func mergePairs(_ list: [JSONValue], at path: KeyPath) throws(TokenizerError) -> [(String, String)] {
        var pairs: [(String, String)] = []
        pairs.reserveCapacity(list.count)
        for (index, entry) in list.enumerated() {
            let entryPath = path.appending(index: index)
            if let text = entry.string {
                let parts = text.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw fail(entryPath, "\"\(text)\" is not two tokens separated by one space") }
                pairs.append((String(parts[0]), String(parts[1])))
            } else if let pair = entry.array {
                guard pair.count == 2, let left = pair[0].string, let right = pair[1].string else {
                    throw fail(entryPath, "expected two token strings, [\"a\", \"b\"]")
                }
                pairs.append((left, right))
            } else {
                throw fail(entryPath, "is \(entry.kind) (expected \"a b\" or [\"a\", \"b\"])")
            }
        }
        return pairs
    }

    /// merges.txt: an optional `#version` line, then `a b` lines (Hugging Face's `convert_merges_to_hashmap`);
    /// the pairs, and the line number of each.
    static func mergesTXT(_ bytes: [UInt8], file: String) throws(TokenizerError) -> ([(String, String)], [Int]) {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw TokenizerError(file: file, "is not valid UTF-8")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        var pairs: [(String, String)] = []
        var numbers: [Int] = []
        pairs.reserveCapacity(lines.count)
        for (number, rawLine) in lines.enumerated() {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.hasPrefix("#version") { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw TokenizerError(file: file, at: "\(number + 1)", "expected two tokens separated by one space, found \"\(line)\"")
            }
            pairs.append((String(parts[0]), String(parts[1])))
            numbers.append(number + 1)
        }
        return (pairs, numbers)
    }

    // MARK: Components

    func normalizer(_ value: JSONValue?, at path: KeyPath) throws(TokenizerError) -> Normalizer? {
        guard let value, !value.isNull else { return nil }
        let object = try object(value, at: path)
        let supported = ["NFC", "Sequence"]
        switch try type(of: object, at: path, supported: supported) {
        case "NFC":
            return .nfc
        default:
            var result: Normalizer?
            let listPath = path.appending("normalizers")
            for (index, entry) in try array(object["normalizers"], at: listPath).enumerated() {
                if let inner = try normalizer(entry, at: listPath.appending(index: index)) { result = inner }
            }
            return result
        }
    }

    func preTokenizer(_ value: JSONValue?, at path: KeyPath) throws(TokenizerError) -> PreTokenizer {
        guard let value, !value.isNull else {
            throw fail(path, "missing: a byte-level BPE needs a ByteLevel pre-tokenizer")
        }
        var steps: [PreTokenizerStep] = []
        var byteLevel: ByteLevelSettings?
        func add(_ value: JSONValue, at path: KeyPath) throws(TokenizerError) {
            let object = try object(value, at: path)
            if byteLevel != nil {
                throw fail(path, "a pre-tokenizer after ByteLevel is not supported (ByteLevel must come last)")
            }
            let supported = ["ByteLevel", "Split", "Digits", "Sequence"]
            switch try type(of: object, at: path, supported: supported) {
            case "ByteLevel":
                byteLevel = ByteLevelSettings(
                    addPrefixSpace: try bool(object["add_prefix_space"], at: path.appending("add_prefix_space"), default: true),
                    useRegex: try bool(object["use_regex"], at: path.appending("use_regex"), default: true))
            case "Split":
                steps.append(try split(object, at: path))
            case "Digits":
                steps.append(.digits(individual: try bool(object["individual_digits"], at: path.appending("individual_digits"),
                                                          default: false)))
            default:
                let listPath = path.appending("pretokenizers")
                for (index, entry) in try array(object["pretokenizers"], at: listPath).enumerated() {
                    try add(entry, at: listPath.appending(index: index))
                }
            }
        }
        try add(value, at: path)
        guard let byteLevel else {
            throw fail(path, "has no ByteLevel step: only byte-level BPE is supported (GPT-2, Llama 3, Qwen2, SmolLM2)")
        }
        return PreTokenizer(steps: steps, byteLevel: byteLevel)
    }

    func split(_ object: JSONObject, at path: KeyPath) throws(TokenizerError) -> PreTokenizerStep {
        let patternPath = path.appending("pattern")
        let pattern = try self.object(object["pattern"], at: patternPath)
        let splitPattern: SplitPattern
        if let regex = pattern["Regex"] {
            let text = try string(regex, at: patternPath.appending("Regex"))
            guard let known = SplitRegex.allCases.first(where: { $0.rawValue.unicodeScalars.elementsEqual(text.unicodeScalars) }) else {
                throw fail(patternPath.appending("Regex"),
                           "this regex is not supported (supported: the exact patterns of \(SplitRegex.allCases.map(\.users).joined(separator: "; ")))")
            }
            splitPattern = .regex(known)
        } else if let literal = pattern["String"] {
            let text = try string(literal, at: patternPath.appending("String"))
            guard !text.isEmpty else { throw fail(patternPath.appending("String"), "an empty split string is not supported") }
            splitPattern = .string(Array(text.utf8))
        } else {
            throw fail(patternPath, "expected {\"Regex\": ...} or {\"String\": ...}")
        }
        let behaviorPath = path.appending("behavior")
        let name = try string(object["behavior"], at: behaviorPath)
        guard let behavior = SplitBehavior(rawValue: name) else {
            throw fail(behaviorPath, "\"\(name)\" is not a split behavior (\(SplitBehavior.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return .split(splitPattern, behavior, invert: try bool(object["invert"], at: path.appending("invert"), default: false))
    }

    /// The tokens the post-processor puts before and after a single sequence.
    func postProcessor(_ value: JSONValue?, at path: KeyPath, vocabularySize: Int) throws(TokenizerError) -> ([Int32], [Int32]) {
        guard let value, !value.isNull else { return ([], []) }
        let object = try object(value, at: path)
        func checked(_ id: Int32, at path: KeyPath) throws(TokenizerError) -> Int32 {
            guard Int(id) < vocabularySize else { throw fail(path, "id \(id) is not in the vocabulary") }
            return id
        }
        switch try type(of: object, at: path,
                        supported: ["ByteLevel", "TemplateProcessing", "RobertaProcessing", "BertProcessing", "Sequence"]) {
        case "ByteLevel":
            return ([], [])
        case "RobertaProcessing", "BertProcessing":
            func token(_ key: String) throws(TokenizerError) -> Int32 {
                let entryPath = path.appending(key)
                let pair = try array(object[key], at: entryPath)
                guard pair.count == 2 else { throw fail(entryPath, "expected [\"token\", id]") }
                return try checked(try id(pair[1], at: entryPath.appending(index: 1)), at: entryPath)
            }
            return ([try token("cls")], [try token("sep")])
        case "TemplateProcessing":
            let specialPath = path.appending("special_tokens")
            let specials = try self.object(object["special_tokens"], at: specialPath)
            let singlePath = path.appending("single")
            var prefix: [Int32] = [], suffix: [Int32] = [], sawSequence = false
            for (index, piece) in try array(object["single"], at: singlePath).enumerated() {
                let piecePath = singlePath.appending(index: index)
                let entry = try self.object(piece, at: piecePath)
                if let sequence = entry["Sequence"] {
                    let name = try string(try self.object(sequence, at: piecePath.appending("Sequence"))["id"],
                                          at: piecePath.appending("Sequence").appending("id"))
                    guard name == "A", !sawSequence else { throw fail(piecePath, "a single-sequence template holds sequence A once") }
                    sawSequence = true
                } else if let special = entry["SpecialToken"] {
                    let name = try string(try self.object(special, at: piecePath.appending("SpecialToken"))["id"],
                                          at: piecePath.appending("SpecialToken").appending("id"))
                    let tokenPath = specialPath.appending("\"\(name)\"")
                    let definition = try self.object(specials[name], at: tokenPath)
                    var ids: [Int32] = []
                    for (i, id) in try array(definition["ids"], at: tokenPath.appending("ids")).enumerated() {
                        ids.append(try checked(try self.id(id, at: tokenPath.appending("ids").appending(index: i)), at: tokenPath))
                    }
                    if sawSequence { suffix += ids } else { prefix += ids }
                } else {
                    throw fail(piecePath, "expected {\"Sequence\": ...} or {\"SpecialToken\": ...}")
                }
            }
            guard sawSequence else { throw fail(singlePath, "the template has no sequence A") }
            return (prefix, suffix)
        default:
            var prefix: [Int32] = [], suffix: [Int32] = []
            let listPath = path.appending("processors")
            for (index, entry) in try array(object["processors"], at: listPath).enumerated() {
                let (before, after) = try postProcessor(entry, at: listPath.appending(index: index), vocabularySize: vocabularySize)
                prefix = before + prefix
                suffix += after
            }
            return (prefix, suffix)
        }
    }

    /// Whether the decoder is ByteLevel (true) or absent (false).
    func decoder(_ value: JSONValue?, at path: KeyPath) throws(TokenizerError) -> Bool {
        guard let value, !value.isNull else { return false }
        let object = try object(value, at: path)
        switch try type(of: object, at: path, supported: ["ByteLevel", "Sequence"]) {
        case "ByteLevel":
            return true
        default:
            let listPath = path.appending("decoders")
            let list = try array(object["decoders"], at: listPath)
            guard list.count == 1 else { throw fail(listPath, "only a Sequence of one ByteLevel decoder is supported") }
            guard try decoder(list[0], at: listPath.appending(index: 0)) else {
                throw fail(listPath.appending(index: 0), "expected a ByteLevel decoder")
            }
            return true
        }
    }
}

/// The vocabulary while a tokenizer is being read: tokens by their spelling (the UTF-8 of the key, so
/// that canonically equivalent keys stay apart), and by id.
struct VocabularyBuilder {
    var bySpelling: ByteStringTable
    var texts: [Int32: String] = [:]
    var sharedIDs: (Int32, String, String)?
    var count = 0

    init(capacity: Int) { bySpelling = ByteStringTable(capacity: capacity) }

    /// Adds a token; returns the id the same key already had, if any.
    mutating func add(_ text: String, id: Int32) -> Int32? {
        if let previous = bySpelling.set(id, for: Array(text.utf8)) { return previous }
        if let other = texts[id], sharedIDs == nil { sharedIDs = (id, other, text) }
        texts[id] = text
        count += 1
        return nil
    }

    func sharedID() -> (Int32, String, String)? { sharedIDs }

    func id(of text: String) -> Int32? { bySpelling.value(for: Array(text.utf8)) }

    /// The tokenizer's definition from this vocabulary, the merges and the added tokens. Added tokens
    /// get ids as Hugging Face gives them: the id of the same text in the vocabulary (or of an earlier
    /// added token), else the next free id from the vocabulary's size; a tokenizer.json whose listed id
    /// differs is refused.
    func definition(merges: [(String, String)], mergesReader: TokenizerFileReader, mergesPath: (Int) -> KeyPath,
                    options: BPEOptions, addedTokens: [(AddedToken, KeyPath)],
                    reader: TokenizerFileReader) throws(TokenizerError) -> BPETokenizer.Definition {
        var tokensByBytes = ByteStringTable(capacity: count)
        for (id, text) in texts {
            if let bytes = ByteLevel.bytes(spelledBy: text) { tokensByBytes.set(id, for: bytes) }
        }
        let byteTokens = (0..<256).map { byte in id(of: ByteLevel.spelling(of: [UInt8(byte)])) ?? -1 }

        var pairs = PairTable(capacity: merges.count)
        for (rank, (left, right)) in merges.enumerated() {
            func lookup(_ text: String) throws(TokenizerError) -> Int32 {
                guard let id = id(of: text) else {
                    throw mergesReader.fail(mergesPath(rank), "\"\(text)\" is not in the vocabulary")
                }
                return id
            }
            pairs.set(try lookup(left), try lookup(right), rank: UInt32(rank), merged: try lookup(left + right))
        }

        var unknown: Int32?
        if let name = options.unknownToken {
            guard let id = id(of: name) else {
                throw reader.fail(KeyPath().appending("model").appending("unk_token"), "\"\(name)\" is not in the vocabulary")
            }
            unknown = id
        }

        // Added tokens, numbered as Hugging Face numbers them.
        var nextID = Int32(count)
        var added: [AddedToken] = []
        for (token, path) in addedTokens where !token.content.isEmpty {
            let existing = added.last { $0.content.unicodeScalars.elementsEqual(token.content.unicodeScalars) }?.id ?? id(of: token.content)
            let assigned: Int32
            if let existing {
                assigned = existing
            } else {
                assigned = nextID
                nextID += 1
            }
            guard assigned == token.id else {
                throw reader.fail(path.appending("id"), "is \(token.id), but the token \"\(token.content)\" gets id \(assigned) "
                                  + "(its id in the vocabulary, else the next after the vocabulary and earlier added tokens)")
            }
            var entry = token
            entry.id = assigned
            added.removeAll { $0.content.unicodeScalars.elementsEqual(token.content.unicodeScalars) }
            added.append(entry)
        }

        let size = Int(max(texts.keys.max() ?? -1, added.map(\.id).max() ?? -1)) + 1
        var tokenTexts = [String?](repeating: nil, count: size)
        for (id, text) in texts { tokenTexts[Int(id)] = text }
        for token in added where tokenTexts[Int(token.id)] == nil { tokenTexts[Int(token.id)] = token.content }

        let model = BPEModel(tokensByBytes: tokensByBytes, byteTokens: byteTokens, merges: pairs,
                             ignoreMerges: options.ignoreMerges, unknown: unknown, fuseUnknown: options.fuseUnknown)
        return BPETokenizer.Definition(model: model, tokenTexts: tokenTexts, addedTokens: added, normalizer: nil,
                                       preTokenizer: PreTokenizer(steps: [], byteLevel: ByteLevelSettings(addPrefixSpace: false, useRegex: true)),
                                       byteLevelDecoder: true)
    }
}
