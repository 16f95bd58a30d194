// Retention (DESIGN §3.3): after each commit, keep the newest `keep` step files; `final.h5` and any
// file that is not a step checkpoint are never touched.

import Foundation

extension CheckpointFolder {
    /// Deletes all but the newest `keep` step files and returns what it deleted. `keep` 0 keeps
    /// every step file. Call after a successful commit, so the newest kept file is a good one.
    @discardableResult
    public func prune(keep: Int) throws -> [URL] {
        precondition(keep >= 0, "keep must be 0 (all) or a positive count")
        guard keep > 0 else { return [] }
        let doomed = try stepFiles().dropFirst(keep).map(\.url)
        for file in doomed { try FileManager.default.removeItem(at: file) }
        return doomed
    }
}
