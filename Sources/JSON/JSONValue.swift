// A strict JSON parser (RFC 8259) for untrusted text: a line of a JSONL dataset, a safetensors header,
// a config.json or tokenizer.json. Its errors say the line, the column and what was expected
// ("expected ',' or '}' after a value").
//
// Why not Foundation: JSONSerialization accepts invalid JSON (a trailing comma), silently keeps one of
// two values of a repeated key, cannot tell `true` from `1` or `1` from `1.0` (all NSNumber), and says
// only "Invalid value around character 5". A user fixing line 17 of a dataset deserves better, a
// file format whose keys name tensors must refuse a key given twice, and the parser is small.

/// A parsed JSON value. Objects keep their members in order, keys exactly as written; a lookup finds
/// the last value of a repeated key (as Python's `json` does) unless the options refuse repeated keys.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// What it is, for messages: "a string", "a number", "null", ...
    public var kind: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// Parses `bytes` as exactly one JSON value with optional surrounding whitespace. Strings must
    /// be valid UTF-8 (outside strings only ASCII is valid JSON).
    public static func parse(_ bytes: ArraySlice<UInt8>, options: JSONParseOptions = JSONParseOptions())
        throws(JSONSyntaxError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, options: options)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.endIndex else {
            throw parser.failure("unexpected text after the JSON value")
        }
        return value
    }

    public static func parse(_ bytes: [UInt8], options: JSONParseOptions = JSONParseOptions()) throws(JSONSyntaxError) -> JSONValue {
        try parse(bytes[...], options: options)
    }

    // MARK: Reading values

    /// The members of an object, or nil.
    public var object: JSONObject? { if case .object(let members) = self { members } else { nil } }
    public var array: [JSONValue]? { if case .array(let elements) = self { elements } else { nil } }
    public var string: String? { if case .string(let text) = self { text } else { nil } }
    public var bool: Bool? { if case .bool(let flag) = self { flag } else { nil } }
    public var number: Double? { if case .number(let value) = self { value } else { nil } }
    public var isNull: Bool { self == .null }

    /// A number that is a whole value exactly representable as a Double and an Int (|x| ≤ 2⁵³), or nil:
    /// `3` and `3.0` give 3, `3.5`, `1e300` and non-numbers give nil.
    public var integer: Int? {
        guard case .number(let value) = self, value.rounded() == value, abs(value) <= 9_007_199_254_740_992 else { return nil }
        return Int(value)
    }
}

/// A JSON object: its members in file order, each key exactly as written. Keys compare by their
/// Unicode scalars, never by `String ==`, which calls canonically equivalent strings equal: a
/// tokenizer's vocabulary may hold both `é` (U+00E9) and `e` + U+0301 as different tokens.
public struct JSONObject: Equatable, Sendable, Sequence {
    public typealias Element = (key: String, value: JSONValue)

    public private(set) var members: [Element]

    public init(_ members: [Element] = []) { self.members = members }

    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }
    /// The keys in file order (a repeated key appears each time).
    public var keys: [String] { members.map(\.key) }

    public func makeIterator() -> IndexingIterator<[Element]> { members.makeIterator() }

    /// The value of the last member named exactly `key`, or nil.
    public subscript(key: String) -> JSONValue? {
        members.last { Self.sameKey($0.key, key) }?.value
    }

    public mutating func append(_ key: String, _ value: JSONValue) { members.append((key, value)) }

    /// The members as a dictionary, the last value of a repeated key winning. Keys that are only
    /// canonically equivalent collapse here: use the members where they must stay apart.
    public var dictionary: [String: JSONValue] {
        Dictionary(members.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    static func sameKey(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }

    public static func == (l: JSONObject, r: JSONObject) -> Bool {
        l.members.count == r.members.count
            && zip(l.members, r.members).allSatisfy { sameKey($0.key, $1.key) && $0.value == $1.value }
    }
}

/// How strict to be beyond RFC 8259.
public struct JSONParseOptions: Sendable {
    /// Refuse an object that names a key twice (RFC 8259 leaves it to the reader; Python keeps the last).
    public var refuseDuplicateKeys = false
    /// How messages call the end of the input: "the end of the line" for a JSONL line.
    public var endOfInput = "the end of the line"

    public init(refuseDuplicateKeys: Bool = false, endOfInput: String = "the end of the line") {
        self.refuseDuplicateKeys = refuseDuplicateKeys
        self.endOfInput = endOfInput
    }
}

/// Where and why a text is not JSON. `line` counts lines from 1; `column` counts characters (Unicode
/// scalars) from 1 within the line.
public struct JSONSyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var reason: String

    /// `line 3, column 7: expected ...`
    public var description: String { "line \(line), column \(column): \(reason)" }
}

