// Pre-tokenization: cutting normalized text into the pieces ("words") BPE merges within, as Hugging
// Face's pre-tokenizers do. We support the ones byte-level BPE models use:
//
//   Split      a regex (GPT-2's, Llama 3's or Qwen2's, see SplitPatterns.swift) or a literal string,
//              with a delimiter behavior and `invert`
//   Digits     numbers apart from the rest; each digit alone with `individual_digits` (SmolLM2)
//   ByteLevel  optionally a space before each piece (`add_prefix_space`), optionally GPT-2's regex
//              (`use_regex`), then the byte-level alphabet; it must come last
//   Sequence   the above in order
//
// A piece is a range of bytes; each step cuts the pieces of the step before. Pieces are never empty.

/// What a Split does with the matches of its pattern (Hugging Face's `SplitDelimiterBehavior`).
enum SplitBehavior: String, Sendable, CaseIterable {
    /// Each match is a piece; the text between matches too.
    case isolated = "Isolated"
    /// Matches are dropped; the text between them stays.
    case removed = "Removed"
    /// Each match joins the piece before it.
    case mergedWithPrevious = "MergedWithPrevious"
    /// Each match joins the piece after it.
    case mergedWithNext = "MergedWithNext"
    /// Adjacent matches join into one piece.
    case contiguous = "Contiguous"
}

/// What a Split looks for.
enum SplitPattern: Sendable, Equatable {
    case regex(SplitRegex)
    /// A literal string (tokenizer.json's `{"String": "..."}`), never empty.
    case string([UInt8])
}

/// One pre-tokenization step before ByteLevel.
enum PreTokenizerStep: Sendable, Equatable {
    case split(SplitPattern, SplitBehavior, invert: Bool)
    case digits(individual: Bool)
}

/// The ByteLevel step's settings.
struct ByteLevelSettings: Sendable, Equatable {
    var addPrefixSpace: Bool
    var useRegex: Bool
}

/// A chain of pre-tokenization steps ending with ByteLevel.
struct PreTokenizer: Sendable {
    var steps: [PreTokenizerStep]
    var byteLevel: ByteLevelSettings

    /// Calls `body` with each piece of `text`, in order. `text` is valid UTF-8.
    func forEachPiece(of text: UnsafeBufferPointer<UInt8>, classes: UnsafeBufferPointer<UInt8>,
                      _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        guard !text.isEmpty else { return }
        cut(text, from: 0, classes: classes, body)
    }

    /// Applies step `index` (or ByteLevel past the last step) to `piece`.
    private func cut(_ piece: UnsafeBufferPointer<UInt8>, from index: Int, classes: UnsafeBufferPointer<UInt8>,
                     _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        guard index < steps.count else {
            byteLevelPieces(piece, classes: classes, body)
            return
        }
        let next = { (sub: UnsafeBufferPointer<UInt8>) in self.cut(sub, from: index + 1, classes: classes, body) }
        switch steps[index] {
        case let .split(pattern, behavior, invert):
            let matches = Self.matches(of: pattern, in: piece, classes: classes)
            Self.split(piece, matches: matches, behavior: behavior, invert: invert, next)
        case .digits(let individual):
            Self.split(piece, matches: Self.numericScalars(in: piece), behavior: individual ? .isolated : .contiguous,
                       invert: false, next)
        }
    }

    private func byteLevelPieces(_ piece: UnsafeBufferPointer<UInt8>, classes: UnsafeBufferPointer<UInt8>,
                                 _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        func scan(_ text: UnsafeBufferPointer<UInt8>) {
            guard byteLevel.useRegex else { return body(text) }
            RegexScanner(regex: .gpt2, text: text, classes: classes).forEachMatch(in: 0..<text.count) { start, end in
                body(UnsafeBufferPointer(rebasing: text[start..<end]))
            }
        }
        if byteLevel.addPrefixSpace && piece.first != 0x20 {
            var spaced = [UInt8](repeating: 0x20, count: piece.count + 1)
            for (i, byte) in piece.enumerated() { spaced[i + 1] = byte }
            spaced.withUnsafeBufferPointer { scan($0) }
        } else {
            scan(piece)
        }
    }

    // MARK: Matching and splitting

    /// The ranges where `pattern` matches in `text`, in order, not overlapping.
    static func matches(of pattern: SplitPattern, in text: UnsafeBufferPointer<UInt8>,
                        classes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var found: [Range<Int>] = []
        switch pattern {
        case .regex(let regex):
            RegexScanner(regex: regex, text: text, classes: classes).forEachMatch(in: 0..<text.count) { found.append($0..<$1) }
        case .string(let literal):
            var i = 0
            while i + literal.count <= text.count {
                if text[i] == literal[0] && literal.indices.allSatisfy({ text[i + $0] == literal[$0] }) {
                    found.append(i..<(i + literal.count))
                    i += literal.count
                } else {
                    i += 1
                }
            }
        }
        return found
    }

    /// Each numeric scalar (Rust's `char::is_numeric`) as a match of its own.
    static func numericScalars(in text: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var found: [Range<Int>] = []
        var i = 0
        while i < text.count {
            let (value, length) = UTF8Scalars.decode(text, at: i)
            if UnicodeClasses.isNumeric(value) { found.append(i..<(i + length)) }
            i += length
        }
        return found
    }

    /// Cuts `text` at `matches` as Hugging Face's `NormalizedString::split` does: the matches and the
    /// gaps between them, flagged, then joined or dropped by `behavior`; empty pieces are dropped.
    static func split(_ text: UnsafeBufferPointer<UInt8>, matches: [Range<Int>], behavior: SplitBehavior,
                      invert: Bool, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        // The whole text as (range, isMatch) segments.
        var segments: [(range: Range<Int>, isMatch: Bool)] = []
        var previous = 0
        for match in matches {
            if previous < match.lowerBound { segments.append((previous..<match.lowerBound, invert)) }
            segments.append((match, !invert))
            previous = match.upperBound
        }
        if previous < text.count { segments.append((previous..<text.count, invert)) }

        var pieces: [Range<Int>] = []
        switch behavior {
        case .isolated:
            pieces = segments.map(\.range)
        case .removed:
            pieces = segments.filter { !$0.isMatch }.map(\.range)
        case .contiguous:
            var previousMatch = false
            for segment in segments {
                if segment.isMatch == previousMatch, let last = pieces.popLast() {
                    pieces.append(last.lowerBound..<segment.range.upperBound)
                } else {
                    pieces.append(segment.range)
                }
                previousMatch = segment.isMatch
            }
        case .mergedWithPrevious:
            var previousMatch = false
            for segment in segments {
                if segment.isMatch && !previousMatch, let last = pieces.popLast() {
                    pieces.append(last.lowerBound..<segment.range.upperBound)
                } else {
                    pieces.append(segment.range)
                }
                previousMatch = segment.isMatch
            }
        case .mergedWithNext:
            var previousMatch = false
            for segment in segments.reversed() {
                if segment.isMatch && !previousMatch, let last = pieces.popLast() {
                    pieces.append(segment.range.lowerBound..<last.upperBound)
                } else {
                    pieces.append(segment.range)
                }
                previousMatch = segment.isMatch
            }
            pieces.reverse()
        }
        for piece in pieces where !piece.isEmpty { body(UnsafeBufferPointer(rebasing: text[piece])) }
    }
}
