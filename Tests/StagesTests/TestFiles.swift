// Temporary files for the tests: each test writes into its own folder, so suites run in parallel.

import Foundation

enum TestFiles {
    /// A new empty folder under the system's temporary directory.
    static func folder() -> String {
        let path = NSTemporaryDirectory() + "swift-rlhf-tests-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Writes `bytes` to a new file and returns its path.
    static func write(_ bytes: [UInt8], name: String = "data.jsonl") -> String {
        let path = folder() + "/" + name
        try! Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func write(_ text: String, name: String = "data.jsonl") -> String {
        write(Array(text.utf8), name: name)
    }
}
