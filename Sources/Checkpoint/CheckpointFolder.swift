// One stage's checkpoint folder (`OUTPUT/STAGE/`): the file names, which files are checkpoints, and
// the newest one that loads. Step files are `step-000400.h5` (six digits, more when needed, so names
// sort by step); `final.h5` is written when the stage ends.

import Foundation

public struct CheckpointFolder: Sendable {
    public let url: URL

    public init(_ url: URL) { self.url = url }

    public static let finalName = "final.h5"

    public func stepFile(_ step: Int) -> URL {
        url.appendingPathComponent("step-" + String(format: "%06d", step) + ".h5")
    }

    public var finalFile: URL { url.appendingPathComponent(Self.finalName) }

    /// The step of a `step-NNNNNN.h5` name, or nil for any other name.
    public static func step(ofFileName name: String) -> Int? {
        guard name.hasPrefix("step-"), name.hasSuffix(".h5") else { return nil }
        let digits = name.dropFirst(5).dropLast(3)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }

    /// The folder's entries; none when the folder does not exist yet.
    func contents() throws -> [URL] {
        guard FileManager.default.fileExists(atPath: url.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)
    }

    /// Step files, newest (highest step) first. Temporary files are never among them.
    public func stepFiles() throws -> [(step: Int, url: URL)] {
        try contents().compactMap { file in Self.step(ofFileName: file.lastPathComponent).map { ($0, file) } }
            .sorted { $0.step > $1.step }
    }

    /// Every checkpoint, the order to try when resuming: `final.h5` first, then step files newest first.
    public func checkpoints() throws -> [URL] {
        let final = FileManager.default.fileExists(atPath: finalFile.path) ? [finalFile] : []
        return final + (try stepFiles().map(\.url))
    }

    /// The newest checkpoint that loads and validates. Each one skipped is reported to `warn` with its
    /// file and reason, so a resumed run says why it went back further than the user expected; one
    /// taken without its stamp's protection (edited since it was written) is reported to `notice`.
    public func latestGood(expect: CheckpointExpectation = CheckpointExpectation(),
                           warn: (CheckpointError) -> Void = Self.warnOnStandardError,
                           notice: (String) -> Void = CheckpointFile.noticeOnStandardError)
        throws -> (url: URL, checkpoint: CheckpointFile)? {
        for file in try checkpoints() {
            do {
                return (file, try CheckpointFile.read(from: file, expect: expect, notice: notice))
            } catch let error as CheckpointError {
                warn(error)
            }
        }
        return nil
    }

    /// `warning: skipping checkpoint FILE: OBJECT: reason` on stderr.
    public static func warnOnStandardError(_ error: CheckpointError) {
        FileHandle.standardError.write(Data("warning: skipping checkpoint \(error)\n".utf8))
    }
}
