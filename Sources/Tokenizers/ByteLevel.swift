// GPT-2's byte-level alphabet: each of the 256 byte values stands for one printable Unicode scalar, so
// a vocabulary file can spell any byte string as text. Printable Latin-1 bytes stand for themselves
// (`!`…`~`, `¡`…`¬`, `®`…`ÿ`); the other 68 bytes take U+0100, U+0101, … in byte order, which is why
// a space (0x20) is written `Ġ` (U+0120) and a newline (0x0A) `Ċ` (U+010A).
//
// Vocabularies spell tokens in this alphabet; we encode and merge raw bytes, and translate only when
// reading a vocabulary (text → bytes) or showing a token (bytes → text).

enum ByteLevel {
    /// The scalar value that stands for each byte.
    static let scalarOfByte: [UInt32] = {
        var printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var table = [UInt32](repeating: 0, count: 256)
        for byte in printable { table[byte] = UInt32(byte) }
        var next: UInt32 = 0x100
        for byte in 0..<256 where !printable.contains(byte) {
            table[byte] = next
            next += 1
            printable.append(byte)
        }
        return table
    }()

    /// The byte each alphabet scalar stands for, by scalar value (0 ..< 0x144); -1 outside the alphabet.
    static let byteOfScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (byte, scalar) in scalarOfByte.enumerated() { table[Int(scalar)] = Int16(byte) }
        return table
    }()

    /// The bytes `token` spells, or nil when it has a scalar outside the alphabet (such a token, e.g.
    /// `<|im start|>` with its space, stands for its own UTF-8 bytes when decoded).
    static func bytes(spelledBy token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.utf8.count)
        for scalar in token.unicodeScalars {
            guard scalar.value < 0x144, case let byte = byteOfScalar[Int(scalar.value)], byte >= 0 else { return nil }
            bytes.append(UInt8(byte))
        }
        return bytes
    }

    /// `bytes` spelled in the alphabet (`Ġthe` for " the").
    static func spelling(of bytes: some Sequence<UInt8>) -> String {
        var text = String.UnicodeScalarView()
        for byte in bytes { text.append(Unicode.Scalar(scalarOfByte[Int(byte)])!) }
        return String(text)
    }

    /// What Hugging Face's ByteLevel decoder makes of one token's text: the bytes it spells, or its own
    /// UTF-8 when it is not spelled in the alphabet.
    static func decodedBytes(of token: String) -> [UInt8] {
        bytes(spelledBy: token) ?? Array(token.utf8)
    }
}
