// CRC-32C through the C target CChecksum (hardware `crc32` on x86-64, tables elsewhere). Hand-written
// because no maintained Swift package on hand has it: swift-crypto offers SHA-2 (3–5× slower than
// the file read it would guard), zlib's CRC-32 is another polynomial and not in any module here, and
// ZIPFoundation's CRC-32 is a byte-at-a-time table. Measured figures: docs/performance.md.

import CChecksum

enum CRC32C {
    /// CRC-32C of `bytes`, continuing from `crc` (0 to start).
    static func of(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
        return cchecksum_crc32c(crc, base, bytes.count)
    }

    /// CRC-32C of a tensor's values as stored: float32, little-endian.
    static func of(_ values: [Float]) -> UInt32 {
        #if _endian(little)
        return values.withUnsafeBytes { of($0) }
        #else
        return values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { of($0) }
        #endif
    }

    /// Eight lowercase hexadecimal digits.
    static func hex(_ crc: UInt32) -> String {
        let digits = String(crc, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// The value of eight hexadecimal digits, or nil.
    static func parse(_ text: String) -> UInt32? {
        guard text.utf8.count == 8, text.utf8.allSatisfy({ ("0"..."9").contains(Character(UnicodeScalar($0))) || ("a"..."f").contains(Character(UnicodeScalar($0))) }) else { return nil }
        return UInt32(text, radix: 16)
    }
}
