// The safetensors format (Hugging Face's tensor file) and the verification of its header, which is
// untrusted input: everything a reader later relies on is checked here, before any tensor is read.
//
//   bytes 0..<8        N, the header's length, a little-endian UInt64 (at most 100 MB here)
//   bytes 8..<8+N      the header: a UTF-8 JSON object, optionally padded with spaces
//                        {"__metadata__": {"format": "pt"},            free-form string → string
//                         "NAME": {"dtype": "F32", "shape": [2, 3], "data_offsets": [BEGIN, END]}, ...}
//   bytes 8+N..<EOF    the data: each tensor's bytes, row-major, little-endian, at [BEGIN, END)
//                      relative to byte 8+N
//
// A valid header has: a known dtype for every tensor, shape × dtype size = END − BEGIN, and ranges
// that, sorted, tile the data exactly — the first starts at 0, each starts where the previous ended
// (no overlap, no hole) and the last ends at the end of the file (nothing truncated, nothing extra).
//
// `SafeTensorsHeader.parse` is a pure function from bytes to a header or an error, so that it can be
// fuzzed on its own.

import JSON

/// The element types the format defines, with their sizes. Only the floating-point ones a model's
/// weights come in (F32, BF16, F16) can be read as Float; the others are known so that a file holding
/// them (an integer buffer, say) can still be verified and its float tensors read.
public enum SafeTensorsDType: String, CaseIterable, Sendable {
    case f32 = "F32", bf16 = "BF16", f16 = "F16"
    case f64 = "F64", i64 = "I64", u64 = "U64", i32 = "I32", u32 = "U32", i16 = "I16", u16 = "U16"
    case i8 = "I8", u8 = "U8", bool = "BOOL", f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .bf16, .f16, .i16, .u16: 2
        case .i8, .u8, .bool, .f8e5m2, .f8e4m3: 1
        }
    }

    /// Whether `SafeTensorsFile.floats` converts it to Float.
    public var isReadableAsFloat: Bool { self == .f32 || self == .bf16 || self == .f16 }

    /// "F32, BF16 or F16", for messages.
    public static let floatNames = "F32, BF16 or F16"
}

/// One tensor as the header describes it.
public struct SafeTensorsEntry: Equatable, Sendable {
    public var name: String
    public var dtype: SafeTensorsDType
    public var shape: [Int]
    /// Byte range within the data section (relative to `SafeTensorsHeader.dataStart`).
    public var range: Range<Int>

    public var count: Int { shape.reduce(1, *) }
}

/// A verified header: every entry's bytes lie inside the file, with no overlap and no gap.
public struct SafeTensorsHeader: Equatable, Sendable {
    /// Headers longer than this are refused before any of it is read: a real header is a few hundred
    /// kilobytes; a huge length is a corrupt file or an attempt to exhaust memory.
    public static let maximumHeaderLength = 100_000_000

    /// The tensors in data order (by offset).
    public var entries: [SafeTensorsEntry]
    /// The `__metadata__` map, if the header has one.
    public var metadata: [String: String]?
    /// Where the data section starts in the file: 8 + N.
    public var dataStart: Int

    private var index: [String: Int]

