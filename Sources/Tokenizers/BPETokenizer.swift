// A byte-level BPE tokenizer as Hugging Face `tokenizers` runs one (its `Tokenizer::encode`):
//
//   text ──added tokens (raw)──► plain runs ──normalizer──► ──added tokens (normalized)──►
//        ──pre-tokenizer──► pieces ──BPE (cached)──► ids ──post-processor──► prefix ids suffix
//
// and back: ids ──► each token's bytes (the ByteLevel decoder) ──► UTF-8, invalid bytes as U+FFFD.
// Loaded from tokenizer.json (TokenizerJSON.swift) or GPT-2's vocab.json + merges.txt.
// Everything but the encode cache is immutable; the cache sits behind a lock.

import Synchronization

public final class BPETokenizer: Tokenizer {
    /// Everything a tokenizer file defines.
    struct Definition: Sendable {
        var model: BPEModel
        /// id → the token's text as the vocabulary spells it (for display and export).
        var tokenTexts: [String?]
        var addedTokens: [AddedToken]
        var normalizer: Normalizer?
        var preTokenizer: PreTokenizer
        var prefix: [Int32] = []
        var suffix: [Int32] = []
        /// Whether the decoder is ByteLevel (else tokens are joined with spaces, as Hugging Face does
        /// with no decoder).
        var byteLevelDecoder: Bool
    }

    let definition: Definition
    public let special: SpecialTokens?
    public let vocabularySize: Int
    public var sequencePrefix: [Int32] { definition.prefix }
    public var sequenceSuffix: [Int32] { definition.suffix }

    /// Added tokens found in the raw text, and in the normalized text.
    private let rawMatcher: AddedTokenMatcher
    private let normalizedMatcher: AddedTokenMatcher
    /// id → what the decoder makes of it: the bytes, and whether skipping special tokens drops it.
    private let decodedBytes: [[UInt8]?]
    private let skippedWhenSpecial: [Bool]
    private let state = Mutex(EncoderState())

    /// Words already encoded, and buffers reused between encodes.
    struct EncoderState: ~Copyable {
        var cache = ByteStringTable(capacity: 1 << 15)
        var cachedTokens: [Int32] = []
        var scratch = BPEScratch()
    }

    /// Pieces up to this many bytes are cached; the cache is emptied when it reaches `cacheLimit` entries.
    static let cachedPieceLength = 256
    static let cacheLimit = 1 << 16

    init(_ definition: Definition, special: SpecialTokens? = nil) {
        self.definition = definition
        self.special = special
        let ids = definition.tokenTexts.indices
        vocabularySize = definition.tokenTexts.count
        // What each id decodes to. Added tokens decode from their normalized spelling (Hugging Face's
        // `simple_id_to_token`), through the same ByteLevel rule as vocabulary entries.
        var texts = definition.tokenTexts
        var skipped = [Bool](repeating: false, count: ids.count)
        var specialContents: [String] = []
        for token in definition.addedTokens {
            let spelling = token.normalized ? (definition.normalizer?.normalize(token.content) ?? token.content) : token.content
            texts[Int(token.id)] = spelling
            if token.special { specialContents.append(token.content) }
        }
        for id in ids {
            // Hugging Face skips an id whose text equals a special token's content.
            if let text = texts[id] { skipped[id] = specialContents.contains { $0.unicodeScalars.elementsEqual(text.unicodeScalars) } }
        }
        decodedBytes = texts.map { text in
            text.map { definition.byteLevelDecoder ? ByteLevel.decodedBytes(of: $0) : Array($0.utf8) }
        }
        skippedWhenSpecial = skipped

        let raw = definition.addedTokens.filter { !$0.normalized }
        let normalized = definition.addedTokens.filter { $0.normalized }
        rawMatcher = AddedTokenMatcher(tokens: raw, patterns: raw.map { Array($0.content.utf8) })
        normalizedMatcher = AddedTokenMatcher(tokens: normalized, patterns: normalized.map {
            Array((definition.normalizer?.normalize($0.content) ?? $0.content).utf8)
        })
    }

    /// The same tokenizer with the special ids a model directory declares.
    public func with(special: SpecialTokens?) -> BPETokenizer { BPETokenizer(definition, special: special) }

    /// The added tokens, as tokenizer.json lists them.
    public var addedTokens: [AddedToken] { definition.addedTokens }

    /// The id of a token by its text (`<|im_end|>`, `Ġthe`), or nil.
    public func id(of text: String) -> Int32? {
        if let added = definition.addedTokens.last(where: { $0.content.unicodeScalars.elementsEqual(text.unicodeScalars) }) {
            return added.id
        }
        return definition.tokenTexts.firstIndex { $0?.unicodeScalars.elementsEqual(text.unicodeScalars) == true }.map(Int32.init)
    }

