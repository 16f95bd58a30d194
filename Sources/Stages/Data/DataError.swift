// The one error type of the data layer: what is wrong with a dataset file, said in one line that names
// the file, the line and the field, so that a user can open the file and fix it:
//
//   data/sft.jsonl:17: field "completion" is missing (expected a string)
//
// Line numbers count from 1 and include blank lines (what an editor shows).

public struct DataError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The path as the caller gave it.
    public var file: String
    /// 1-based line number, or nil when the problem is the whole file.
    public var line: Int?
    public var problem: Problem

    public enum Problem: Error, Equatable, Sendable {
        // The whole file.
        case noSuchFile
        case isDirectory
        case unreadable(reason: String)
        case emptyFile
        case onlyBlankLines
        /// Writing (the demo corpus) failed.
        case unwritable(reason: String)
        /// Every non-blank line was bad (with `skipBadLines`): there is nothing to train on.
        case noUsableRows(badLines: Int, first: String)
        // One line.
        case invalidUTF8(column: Int, byte: UInt8)
        case invalidJSON(column: Int, reason: String)
        case notAnObject(found: String)
        case missingField(String, expected: String)
        case wrongType(field: String, found: String, expected: String)
    }

    public init(file: String, line: Int? = nil, _ problem: Problem) {
        self.file = file
        self.line = line
        self.problem = problem
    }

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return "\(place): \(problemText)"
    }

    /// The message without the file and line.
    public var problemText: String {
        switch problem {
        case .noSuchFile: "no such file"
        case .isDirectory: "is a directory, not a JSONL file"
        case .unreadable(let reason): "cannot be read (\(reason))"
        case .emptyFile: "the file is empty (expected one JSON object a line)"
        case .onlyBlankLines: "the file has only blank lines (expected one JSON object a line)"
        case .unwritable(let reason): "cannot be written (\(reason))"
        case .noUsableRows(let badLines, let first):
            "no usable rows: all \(badLines) non-blank lines are bad (the first: \(first))"
        case .invalidUTF8(let column, let byte):
            "invalid UTF-8 at column \(column) (byte 0x\(byte < 16 ? "0" : "")\(String(byte, radix: 16, uppercase: true)))"
        case .invalidJSON(let column, let reason): "invalid JSON at column \(column): \(reason)"
        case .notAnObject(let found): "expected a JSON object, found \(found)"
        case .missingField(let field, let expected): "field \"\(field)\" is missing (expected \(expected))"
        case .wrongType(let field, let found, let expected): "field \"\(field)\" is \(found) (expected \(expected))"
        }
    }
}