/// A recursive-descent parser over the bytes of one line.
private struct JSONParser {
    let bytes: ArraySlice<UInt8>
    let options: JSONParseOptions
    var index: Int

    /// Nesting deeper than this is refused rather than risking the stack on a hostile line.
    static let maximumDepth = 256

    init(bytes: ArraySlice<UInt8>, options: JSONParseOptions) {
        self.bytes = bytes
        self.options = options
        index = bytes.startIndex
    }

    var current: UInt8? { index < bytes.endIndex ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
    }

    func failure(_ reason: String) -> JSONSyntaxError {
        // Columns count scalars: every byte that is not a UTF-8 continuation byte (10xxxxxx) starts one.
        let before = bytes[bytes.startIndex..<min(index, bytes.endIndex)]
        let lineStart = (before.lastIndex(of: 0x0A).map { $0 + 1 }) ?? bytes.startIndex
        let line = before.reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
        let column = bytes[lineStart..<before.endIndex].reduce(1) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
        return JSONSyntaxError(line: line, column: column, reason: reason)
    }

    /// The current byte for a message: `'x'`, or a description when it is not printable.
    var found: String {
        guard let byte = current else { return options.endOfInput }
        if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return byte < 0x80 ? "a control character" : "a non-ASCII character"
    }

    mutating func expect(_ byte: UInt8, _ reason: String) throws(JSONSyntaxError) {
        guard current == byte else { throw failure("\(reason), found \(found)") }
        index += 1
    }

    mutating func parseValue(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth < Self.maximumDepth else { throw failure("nested more than \(Self.maximumDepth) levels deep") }
        guard let byte = current else { throw failure("expected a value, found \(options.endOfInput)") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try parseLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try parseLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try parseLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw failure("expected a value, found \(found)")
        }
    }

    mutating func parseObject(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        var members = JSONObject()
        var seen: Set<[UInt8]> = []  // the keys' bytes, when repeated keys are refused
        try parseElements(closedBy: "}") { parser throws(JSONSyntaxError) in
            guard parser.current == UInt8(ascii: "\"") else {
                throw parser.failure("expected a key in double quotes, found \(parser.found)")
            }
            let keyStart = parser.index
            let key = try parser.parseString()
            if parser.options.refuseDuplicateKeys && !seen.insert(Array(key.utf8)).inserted {
                parser.index = keyStart
                throw parser.failure("the key \"\(key)\" appears twice in one object")
            }
            parser.skipWhitespace()
            try parser.expect(UInt8(ascii: ":"), "expected ':' after the key")
            parser.skipWhitespace()
            members.append(key, try parser.parseValue(depth: depth + 1))
        }
        return .object(members)
    }

    mutating func parseArray(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        var elements: [JSONValue] = []
        try parseElements(closedBy: "]") { parser throws(JSONSyntaxError) in
            elements.append(try parser.parseValue(depth: depth + 1))
        }
        return .array(elements)
    }

    /// The comma-separated elements of an object or array, from its opening bracket (the current byte)
    /// through `close`; `element` parses one element (a member "key": value, or a value).
    mutating func parseElements(closedBy close: Unicode.Scalar,
                                _ element: (inout JSONParser) throws(JSONSyntaxError) -> Void) throws(JSONSyntaxError) {
        let closing = UInt8(ascii: close)
        index += 1  // the opening bracket
        skipWhitespace()
        if current == closing {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            try element(&self)
            skipWhitespace()
            if current == closing {
                index += 1
                return
            }
            try expect(UInt8(ascii: ","), "expected ',' or '\(close)' after a value")
        }
    }

    /// `true`, `false` or `null`; a misspelling is reported from its start: "expected null, found 'nul'".
    mutating func parseLiteral(_ word: String) throws(JSONSyntaxError) {
        let start = index
        var end = start
        while end < bytes.endIndex, (0x61...0x7A).contains(bytes[end] | 0x20) { end += 1 }
        let letters = String(decoding: bytes[start..<end], as: UTF8.self)
        guard letters == word else { throw failure("expected \(word), found '\(letters)'") }
        index = end
    }