    // MARK: Encoding

    public func encode(_ text: String) -> [Int32] {
        var text = text
        return text.withUTF8 { encode(utf8: $0) }
    }

    /// The ids of valid UTF-8 text.
    func encode(utf8 text: UnsafeBufferPointer<UInt8>) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(text.count / 3)
        state.withLock { state in
            forEachPiece(of: text) { piece, token in
                if let token { return out.append(token.id) }
                encodeWord(piece, into: &out, state: &state)
            }
        }
        return out
    }

    /// The pieces BPE sees (and the added tokens, as their text), in order: where the tokenizer cuts
    /// `text` before merging. For checking the pre-tokenizer against Hugging Face's.
    public func preTokenize(_ text: String) -> [String] {
        var text = text
        var pieces: [String] = []
        text.withUTF8 { bytes in
            forEachPiece(of: bytes) { piece, token in pieces.append(token?.content ?? String(decoding: piece, as: UTF8.self)) }
        }
        return pieces
    }

    /// Calls `body` with each added token (and its text) and each pre-tokenized piece of `text`, in order.
    private func forEachPiece(of text: UnsafeBufferPointer<UInt8>,
                              _ body: (UnsafeBufferPointer<UInt8>, AddedToken?) -> Void) {
        UnicodeClasses.basicPlaneRegexClasses.withUnsafeBufferPointer { classes in
            // Added tokens in the normalized text, then the pieces between them.
            func splitNormalized(_ run: UnsafeBufferPointer<UInt8>) {
                normalizedMatcher.split(run) { piece, token in
                    if token != nil { return body(piece, token) }
                    definition.preTokenizer.forEachPiece(of: piece, classes: classes) { body($0, nil) }
                }
            }
            rawMatcher.split(text) { run, token in
                if token != nil { return body(run, token) }
                if let normalizer = definition.normalizer {
                    normalizer.withNormalized(run) { splitNormalized($0) }
                } else {
                    splitNormalized(run)
                }
            }
        }
    }

    /// Empties the word cache (benchmarks of cold encoding).
    public func clearCache() {
        state.withLock { state in
            state.cache.removeAll()
            state.cachedTokens.removeAll(keepingCapacity: true)
        }
    }

    /// BPE on one piece, through the cache.
    private func encodeWord(_ word: UnsafeBufferPointer<UInt8>, into out: inout [Int32], state: inout EncoderState) {
        if let entry = state.cache.value(for: word) {
            // The entry packs where the word's tokens start in `cachedTokens` and how many there are.
            let start = Int(entry >> 8), count = Int(entry & 0xFF)
            out.append(contentsOf: state.cachedTokens[start..<(start + count)])
            return
        }
        let before = out.count
        definition.model.encode(word, into: &out, scratch: &state.scratch)
        let count = out.count - before
        guard word.count <= Self.cachedPieceLength, count < 256 else { return }
        if state.cache.count >= Self.cacheLimit || state.cachedTokens.count + count >= Int(Int32.max >> 8) {
            state.cache.removeAll()
            state.cachedTokens.removeAll(keepingCapacity: true)
        }
        state.cache.set(Int32(state.cachedTokens.count << 8 | count), for: word)
        state.cachedTokens.append(contentsOf: out[before...])
    }

    // MARK: Decoding

    public func decode(_ tokens: [Int32], skipSpecialTokens: Bool) -> String {
        if !definition.byteLevelDecoder {
            // No decoder: the tokens' texts joined by spaces (Hugging Face's fallback).
            return tokens.compactMap { id -> String? in
                guard id >= 0, Int(id) < vocabularySize, let bytes = decodedBytes[Int(id)],
                      !(skipSpecialTokens && skippedWhenSpecial[Int(id)]) else { return nil }
                return String(decoding: bytes, as: UTF8.self)
            }.joined(separator: " ")
        }
        var bytes: [UInt8] = []
        for id in tokens where id >= 0 && Int(id) < vocabularySize {
            guard let token = decodedBytes[Int(id)], !(skipSpecialTokens && skippedWhenSpecial[Int(id)]) else { continue }
            bytes.append(contentsOf: token)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func isSpecial(_ token: Int32) -> Bool {
        token >= 0 && Int(token) < vocabularySize && skippedWhenSpecial[Int(token)]
    }

    public func textOfSpecialToken(_ token: Int32) -> String? {
        definition.addedTokens.last { $0.id == token }?.content
    }

    public func tokenText(_ token: Int32) -> String? {
        guard token >= 0, Int(token) < vocabularySize else { return nil }
        return definition.tokenTexts[Int(token)]
    }
}
