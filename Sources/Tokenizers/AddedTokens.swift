// Added tokens (`<|endoftext|>`, `<|im_start|>`, `<|eot_id|>`): matched in the text before anything
// else, so that they become their one id whatever surrounds them. As in Hugging Face:
//
// - tokens with `normalized: false` are found in the raw text; the text between them is normalized,
//   and tokens with `normalized: true` are then found in that (in their normalized spelling);
// - the leftmost match wins, the longest of those starting there; the search goes on after its end;
// - `single_word`: a match touching a word character (`\w`) on either side is not a match;
// - `lstrip` / `rstrip`: the whitespace before / after a match belongs to the token (and disappears);
// - `special` tokens are skipped by `decode(skipSpecialTokens: true)`.

/// One entry of tokenizer.json's `added_tokens`.
public struct AddedToken: Equatable, Sendable {
    public var id: Int32
    public var content: String
    public var singleWord = false
    public var lstrip = false
    public var rstrip = false
    public var normalized = true
    public var special = false

    public init(id: Int32, content: String, singleWord: Bool = false, lstrip: Bool = false, rstrip: Bool = false,
                normalized: Bool = true, special: Bool = false) {
        self.id = id
        self.content = content
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
        self.special = special
    }
}

/// Finds a set of added tokens in text: a byte trie walked from each position.
struct AddedTokenMatcher: Sendable {
    /// The tokens this matcher finds, and the bytes each is found as.
    private let tokens: [AddedToken]
    /// Trie: node i's edges are `edgeBytes/edgeTargets[edgeStart[i] ..< edgeStart[i + 1]]`; `terminal[i]`
    /// is the index in `tokens` of the token ending there, or -1.
    private var edgeStart: [Int32] = []
    private var edgeBytes: [UInt8] = []
    private var edgeTargets: [Int32] = []
    private var terminal: [Int32] = []
    /// Whether some token starts with this byte.
    private var startsToken = [Bool](repeating: false, count: 256)

    var isEmpty: Bool { tokens.isEmpty }

    /// `patterns[i]` is the byte string `tokens[i]` is found as (never empty).
    init(tokens: [AddedToken], patterns: [[UInt8]]) {
        self.tokens = tokens
        // Build with dictionaries, then flatten.
        var children: [[UInt8: Int32]] = [[:]]
        var ends: [Int32] = [-1]
        for (index, pattern) in patterns.enumerated() {
            var node = 0
            for byte in pattern {
                if let child = children[node][byte] {
                    node = Int(child)
                } else {
                    children.append([:])
                    ends.append(-1)
                    children[node][byte] = Int32(children.count - 1)
                    node = children.count - 1
                }
            }
            // The same spelling twice: the later entry wins (Aho–Corasick built from a list keeps the last value).
            ends[node] = Int32(index)
            startsToken[Int(pattern[0])] = true
        }
        for node in children.indices {
            edgeStart.append(Int32(edgeBytes.count))
            for (byte, child) in children[node].sorted(by: { $0.key < $1.key }) {
                edgeBytes.append(byte)
                edgeTargets.append(child)
            }
        }
        edgeStart.append(Int32(edgeBytes.count))
        terminal = ends
    }

    /// The longest token starting at `start`: its end and index.
    private func longestMatch(in text: UnsafeBufferPointer<UInt8>, at start: Int) -> (end: Int, token: Int)? {
        var node = 0
        var best: (Int, Int)?
        var i = start
        while i < text.count {
            let byte = text[i]
            var child: Int32 = -1
            for edge in Int(edgeStart[node])..<Int(edgeStart[node + 1]) where edgeBytes[edge] == byte {
                child = edgeTargets[edge]
                break
            }
            guard child >= 0 else { break }
            node = Int(child)
            i += 1
            if terminal[node] >= 0 { best = (i, Int(terminal[node])) }
        }
        return best
    }

    /// Calls `body` for the pieces of `text` in order: runs of plain text (token nil) and matched tokens.
    func split(_ text: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>, AddedToken?) -> Void) {
        guard !tokens.isEmpty else {
            if !text.isEmpty { body(text, nil) }
            return
        }
        var plainStart = 0  // where the current run of plain text starts (Hugging Face's start_offset)
        var search = 0
        while search < text.count {
            guard startsToken[Int(text[search])], let (matchEnd, index) = longestMatch(in: text, at: search) else {
                search += 1
                continue
            }
            let token = tokens[index]
            var start = search, end = matchEnd
            search = matchEnd
            if token.singleWord {
                let wordBefore = start > 0 && UnicodeClasses.isWordCharacter(Self.scalar(before: start, in: text))
                let wordAfter = end < text.count && UnicodeClasses.isWordCharacter(UTF8Scalars.decode(text, at: end).value)
                if wordBefore || wordAfter { continue }
            }
            if token.lstrip {
                var spaceStart = start
                while spaceStart > 0, UnicodeClasses.isWhitespace(Self.scalar(before: spaceStart, in: text)) {
                    spaceStart = UTF8Scalars.start(before: spaceStart, in: text)
                }
                start = max(spaceStart, plainStart)
            }
            if token.rstrip {
                while end < text.count {
                    let (value, length) = UTF8Scalars.decode(text, at: end)
                    guard UnicodeClasses.isWhitespace(value) else { break }
                    end += length
                }
            }
            if plainStart < start { body(UnsafeBufferPointer(rebasing: text[plainStart..<start]), nil) }
            body(UnsafeBufferPointer(rebasing: text[start..<end]), token)
            plainStart = end
        }
        if plainStart < text.count { body(UnsafeBufferPointer(rebasing: text[plainStart...]), nil) }
    }

    private static func scalar(before index: Int, in text: UnsafeBufferPointer<UInt8>) -> UInt32 {
        UTF8Scalars.decode(text, at: UTF8Scalars.start(before: index, in: text)).value
    }
}
