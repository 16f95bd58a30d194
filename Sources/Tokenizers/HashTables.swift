// Two open-addressing hash tables for the encode path, where Swift's `Dictionary` would cost an
// allocation per lookup (its keys must be values, and our keys are slices of the text being encoded)
// plus SipHash:
//
//   ByteStringTable   byte string → Int32 (vocabularies by spelling or by bytes; the BPE cache)
//   PairTable         (id, id) → (rank, merged id): the merges
//
// Both use linear probing in a power-of-two array kept at most half full, and a multiplicative hash.

/// The hash of a byte string: 8 bytes at a time, multiply and fold.
@inline(__always)
func hashBytes(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
    var hash: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(bytes.count)
    var i = 0
    let raw = UnsafeRawBufferPointer(bytes)
    while i + 8 <= bytes.count {
        hash = (hash ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
        hash ^= hash >> 32
        i += 8
    }
    var tail: UInt64 = 0
    var shift: UInt64 = 0
    while i < bytes.count {
        tail |= UInt64(bytes[i]) << shift
        shift += 8
        i += 1
    }
    hash = (hash ^ tail) &* 0xC4CE_B9FE_1A85_EC53
    return hash ^ (hash >> 29)
}

/// A map from byte strings to Int32, keys stored end to end in one array.
struct ByteStringTable: Sendable {
    private struct Slot: Sendable {
        var offset: UInt32 = 0
        var length: UInt32 = 0
        var value: Int32 = 0
        var used = false
    }

    private var slots: [Slot]
    private var keys: [UInt8] = []
    private(set) var count = 0

    init(capacity: Int = 16) {
        var size = 16
        while size < 2 * capacity { size <<= 1 }
        slots = Array(repeating: Slot(), count: size)
    }

    /// The value stored for `key`, or nil.
    func value(for key: UnsafeBufferPointer<UInt8>) -> Int32? {
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: hashBytes(key)) & mask
        return keys.withUnsafeBufferPointer { stored in
            while slots[index].used {
                let slot = slots[index]
                if Int(slot.length) == key.count
                    && (key.isEmpty || memcmpEqual(stored.baseAddress! + Int(slot.offset), key.baseAddress!, key.count)) {
                    return slot.value
                }
                index = (index + 1) & mask
            }
            return nil
        }
    }

    func value(for key: [UInt8]) -> Int32? { key.withUnsafeBufferPointer { value(for: $0) } }

    /// Stores `value` for `key`; returns the value it replaces, if any.
    @discardableResult
    mutating func set(_ value: Int32, for key: UnsafeBufferPointer<UInt8>) -> Int32? {
        if 2 * (count + 1) > slots.count { grow() }
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: hashBytes(key)) & mask
        while slots[index].used {
            let slot = slots[index]
            if Int(slot.length) == key.count && keys[Int(slot.offset)..<Int(slot.offset + slot.length)].elementsEqual(key) {
                slots[index].value = value
                return slot.value
            }
            index = (index + 1) & mask
        }
        slots[index] = Slot(offset: UInt32(keys.count), length: UInt32(key.count), value: value, used: true)
        keys.append(contentsOf: key)
        count += 1
        return nil
    }

    @discardableResult
    mutating func set(_ value: Int32, for key: [UInt8]) -> Int32? { key.withUnsafeBufferPointer { set(value, for: $0) } }

    /// Empties the table, keeping its capacity.
    mutating func removeAll() {
        for i in slots.indices { slots[i].used = false }
        keys.removeAll(keepingCapacity: true)
        count = 0
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: Slot(), count: old.count * 2)
        let mask = slots.count - 1
        keys.withUnsafeBufferPointer { stored in
            for slot in old where slot.used {
                let key = UnsafeBufferPointer(rebasing: stored[Int(slot.offset)..<Int(slot.offset + slot.length)])
                var index = Int(truncatingIfNeeded: hashBytes(key)) & mask
                while slots[index].used { index = (index + 1) & mask }
                slots[index] = slot
            }
        }
    }
}

@inline(__always)
private func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    var i = 0
    while i + 8 <= count {
        if UnsafeRawPointer(a + i).loadUnaligned(as: UInt64.self) != UnsafeRawPointer(b + i).loadUnaligned(as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < count {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}

/// The merges: the pair (left id, right id) → its rank (0 = merged first) and the merged token's id.
struct PairTable: Sendable {
    private var keys: [UInt64]    // left << 32 | right, or `empty`
    private var values: [UInt64]  // rank << 32 | merged id
    private(set) var count = 0
    private static let empty = UInt64.max

    init(capacity: Int) {
        var size = 16
        while size < 2 * capacity { size <<= 1 }
        keys = Array(repeating: Self.empty, count: size)
        values = Array(repeating: 0, count: size)
    }

    @inline(__always)
    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    private func slot(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 20) & (keys.count - 1)
    }

    /// The rank and merged id of the pair, or nil when the pair never merges.
    @inline(__always)
    func merge(_ left: Int32, _ right: Int32) -> (rank: UInt32, merged: Int32)? {
        let key = Self.key(left, right)
        let mask = keys.count - 1
        var index = slot(key)
        while true {
            let stored = keys[index]
            if stored == key {
                let value = values[index]
                return (UInt32(truncatingIfNeeded: value >> 32), Int32(bitPattern: UInt32(truncatingIfNeeded: value)))
            }
            if stored == Self.empty { return nil }
            index = (index + 1) & mask
        }
    }

    /// Sets the pair's rank and merged id (a pair listed twice keeps its later entry, as in Hugging Face).
    mutating func set(_ left: Int32, _ right: Int32, rank: UInt32, merged: Int32) {
        let key = Self.key(left, right)
        let mask = keys.count - 1
        var index = slot(key)
        while keys[index] != Self.empty && keys[index] != key { index = (index + 1) & mask }
        if keys[index] == Self.empty { count += 1 }
        keys[index] = key
        values[index] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged))
    }
}
