// Reading a JSONL dataset file: one JSON object a line, each made into a record (Records.swift).
//
// Rules, as a user expects them:
// - blank lines (only spaces, tabs, CR) are skipped silently; a UTF-8 byte order mark is ignored;
//   CRLF line ends are accepted;
// - a bad line (invalid UTF-8, invalid JSON, not an object, a field missing or of the wrong type) is
//   an error naming file, line and field: `data/sft.jsonl:17: field "completion" is missing (expected a string)`;
// - with `skipBadLines` (the manifest's `skip_bad_lines: true`) bad lines are skipped instead, counted,
//   and the first few messages kept for the report; a file with no usable row is still an error;
// - a missing, unreadable, empty or all-blank file is always an error.

import Foundation

/// The records of one dataset file, in file order, and what was skipped on the way.
public struct Dataset<Record: JSONLRecord>: Sendable {
    /// The path as given (messages use it).
    public var path: String
    public var records: [Record]
    /// Bad lines skipped under `skipBadLines` (0 otherwise).
    public var skippedLineCount = 0
    /// The errors of the first `reportedSkips` skipped lines, for the report.
    public var skippedLineErrors: [DataError] = []

    /// One line for the user when lines were skipped, naming the file, the count and the first error.
    public var skipReport: String? {
        guard skippedLineCount > 0 else { return nil }
        let first = skippedLineErrors.first.map { "; first: \($0)" } ?? ""
        return "\(path): skipped \(skippedLineCount) bad line(s) (skip_bad_lines)\(first)"
    }

    /// How many skipped lines keep their message.
    public static var reportedSkips: Int { 5 }

    public var count: Int { records.count }
    public subscript(index: Int) -> Record { records[index] }

    /// A dataset from records in memory (generated data, tests).
    public init(records: [Record], path: String = "<memory>") {
        self.path = path
        self.records = records
    }

    /// Reads the JSONL file at `path`.
    public init(contentsOf path: String, skipBadLines: Bool = false) throws(DataError) {
        try self.init(parsing: try Self.readBytes(path), path: path, skipBadLines: skipBadLines)
    }

    /// Reads JSONL content already in memory; `path` names it in messages.
    public init(parsing content: [UInt8], path: String, skipBadLines: Bool = false) throws(DataError) {
        self.path = path
        records = []
        guard !content.isEmpty else { throw DataError(file: path, .emptyFile) }
        var sawRow = false
        for (number, line) in Self.lines(of: content).enumerated() {
            guard !Self.isBlank(line) else { continue }
            sawRow = true
            do throws(DataError.Problem) {
                records.append(try Record(row: Self.parseRow(line)))
            } catch {
                let lineError = DataError(file: path, line: number + 1, error)
                guard skipBadLines else { throw lineError }
                skippedLineCount += 1
                if skippedLineErrors.count < Self.reportedSkips { skippedLineErrors.append(lineError) }
            }
        }
        guard sawRow else { throw DataError(file: path, .onlyBlankLines) }
        if records.isEmpty, let first = skippedLineErrors.first {
            throw DataError(file: path, .noUsableRows(
                badLines: skippedLineCount, first: "line \(first.line ?? 0): \(first.problemText)"))
        }
    }

    /// The file's bytes, or the reason it cannot be had.
    static func readBytes(_ path: String) throws(DataError) -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError(file: path, .noSuchFile)
        }
        guard !isDirectory.boolValue else { throw DataError(file: path, .isDirectory) }
        do {
            return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw DataError(file: path, .unreadable(reason: error.localizedDescription))
        }
    }

    /// The lines of `content` without their `\n` or `\r\n`, and without a leading byte order mark.
    /// A final `\n` does not start another line.
    static func lines(of content: [UInt8]) -> [ArraySlice<UInt8>] {
        var body = content[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        var lines = body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines.map { $0.last == UInt8(ascii: "\r") ? $0.dropLast() : $0 }
    }

    static func isBlank(_ line: ArraySlice<UInt8>) -> Bool {
        line.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }

    /// One line → a JSON object, checking UTF-8 first so that the JSON parser sees only valid text.
    static func parseRow(_ line: ArraySlice<UInt8>) throws(DataError.Problem) -> JSONRow {
        try checkUTF8(line)
        let value: JSONValue
        do throws(JSONSyntaxError) {
            value = try JSONValue.parse(line)
        } catch {
            throw .invalidJSON(column: error.column, reason: error.reason)
        }
        guard case .object(let object) = value else { throw .notAnObject(found: value.kind) }
        return JSONRow(fields: object.dictionary)
    }

    /// Throws at the first byte that does not start a valid UTF-8 scalar (the column counts scalars).
    static func checkUTF8(_ line: ArraySlice<UInt8>) throws(DataError.Problem) {
        var bytes = line.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var offset = line.startIndex
        var column = 1
        while true {
            switch parser.parseScalar(from: &bytes) {
            case .valid(let encoded):
                offset += encoded.count
                column += 1
            case .emptyInput:
                return
            case .error:
                throw .invalidUTF8(column: column, byte: line[offset])
            }
        }
    }
}
