// The pre-tokenizer regexes of GPT-2, Llama 3 and Qwen2, as hand-written scanners over UTF-8.
//
// A regex engine spends most of an encode here; a scanner that knows the one pattern it implements
// is several times faster. Each scanner returns, for a start position, the end of the match the regex
// (Oniguruma: leftmost alternative that matches, greedy quantifiers, backtracking) finds there. Every
// scalar is a letter, a number, a space or "other", so every position starts a match: the matches
// tile the text.
//
// GPT-2 (also ByteLevel's built-in regex, used by SmolLM2):
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Llama 3 (cl100k):
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// Qwen2: Llama 3's with \p{N} in place of \p{N}{1,3}.
//
// What backtracking does to the whitespace alternatives:
//   \s+(?!\S)   a run of spaces followed by a non-space gives back its last scalar (which then starts the
//               next match, e.g. " word"); a run at the end of the text is taken whole; a single space
//               before a non-space fails here and is taken by \s+.
//   \s*[\r\n]+  matches through the last \r or \n of the run of spaces that starts here.
// Case-insensitive contractions also match `ſ` (U+017F), which folds to `s`.

/// A Split regex we implement, recognised by its exact text in tokenizer.json.
enum SplitRegex: String, Sendable, CaseIterable {
    case gpt2 = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    case llama3 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    case qwen2 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// Who uses it, for messages and docs.
    var users: String {
        switch self {
        case .gpt2: "GPT-2, SmolLM2"
        case .llama3: "Llama 3"
        case .qwen2: "Qwen2, Qwen2.5"
        }
    }
}

/// Finds the matches of one `SplitRegex` in a piece of valid UTF-8.
struct RegexScanner {
    let regex: SplitRegex
    let text: UnsafeBufferPointer<UInt8>
    /// `RegexClass` bits of the Basic Multilingual Plane.
    let classes: UnsafeBufferPointer<UInt8>

    /// The class of the scalar at `index`, with its length in bytes.
    @inline(__always)
    func scalar(at index: Int) -> (value: UInt32, cls: UInt8, length: Int) {
        let (value, length) = UTF8Scalars.decode(text, at: index)
        let cls = value < 0x10000 ? classes[Int(value)] : UnicodeClasses.regexClass(value)
        return (value, cls, length)
    }

    /// The end of the run of scalars of class `cls` (any bit of it) starting at `index`.
    @inline(__always)
    func run(of cls: UInt8, from index: Int, to end: Int) -> Int {
        var i = index
        while i < end {
            // ASCII letters and digits are most runs: test them without a table lookup.
            let byte = text[i]
            if byte < 0x80 {
                guard classes[Int(byte)] & cls != 0 else { return i }
                i += 1
            } else {
                let next = scalar(at: i)
                guard next.cls & cls != 0 else { return i }
                i += next.length
            }
        }
        return i
    }

    /// Calls `body(start, end)` for each match in `range`, in order; the matches tile the range.
    func forEachMatch(in range: Range<Int>, _ body: (Int, Int) -> Void) {
        var start = range.lowerBound
        while start < range.upperBound {
            let end = matchEnd(from: start, to: range.upperBound)
            body(start, end)
            start = end
        }
    }

    /// The end of the match starting at `i` (< `end`).
    func matchEnd(from i: Int, to end: Int) -> Int {
        let first = scalar(at: i)
        if first.value == 0x27, let contraction = contractionEnd(after: i + 1, to: end) { return contraction }
        switch regex {
        case .gpt2:
            // ` ?\p{L}+ | ?\p{N}+ | ?[^\s\p{L}\p{N}]+`: an optional space, then a run of one class.
            var start = i, cls = first.cls
            if first.value == 0x20, i + 1 < end {
                let next = scalar(at: i + 1)
                if next.cls & RegexClass.space == 0 { start = i + 1; cls = next.cls }
            }
            if cls & RegexClass.space == 0 { return run(of: cls, from: start, to: end) }
            return whitespaceEnd(from: i, to: end)
        case .llama3, .qwen2:
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if first.cls & RegexClass.letter != 0 { return run(of: RegexClass.letter, from: i, to: end) }
            let second = i + first.length < end ? scalar(at: i + first.length) : nil
            if first.cls & (RegexClass.newline | RegexClass.number) == 0,
               let second, second.cls & RegexClass.letter != 0 {
                return run(of: RegexClass.letter, from: i + first.length, to: end)
            }
            // \p{N}{1,3} or \p{N}
            if first.cls & RegexClass.number != 0 {
                var j = i + first.length
                if regex == .llama3 {
                    for _ in 0..<2 where j < end {
                        let next = scalar(at: j)
                        guard next.cls & RegexClass.number != 0 else { break }
                        j += next.length
                    }
                }
                return j
            }
            //  ?[^\s\p{L}\p{N}]+[\r\n]*
            var start = -1
            if first.cls & RegexClass.other != 0 {
                start = i
            } else if first.value == 0x20, let second, second.cls & RegexClass.other != 0 {
                start = i + 1
            }
            if start >= 0 {
                let others = run(of: RegexClass.other, from: start, to: end)
                return run(of: RegexClass.newline, from: others, to: end)
            }
            // \s*[\r\n]+: through the last newline of the run of spaces.
            let spaces = run(of: RegexClass.space, from: i, to: end)
            var last = spaces - 1
            while last >= i, text[last] != 0x0A, text[last] != 0x0D { last -= 1 }
            if last >= i { return last + 1 }
            return whitespaceEnd(from: i, to: end)
        }
    }

    /// `\s+(?!\S)|\s+` at `i`, a space.
    @inline(__always)
    func whitespaceEnd(from i: Int, to end: Int) -> Int {
        let spaces = run(of: RegexClass.space, from: i, to: end)
        if spaces == end { return spaces }
        let lastStart = UTF8Scalars.start(before: spaces, in: text)
        return lastStart > i ? lastStart : spaces
    }

    /// The end of `s|t|re|ve|m|ll|d` right after an apostrophe (case-insensitive for Llama 3 and Qwen2),
    /// or nil.
    @inline(__always)
    func contractionEnd(after i: Int, to end: Int) -> Int? {
        guard i < end else { return nil }
        let ignoreCase = regex != .gpt2
        func letter(at j: Int) -> UInt8? {
            guard j < end else { return nil }
            let byte = text[j]
            if byte < 0x80 { return ignoreCase ? byte | 0x20 : byte }
            // ſ (U+017F, C5 BF) folds to s.
            if ignoreCase, byte == 0xC5, j + 1 < end, text[j + 1] == 0xBF { return 0xFF }
            return nil
        }
        guard let c = letter(at: i) else { return nil }
        switch c {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"): return i + 1
        case 0xFF: return i + 2
        case UInt8(ascii: "r"), UInt8(ascii: "v"): return letter(at: i + 1) == UInt8(ascii: "e") ? i + 2 : nil
        case UInt8(ascii: "l"): return letter(at: i + 1) == UInt8(ascii: "l") ? i + 2 : nil
        default: return nil
        }
    }
}
