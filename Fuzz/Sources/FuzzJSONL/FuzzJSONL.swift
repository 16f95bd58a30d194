// The JSONL reader on arbitrary bytes, as each record type and with skip_bad_lines on and off. The
// first byte picks the combination. Any outcome but a crash is fine: a DataError is the reader's job.

import Stages

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONL(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let choice = data[0]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let skip = choice & 1 == 1
    switch (choice >> 1) % 3 {
    case 0: _ = try? Dataset<SFTRecord>(parsing: bytes, path: "fuzz.jsonl", skipBadLines: skip)
    case 1: _ = try? Dataset<PreferenceRecord>(parsing: bytes, path: "fuzz.jsonl", skipBadLines: skip)
    default: _ = try? Dataset<PromptRecord>(parsing: bytes, path: "fuzz.jsonl", skipBadLines: skip)
    }
    return 0
}
