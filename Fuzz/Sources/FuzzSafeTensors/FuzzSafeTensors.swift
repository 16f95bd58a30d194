// The safetensors header parser on arbitrary bytes: the 8-byte length, the JSON header (the strict
// JSON parser), every entry's dtype, shape and data offsets checked against the file's size. A
// header that parses must describe ranges inside the file, in order, sized by dtype and shape: checked
// here too.

import SafeTensors

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let header = try? SafeTensorsHeader.parse(bytes) else { return 0 }
    // Ranges are relative to the data section, in order, inside the file, without overlap.
    var end = 0
    for entry in header.entries {
        precondition(entry.range.lowerBound >= end && header.dataStart + entry.range.upperBound <= size,
                     "\(entry.name): \(entry.range) outside the data section or overlapping")
        precondition(entry.range.count == entry.count * entry.dtype.size, "\(entry.name): range and shape disagree")
        end = entry.range.upperBound
    }
    return 0
}
