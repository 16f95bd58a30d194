// Inputs the fuzzers found (docs/fuzzing.md), kept in Regressions/ with the outcome each must have:
// `hdf5-*.h5` made libhdf5 crash or corrupt its heap when parsed in-process (found by the `hdf5`
// target under AddressSanitizer); `rlhf inspect` must exit 2 with one line naming the file, because
// such a file is only ever parsed in a child process.

import Foundation
import Testing

@Suite struct FuzzRegressionTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Regressions")

    static var hdf5Crashes: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasPrefix("hdf5-") }.sorted()
    }

    @Test func theFuzzersFindingsAreKept() {
        #expect(!Self.hdf5Crashes.isEmpty, "no libhdf5 crash input in \(Self.folder.path)")
    }

    @Test(arguments: hdf5Crashes) func aFileThatCrashesLibHDF5IsRefusedWithOneLine(_ name: String) throws {
        let file = Self.folder.appendingPathComponent(name).path
        let result = try rlhf("inspect", file)
        #expect(result.status == 2, "\(name): exit \(result.status)\n\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1 && result.stderr.hasPrefix("error: \(file): "), "\(result.stderr)")
    }
}
