// The manifest loader on arbitrary text: YAML parsing (Yams), the structural check, decoding, path
// resolution and validation. Paths resolve under a folder that does not exist, and data files are
// only looked for, not read, so the fuzzer never touches real files. Any ManifestError is fine.

import Foundation
import Jobs

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManifest(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? ManifestLoader.load(yaml: text, file: "fuzz.yaml", folder: "/nonexistent-fuzz-folder",
                                 currentDirectory: "/nonexistent-fuzz-folder", prepareDemoData: false, readData: false)
    return 0
}