    public init(entries: [SafeTensorsEntry], metadata: [String: String]?, dataStart: Int) {
        self.entries = entries
        self.metadata = metadata
        self.dataStart = dataStart
        index = Dictionary(entries.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public subscript(name: String) -> SafeTensorsEntry? { index[name].map { entries[$0] } }

    public var names: [String] { entries.map(\.name) }

    /// The length N stored in the first 8 bytes, checked against the limit and the file's size.
    /// `prefix` is the start of the file (at least 8 bytes unless the file is shorter).
    public static func headerLength(_ prefix: ArraySlice<UInt8>, fileSize: Int, file: String) throws(SafeTensorsError) -> Int {
        guard fileSize >= 8, prefix.count >= 8 else {
            throw SafeTensorsError(file: file, "truncated: \(fileSize) bytes, but a safetensors file starts with an 8-byte header length")
        }
        var length: UInt64 = 0
        for (shift, byte) in prefix.prefix(8).enumerated() { length |= UInt64(byte) << (8 * UInt64(shift)) }
        guard length <= UInt64(maximumHeaderLength) else {
            throw SafeTensorsError(file: file, "header length \(length) exceeds the limit of \(maximumHeaderLength) bytes "
                                   + "(not a safetensors file, or a damaged one)")
        }
        let n = Int(length)
        guard 8 + n <= fileSize else {
            throw SafeTensorsError(file: file, "truncated: the header is \(n) bytes but the file ends after \(fileSize - 8)")
        }
        return n
    }

    /// Parses and verifies a header. `bytes` is the start of the file and must hold at least the
    /// 8-byte length and the header itself; `fileSize` is the whole file's size (default:
    /// `bytes.count`, i.e. `bytes` is the whole file). Throws one error naming the file and the tensor
    /// or key at fault.
    public static func parse(_ bytes: [UInt8], fileSize: Int? = nil, file: String = "<bytes>") throws(SafeTensorsError) -> SafeTensorsHeader {
        let size = fileSize ?? bytes.count
        let n = try headerLength(bytes[...], fileSize: size, file: file)
        guard bytes.count >= 8 + n else {
            throw SafeTensorsError(file: file, "truncated: the header is \(n) bytes but only \(bytes.count - 8) were given")
        }
        let text = bytes[8..<(8 + n)]
        guard text.first == UInt8(ascii: "{") else {
            throw SafeTensorsError(file: file, "the header does not start with '{' (a JSON object)")
        }
        let json: JSONValue
        do throws(JSONSyntaxError) {
            json = try JSONValue.parse(text, options: JSONParseOptions(refuseDuplicateKeys: true, endOfInput: "the end of the header"))
        } catch {
            throw SafeTensorsError(file: file, "the header is not valid JSON: \(error)")
        }
        guard let members = json.object else { throw SafeTensorsError(file: file, "the header is not a JSON object") }

        var metadata: [String: String]?
        var entries: [SafeTensorsEntry] = []
        for key in members.keys.sorted() {
            let value = members[key]!
            if key == "__metadata__" {
                metadata = try parseMetadata(value, file: file)
            } else {
                entries.append(try parseEntry(key, value, file: file))
            }
        }
        entries = try checkLayout(entries, dataSize: size - 8 - n, file: file)
        return SafeTensorsHeader(entries: entries, metadata: metadata, dataStart: 8 + n)
    }

    private static func parseMetadata(_ value: JSONValue, file: String) throws(SafeTensorsError) -> [String: String] {
        guard let members = value.object else {
            throw SafeTensorsError(file: file, key: "__metadata__", "must be an object of strings, found \(value.kind)")
        }
        var metadata: [String: String] = [:]
        for (key, value) in members {
            guard let text = value.string else {
                throw SafeTensorsError(file: file, key: "__metadata__.\(key)", "must be a string, found \(value.kind)")
            }
            metadata[key] = text
        }
        return metadata
    }

    private static func parseEntry(_ name: String, _ value: JSONValue, file: String) throws(SafeTensorsError) -> SafeTensorsEntry {
        func fail(_ problem: String) -> SafeTensorsError { SafeTensorsError(file: file, tensor: name, problem) }
        guard let info = value.object else { throw fail("expected an object with dtype, shape and data_offsets, found \(value.kind)") }
        if let extra = info.keys.sorted().first(where: { !["dtype", "shape", "data_offsets"].contains($0) }) {
            throw fail("unknown key \"\(extra)\" (a tensor has dtype, shape and data_offsets)")
        }
        guard let dtypeName = info["dtype"]?.string else { throw fail("dtype is missing or not a string") }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw fail("unknown dtype \"\(dtypeName)\" (known: \(SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard let dims = info["shape"]?.array else { throw fail("shape is missing or not an array") }
        var shape: [Int] = []
        for dim in dims {
            guard let d = dim.integer, d >= 0 else { throw fail("shape must be non-negative integers, found \(dims.map(Self.text))") }
            shape.append(d)
        }
        guard let offsets = info["data_offsets"]?.array, offsets.count == 2,
              let begin = offsets[0].integer, let end = offsets[1].integer, begin >= 0, end >= begin else {
            throw fail("data_offsets must be [BEGIN, END] with 0 ≤ BEGIN ≤ END")
        }
        var bytes = dtype.size
        for d in shape {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: d)
            guard !overflow else { throw fail("shape \(shape) is too large") }
            bytes = product
        }
        guard bytes == end - begin else {
            throw fail("shape \(shape) of \(dtype.rawValue) needs \(bytes) bytes, but data_offsets [\(begin), \(end)] hold \(end - begin)")
        }
        return SafeTensorsEntry(name: name, dtype: dtype, shape: shape, range: begin..<end)
    }

    /// Sorts the entries by offset and checks that they tile `0..<dataSize` exactly.
    private static func checkLayout(_ entries: [SafeTensorsEntry], dataSize: Int, file: String) throws(SafeTensorsError) -> [SafeTensorsEntry] {
        let sorted = entries.sorted { ($0.range.lowerBound, $0.range.upperBound, $0.name) < ($1.range.lowerBound, $1.range.upperBound, $1.name) }
        var end = 0
        var previous: String?
        for entry in sorted {
            let begin = entry.range.lowerBound
            if begin < end {
                throw SafeTensorsError(file: file, tensor: entry.name,
                                       "data_offsets [\(begin), \(entry.range.upperBound)] overlap tensor \"\(previous!)\" (which ends at \(end))")
            }
            if begin > end {
                let after = previous.map { "after tensor \"\($0)\"" } ?? "at the start of the data"
                throw SafeTensorsError(file: file, tensor: entry.name,
                                       "data_offsets [\(begin), \(entry.range.upperBound)] leave a hole of \(begin - end) bytes \(after)")
            }
            if entry.range.upperBound > dataSize {
                throw SafeTensorsError(file: file, tensor: entry.name,
                                       "truncated: data_offsets [\(begin), \(entry.range.upperBound)] run past the end of the data (\(dataSize) bytes)")
            }
            end = entry.range.upperBound
            previous = entry.name
        }
        if end != dataSize {
            let after = previous.map { "after tensor \"\($0)\"" } ?? "in a file with no tensors"
            throw SafeTensorsError(file: file, "\(dataSize - end) bytes of data \(after) belong to no tensor")
        }
        return sorted
    }

    private static func text(_ value: JSONValue) -> String {
        switch value {
        case .number(let x): x.rounded() == x && abs(x) < 1e15 ? String(Int64(x)) : String(x)
        case .string(let s): "\"\(s)\""
        default: value.kind
        }
    }
}
