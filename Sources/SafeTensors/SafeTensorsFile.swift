// Reading a safetensors file: the header is read and verified when the file is opened (nothing else
// is read then); each tensor is read on request, straight from its byte range into Float values
// through a small fixed buffer, so loading a model never holds more than the tensors asked for plus
// 1 MiB — not a second copy of the file. Every system call goes through FileCalls.swift.
//
// Element conversion (all little-endian, as the format stores them):
//   F32   the bits as they are
//   BF16  the 16 high bits of a Float: exact
//   F16   IEEE half → Float: exact
// A NaN or infinity in a tensor is refused, naming the tensor: no model weight is ever non-finite,
// and one would only surface later as a diverged loss.

/// An open safetensors file with a verified header. Not thread-safe.
public final class SafeTensorsFile {
    /// The path as given (messages use it).
    public let path: String
    public let header: SafeTensorsHeader
    public let size: Int
    private let descriptor: FileDescriptor

    /// Opens `path` and verifies its header against the file's size.
    public init(path: String) throws(SafeTensorsError) {
        self.path = path
        descriptor = try FileDescriptor(reading: path)
        size = try descriptor.size()
        let prefix = try descriptor.read(count: min(8, size), at: 0)
        let n = try SafeTensorsHeader.headerLength(prefix[...], fileSize: size, file: path)
        let bytes = prefix + (try descriptor.read(count: n, at: 8))
        header = try SafeTensorsHeader.parse(bytes, fileSize: size, file: path)
    }

    public var names: [String] { header.names }
    public subscript(name: String) -> SafeTensorsEntry? { header[name] }
    public var metadata: [String: String]? { header.metadata }

    /// The tensor's values as Float, row-major. Throws for an unknown name, a dtype other than F32,
    /// BF16 or F16, a short read (the file shrank since it was opened) or a non-finite value.
    public func floats(_ name: String) throws(SafeTensorsError) -> [Float] {
        guard let entry = header[name] else { throw SafeTensorsError(file: path, tensor: name, "is not in the file") }
        return try [Float](unsafeUninitializedCapacity: entry.count) { buffer, initialized throws(SafeTensorsError) in
            try read(entry, into: buffer)
            initialized = entry.count
        }
    }

    /// Reads the tensor into `destination` (exactly its element count).
    public func read(_ entry: SafeTensorsEntry, into destination: UnsafeMutableBufferPointer<Float>) throws(SafeTensorsError) {
        precondition(destination.count == entry.count, "\(entry.name): \(destination.count) slots for \(entry.count) values")
        guard entry.dtype.isReadableAsFloat else {
            throw SafeTensorsError(file: path, tensor: entry.name,
                                   "has dtype \(entry.dtype.rawValue); only \(SafeTensorsDType.floatNames) tensors can be loaded as model weights")
        }
        let chunkBytes = 1 << 20
        let elementSize = entry.dtype.size
        var buffer = [UInt8](repeating: 0, count: min(chunkBytes, max(entry.range.count, 1)))
        var done = 0  // elements converted
        while done < entry.count {
            let count = min(entry.count - done, chunkBytes / elementSize)
            let offset = header.dataStart + entry.range.lowerBound + done * elementSize
            let got = try descriptor.read(into: &buffer, count: count * elementSize, at: offset)
            guard got == count * elementSize else {
                throw SafeTensorsError(file: path, tensor: entry.name, "truncated: the file ends at byte \(offset + got), inside the tensor")
            }
            let out = destination.baseAddress! + done
            buffer.withUnsafeBytes { raw in
                switch entry.dtype {
                case .f32:
                    for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
                case .bf16:
                    for i in 0..<count { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
                case .f16:
                    for i in 0..<count { out[i] = Float(halfBits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
                default:
                    preconditionFailure("checked above")
                }
            }
            if let bad = (0..<count).first(where: { !out[$0].isFinite }) {
                throw SafeTensorsError(file: path, tensor: entry.name, "holds a non-finite value (\(out[bad])) at element \(done + bad)")
            }
            done += count
        }
    }
}

extension Float {
    /// An IEEE 754 binary16 value, exactly (every half is a Float). Written out rather than through
    /// `Float16`, which Swift does not offer on every platform (macOS on Intel).
    init(halfBits bits: UInt16) {
        let sign = UInt32(bits >> 15) << 31
        let exponent = Int(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0x1F:  // infinity or NaN
            self.init(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        case 0:     // zero or subnormal: mantissa · 2⁻²⁴
            let magnitude = Float(mantissa) * 0x1p-24
            self = sign == 0 ? magnitude : -magnitude
        default:    // rebias 15 → 127
            self.init(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
        }
    }
}
