// The few protocol-buffer messages of a TensorBoard event file, encoded and decoded by hand
// (tensorflow/core/util/event.proto and framework/summary.proto; field numbers below):
//
//   Event       { double wall_time = 1; int64 step = 2; string file_version = 3;
//                 Summary summary = 5; SessionLog session_log = 7; }
//   Summary     { repeated Value value = 1; }
//   Value       { string tag = 1; float simple_value = 2; }
//   SessionLog  { SessionStatus status = 1; }           START = 1
//
// Wire format: each field is a key varint (field << 3 | wire type) then its value — varint (0),
// little-endian 8 bytes (1), length-prefixed bytes (2) or little-endian 4 bytes (5). Fields equal to
// their proto3 default (0, "") are omitted, as protobuf's own serializers do (but simple_value, a
// member of Value's oneof, is always written: a 0 must read back as set), so our bytes equal
// theirs (the tests hold golden encodings made by Python's protobuf).
//
// Why not swift-protobuf: these 6 fields are ~80 lines both ways, while the generated code for
// event.proto and summary.proto pulls in TensorFlow's tensor, shape and type protos and the
// SwiftProtobuf runtime into every build; TensorBoard's own reader checks our files in CI.

/// One record of an event file.
public struct Event: Equatable, Sendable {
    public enum Content: Equatable, Sendable {
        /// The first event of a file: "brain.Event:2".
        case fileVersion(String)
        /// Scalars (`Summary.Value.simple_value`) by tag.
        case scalars([(tag: String, value: Float)])
        /// A (re)start at `step`: TensorBoard drops what it loaded earlier with a step ≥ this one.
        case sessionStart

        public static func == (l: Content, r: Content) -> Bool {
            switch (l, r) {
            case let (.fileVersion(a), .fileVersion(b)): return a == b
            case let (.scalars(a), .scalars(b)):
                return a.map(\.tag) == b.map(\.tag) && a.map { $0.value.bitPattern } == b.map { $0.value.bitPattern }
            case (.sessionStart, .sessionStart): return true
            default: return false
            }
        }
    }

    public var wallTime: Double
    public var step: Int64
    public var content: Content

    public init(wallTime: Double, step: Int64, content: Content) {
        self.wallTime = wallTime; self.step = step; self.content = content
    }

    // MARK: Encoding

    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        if wallTime != 0 { out.key(1, .fixed64); out.fixed64(wallTime.bitPattern) }
        if step != 0 { out.key(2, .varint); out.varint(UInt64(bitPattern: step)) }
        switch content {
        case .fileVersion(let version):
            out.key(3, .bytes); out.lengthPrefixed(Array(version.utf8))
        case .scalars(let values):
            var summary: [UInt8] = []
            for (tag, value) in values {
                var entry: [UInt8] = []
                if !tag.isEmpty { entry.key(1, .bytes); entry.lengthPrefixed(Array(tag.utf8)) }
                entry.key(2, .fixed32); entry.fixed32(value.bitPattern)   // in a oneof: written even when 0
                summary.key(1, .bytes); summary.lengthPrefixed(entry)
            }
            out.key(5, .bytes); out.lengthPrefixed(summary)
        case .sessionStart:
            var log: [UInt8] = []
            log.key(1, .varint); log.varint(1)
            out.key(7, .bytes); out.lengthPrefixed(log)
        }
        return out
    }

    // MARK: Decoding (our own files on resume, and tests)

    /// Decodes an Event holding one of the contents above; nil for anything else or bad bytes.
    public init?(decoding bytes: [UInt8]) {
        guard let fields = ProtoFields.parse(bytes[...]) else { return nil }
        var wallTime = 0.0, step: Int64 = 0, content: Content?
        for field in fields {
            switch (field.number, field.value) {
            case (1, .fixed64(let bits)): wallTime = Double(bitPattern: bits)
            case (2, .varint(let v)): step = Int64(bitPattern: v)
            case (3, .bytes(let b)): content = .fileVersion(String(decoding: b, as: UTF8.self))
            case (5, .bytes(let b)):
                guard let values = ProtoFields.parse(b) else { return nil }
                var scalars: [(tag: String, value: Float)] = []
                for case (1, .bytes(let entry)) in values.map({ ($0.number, $0.value) }) {
                    guard let parts = ProtoFields.parse(entry) else { return nil }
                    var tag = "", value: Float = 0
                    for part in parts {
                        if case (1, .bytes(let t)) = (part.number, part.value) { tag = String(decoding: t, as: UTF8.self) }
                        if case (2, .fixed32(let bits)) = (part.number, part.value) { value = Float(bitPattern: bits) }
                    }
                    scalars.append((tag, value))
                }
                content = .scalars(scalars)
            case (7, .bytes): content = .sessionStart
            default: continue
            }
        }
        guard let content else { return nil }
        self.init(wallTime: wallTime, step: step, content: content)
    }
}

/// The fields of one message, without knowing its schema.
enum ProtoFields {
    enum WireType: UInt8 { case varint = 0, fixed64 = 1, bytes = 2, fixed32 = 5 }
    enum Value { case varint(UInt64), fixed64(UInt64), bytes(ArraySlice<UInt8>), fixed32(UInt32) }

    static func parse(_ bytes: ArraySlice<UInt8>) -> [(number: Int, value: Value)]? {
        var i = bytes.startIndex, fields: [(Int, Value)] = []
        func varint() -> UInt64? {
            var result: UInt64 = 0, shift: UInt64 = 0
            while i < bytes.endIndex, shift < 64 {
                let byte = bytes[i]; i += 1
                result |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
            }
            return nil
        }
        func fixed(_ count: Int) -> UInt64? {
            guard bytes.endIndex - i >= count else { return nil }
            defer { i += count }
            return (0..<count).reduce(0) { $0 | UInt64(bytes[i + $1]) << (8 * UInt64($1)) }
        }
        while i < bytes.endIndex {
            guard let key = varint(), let type = WireType(rawValue: UInt8(key & 7)), key >> 3 > 0 else { return nil }
            let number = Int(key >> 3)
            switch type {
            case .varint: guard let v = varint() else { return nil }; fields.append((number, .varint(v)))
            case .fixed64: guard let v = fixed(8) else { return nil }; fields.append((number, .fixed64(v)))
            case .fixed32: guard let v = fixed(4) else { return nil }; fields.append((number, .fixed32(UInt32(v))))
            case .bytes:
                guard let n = varint(), n <= UInt64(bytes.endIndex - i) else { return nil }
                fields.append((number, .bytes(bytes[i..<i + Int(n)])))
                i += Int(n)
            }
        }
        return fields
    }
}

extension [UInt8] {
    fileprivate mutating func key(_ field: Int, _ type: ProtoFields.WireType) { varint(UInt64(field << 3) | UInt64(type.rawValue)) }

    fileprivate mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 { append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        append(UInt8(v))
    }

    fileprivate mutating func fixed64(_ v: UInt64) { for k in 0..<8 { append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) } }
    fileprivate mutating func fixed32(_ v: UInt32) { for k in 0..<4 { append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(k)))) } }

    fileprivate mutating func lengthPrefixed(_ bytes: [UInt8]) {
        varint(UInt64(bytes.count))
        append(contentsOf: bytes)
    }
}