    /// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?, then converted by the standard library.
    mutating func parseNumber() throws(JSONSyntaxError) -> Double {
        let start = index
        func isDigit(_ byte: UInt8?) -> Bool { byte.map { (0x30...0x39).contains($0) } ?? false }
        func digits(_ parser: inout JSONParser, _ what: String) throws(JSONSyntaxError) {
            guard isDigit(parser.current) else { throw parser.failure("expected a digit \(what), found \(parser.found)") }
            while isDigit(parser.current) { parser.index += 1 }
        }
        if current == UInt8(ascii: "-") { index += 1 }
        if current == UInt8(ascii: "0") {
            index += 1
        } else {
            try digits(&self, "in the number")
        }
        if current == UInt8(ascii: ".") {
            index += 1
            try digits(&self, "after the decimal point")
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            try digits(&self, "in the exponent")
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            index = start
            throw failure("the number \(text) is out of range")
        }
        return value
    }

    /// A string in double quotes with its escapes, including UTF-16 surrogate pairs (`\ud83d\ude00`).
    mutating func parseString() throws(JSONSyntaxError) -> String {
        index += 1  // "
        var utf8: [UInt8] = []
        while true {
            guard let byte = current else { throw failure("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: utf8, as: UTF8.self) else {
                    throw failure("invalid UTF-8 in a string")
                }
                index += 1
                return text
            case UInt8(ascii: "\\"):
                index += 1
                try parseEscape(into: &utf8)
            case ..<0x20:
                throw failure("control character in a string (write it as an escape such as \\n or \\t)")
            default:
                utf8.append(byte)
                index += 1
            }
        }
    }

    mutating func parseEscape(into utf8: inout [UInt8]) throws(JSONSyntaxError) {
        guard let byte = current else { throw failure("unterminated string") }
        let replacement: UInt8? = switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): byte
        case UInt8(ascii: "b"): 0x08
        case UInt8(ascii: "f"): 0x0C
        case UInt8(ascii: "n"): 0x0A
        case UInt8(ascii: "r"): 0x0D
        case UInt8(ascii: "t"): 0x09
        default: nil
        }
        if let replacement {
            utf8.append(replacement)
            index += 1
            return
        }
        guard byte == UInt8(ascii: "u") else { throw failure("invalid escape \\\(found.trimmingQuotes)") }
        let escapeStart = index - 1
        index += 1
        var scalar = try parseHex4()
        if (0xD800..<0xDC00).contains(scalar) {
            // A high surrogate must be followed by \u and a low surrogate.
            guard current == UInt8(ascii: "\\"), bytes.index(after: index) < bytes.endIndex,
                  bytes[index + 1] == UInt8(ascii: "u") else {
                index = escapeStart
                throw failure("\\u escape of a lone UTF-16 high surrogate")
            }
            index += 2
            let low = try parseHex4()
            guard (0xDC00..<0xE000).contains(low) else {
                index = escapeStart
                throw failure("\\u escape of a high surrogate not followed by a low one")
            }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
        } else if (0xDC00..<0xE000).contains(scalar) {
            index = escapeStart
            throw failure("\\u escape of a lone UTF-16 low surrogate")
        }
        utf8.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
    }

    mutating func parseHex4() throws(JSONSyntaxError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = current, let digit = hexDigitValue(byte) else {
                throw failure("expected 4 hexadecimal digits after \\u, found \(found)")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    func hexDigitValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

private extension String {
    /// `'x'` → `x` (for "invalid escape \x").
    var trimmingQuotes: String {
        hasPrefix("'") && hasSuffix("'") && count == 3 ? String(dropFirst().dropLast()) : self
    }
}

// MARK: - Writing

extension JSONValue {
    /// Compact JSON text: no spaces, members in order, strings escaped as RFC 8259 requires (control
    /// characters, `"` and `\`; everything else, `/` and non-ASCII included, as is). Whole numbers
    /// below 10¹⁵ are written without a fraction.
    public var serialized: String {
        var text = ""
        write(to: &text)
        return text
    }

    func write(to text: inout String) {
        switch self {
        case .null: text += "null"
        case .bool(let flag): text += flag ? "true" : "false"
        case .number(let number):
            text += number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : "\(number)"
        case .string(let string): JSONValue.quote(string, into: &text)
        case .array(let elements):
            text += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { text += "," }
                element.write(to: &text)
            }
            text += "]"
        case .object(let object):
            text += "{"
            for (index, member) in object.members.enumerated() {
                if index > 0 { text += "," }
                JSONValue.quote(member.key, into: &text)
                text += ":"
                member.value.write(to: &text)
            }
            text += "}"
        }
    }

    /// `string` as a JSON string literal.
    static func quote(_ string: String, into text: inout String) {
        text += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
