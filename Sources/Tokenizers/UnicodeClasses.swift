// The Unicode character classes the pre-tokenizers test, each as the engine Hugging Face `tokenizers`
// uses defines it, so that our hand-written scanners split exactly where its regexes do:
//
//   class          used by                        defined as (tokenizers 0.23)
//   \p{L}          Split regexes, ByteLevel       general category L*, Unicode 16.0 (Oniguruma's tables)
//   \p{N}          Split regexes, ByteLevel       general category N*, Unicode 16.0
//   \s             Split regexes, ByteLevel       White_Space, Unicode 16.0
//   numeric        Digits                         general category N*, Rust's `char::is_numeric`
//                                                 (the Unicode version of Rust's standard library)
//   whitespace     added tokens' lstrip/rstrip    White_Space (Rust `regex`'s `\s`)
//   word           added tokens' single_word      Alphabetic, M*, Nd, Pc, Join_Control (Rust `regex`'s `\w`)
//
// Swift carries Unicode 17.0 data, newer than Oniguruma's 16.0: a scalar first assigned after 16.0 is
// unassigned to the regexes (neither letter, number nor space), as it is to Hugging Face. Test:
// ci/check_tokenizers.py compares every scalar's class with `tokenizers`.

/// Bits of a scalar's class for the Split regexes.
enum RegexClass {
    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    static let space: UInt8 = 4
    /// `\r` or `\n` (also `space`).
    static let newline: UInt8 = 8
    /// Neither letter, number nor space: `[^\s\p{L}\p{N}]`.
    static let other: UInt8 = 16
}

enum UnicodeClasses {
    /// The Unicode version of the regex engine's tables (Oniguruma in tokenizers 0.23).
    static let regexUnicodeVersion = (major: 16, minor: 0)

    /// `RegexClass` bits of every scalar of the Basic Multilingual Plane (built on first use, ~2 ms).
    static let basicPlaneRegexClasses: [UInt8] = (0..<0x10000).map { regexClass(computing: UInt32($0)) }

    /// The `RegexClass` bits of a scalar value.
    static func regexClass(_ value: UInt32) -> UInt8 {
        value < 0x10000 ? basicPlaneRegexClasses[Int(value)] : regexClass(computing: value)
    }

    static func regexClass(computing value: UInt32) -> UInt8 {
        guard let scalar = Unicode.Scalar(value) else { return RegexClass.other }  // a surrogate value
        let properties = scalar.properties
        if let age = properties.age, (age.major, age.minor) > regexUnicodeVersion { return RegexClass.other }
        if value == 0x0A || value == 0x0D { return RegexClass.space | RegexClass.newline }
        if properties.isWhitespace { return RegexClass.space }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return RegexClass.letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return RegexClass.number
        default:
            return RegexClass.other
        }
    }

    /// Rust's `char::is_numeric`: general category Nd, Nl or No (the Digits pre-tokenizer).
    static func isNumeric(_ value: UInt32) -> Bool {
        if value < 0x80 { return value >= 0x30 && value <= 0x39 }
        guard let scalar = Unicode.Scalar(value) else { return false }
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// White_Space (Rust `regex`'s `\s`, used by added tokens' lstrip and rstrip).
    static func isWhitespace(_ value: UInt32) -> Bool {
        Unicode.Scalar(value)?.properties.isWhitespace ?? false
    }

    /// Rust `regex`'s `\w`: Alphabetic, a mark, a decimal digit, a connector punctuation or Join_Control
    /// (used by added tokens' single_word).
    static func isWordCharacter(_ value: UInt32) -> Bool {
        guard let scalar = Unicode.Scalar(value) else { return false }
        let properties = scalar.properties
        if properties.isAlphabetic || properties.isJoinControl { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}

/// Reading scalars out of valid UTF-8.
enum UTF8Scalars {
    /// The scalar starting at `index` of valid UTF-8 and its length in bytes.
    @inline(__always)
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (value: UInt32, length: Int) {
        let b0 = UInt32(bytes[index])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(bytes[index + 1] & 0x3F), 2) }
        if b0 < 0xF0 {
            return ((b0 & 0x0F) << 12 | UInt32(bytes[index + 1] & 0x3F) << 6 | UInt32(bytes[index + 2] & 0x3F), 3)
        }
        return ((b0 & 0x07) << 18 | UInt32(bytes[index + 1] & 0x3F) << 12 | UInt32(bytes[index + 2] & 0x3F) << 6
                | UInt32(bytes[index + 3] & 0x3F), 4)
    }

    /// The start of the scalar that ends just before `index` (which must be past the first scalar).
    @inline(__always)
    static func start(before index: Int, in bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var start = index - 1
        while bytes[start] & 0xC0 == 0x80 { start -= 1 }
        return start
    }
}
