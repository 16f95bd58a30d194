// Writing a safetensors file: the header (tensors in the order given, data packed back to back with
// no gap, padded with spaces so the data starts 8-byte aligned, as Hugging Face's writer does), then
// each tensor's bytes converted from Float through a small buffer. The file is fsynced before
// `write` returns; making it appear atomically (a temporary name, then rename) is the caller's part.

/// A tensor to write: row-major Float values and their shape.
public struct SafeTensorsItem: Sendable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]

    public init(name: String, shape: [Int], values: [Float]) {
        precondition(values.count == shape.reduce(1, *), "\(name): \(values.count) values for shape \(shape)")
        self.name = name
        self.shape = shape
        self.values = values
    }
}

public enum SafeTensorsWriter {
    /// The element types a file can be written in.
    public enum OutputType: String, CaseIterable, Sendable {
        case f32 = "F32"
        /// bfloat16, rounded to nearest even.
        case bf16 = "BF16"

        var dtype: SafeTensorsDType { self == .f32 ? .f32 : .bf16 }
    }

    /// The header's bytes (8-byte length + JSON + padding) for `items` in `type`.
    public static func header(_ items: [SafeTensorsItem], type: OutputType, metadata: [String: String]?) -> [UInt8] {
        var json = "{"
        var members: [String] = []
        if let metadata {
            let pairs = metadata.keys.sorted().map { "\(quoted($0)):\(quoted(metadata[$0]!))" }
            members.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        for item in items {
            let bytes = item.values.count * type.dtype.size
            let shape = item.shape.map(String.init).joined(separator: ",")
            members.append("\(quoted(item.name)):{\"dtype\":\"\(type.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        json += members.joined(separator: ",") + "}"
        var text = Array(json.utf8)
        while (8 + text.count) % 8 != 0 { text.append(0x20) }
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(text.count) >> (8 * UInt64($0))) }
        bytes += text
        return bytes
    }

    /// Writes `items` to `path` (created or truncated) and fsyncs it.
    public static func write(_ items: [SafeTensorsItem], to path: String, type: OutputType = .f32,
                             metadata: [String: String]? = ["format": "pt"]) throws(SafeTensorsError) {
        let names = Set(items.map(\.name))
        precondition(names.count == items.count, "a tensor name is given twice")
        let file = try FileDescriptor(creating: path)
        let head = header(items, type: type, metadata: metadata)
        try file.write(head)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        let perChunk = buffer.count / type.dtype.size
        for item in items {
            for start in stride(from: 0, to: item.values.count, by: perChunk) {
                let count = min(perChunk, item.values.count - start)
                buffer.withUnsafeMutableBytes { raw in
                    for i in 0..<count {
                        let value = item.values[start + i]
                        switch type {
                        case .f32: raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                        case .bf16: raw.storeBytes(of: bfloat16Bits(value).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                        }
                    }
                }
                try file.write(buffer, count: count * type.dtype.size)
            }
        }
        try file.sync()
    }

    /// A Float rounded to the nearest bfloat16 (ties to even), as PyTorch's `.to(torch.bfloat16)` does.
    public static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x40 }
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }

    /// A JSON string literal.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
