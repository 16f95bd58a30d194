// `demo_data: FOLDER` in a manifest: the built-in demo task's datasets (DESIGN §3.5) are written
// into FOLDER when any of them is missing, before the manifest's data files are checked, so the demo
// job runs on a fresh machine with nothing to download. Files that are all present are left alone
// (they may have been edited on purpose); the generator's default seed makes them the same bytes
// on every machine.

import Foundation
import Stages

enum DemoData {
    /// Writes the demo files into `folder` when one is missing; a problem when that fails.
    static func prepare(in folder: String) -> ManifestProblem? {
        let names = DemoTask.generate().map(\.name)
        let missing = names.contains { !FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent($0)) }
        guard missing else { return nil }
        do {
            try DemoTask.write(to: folder)
            return nil
        } catch {
            return ManifestProblem(key: "demo_data", message: "cannot write the demo datasets: \(error)")
        }
    }
}
