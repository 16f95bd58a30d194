// The commit protocol under the two failures that matter in practice: the process killed at any
// moment (SIGKILL, as a pre-empted job or the OOM killer does it), and a write that cannot complete
// (file-size limit standing in for a full disk). Both use the built `rlhf` binary as the writer, and
// every file left under a final name must match its whole-file stamp (written as part of the commit).

@testable import Checkpoint
import Foundation
import Testing

@Suite struct CrashTests {
    /// The value `rlhf _checkpoint-stress` writes at `index` in step `step` (CheckpointStress.value).
    static func stressValue(step: Int, index: Int) -> Float { Float((step &* 7919 &+ index) % 65_536) }

    /// Every `.h5` in the folder is complete and holds exactly its step's values.
    static func checkEveryCheckpoint(in folder: CheckpointFolder, round: Int) throws -> Int? {
        var finalStep: Int?
        for url in try folder.checkpoints() {
            // Committed through the stamp: every file left under a final name matches its stamp.
            let (checkpoint, integrity) = try CheckpointFile.readChecked(from: url)
            guard case .verified = integrity else {
                Issue.record("round \(round): \(url.lastPathComponent) does not match its stamp: \(integrity)")
                continue
            }
            let step = checkpoint.metadata.step
            let values = try #require(checkpoint[tensor: "/model/w"]).values
            let wrong = values.indices.first { values[$0] != stressValue(step: step, index: $0) }
            #expect(wrong == nil, "round \(round): \(url.lastPathComponent) step \(step) has a wrong value at \(wrong ?? -1)")
            if let fileStep = CheckpointFolder.step(ofFileName: url.lastPathComponent) {
                #expect(fileStep == step, "round \(round): \(url.lastPathComponent) holds step \(step)")
            } else {
                finalStep = step
            }
        }
        return finalStep
    }

    @Test func sigkillAtRandomMomentsNeverLeavesAPartialCheckpoint() throws {
        let scratch = ScratchFolder()
        let folder = CheckpointFolder(scratch.url)
        let binary = try rlhfBinary()
        var rng = SystemRandomNumberGenerator()
        var lastFinal = 0, killsWithTemporary = 0
        let rounds = 24
        for round in 0..<rounds {
            let child = Process()
            child.executableURL = binary
            child.arguments = ["_checkpoint-stress", scratch.url.path, "--elements", "65536"]
            child.standardOutput = FileHandle.nullDevice
            child.standardError = FileHandle.nullDevice
            try child.run()
            usleep(UInt32.random(in: 20_000...160_000, using: &rng))
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            #expect(child.terminationReason == .uncaughtSignal, "round \(round): the writer exited on its own: \(child.terminationStatus)")

            let names = try FileManager.default.contentsOfDirectory(atPath: scratch.url.path)
            if names.contains(where: { $0.hasSuffix(".tmp") }) { killsWithTemporary += 1 }
            // final.h5 holds the previous or a newer complete checkpoint, never a partial or older one.
            if let finalStep = try Self.checkEveryCheckpoint(in: folder, round: round) {
                #expect(finalStep >= lastFinal, "round \(round): final.h5 went back from \(lastFinal) to \(finalStep)")
                lastFinal = finalStep
                #expect(try folder.latestGood()?.url == folder.finalFile)
            }
        }
        #expect(lastFinal > 0, "no checkpoint was ever committed")
        // Some kills must land mid-write, or the test proved nothing.
        #expect(killsWithTemporary > 0, "no kill interrupted a write in \(rounds) rounds")

        // Restarting removes the stale temporary and carries on from final.h5.
        let restart = try run(binary, ["_checkpoint-stress", scratch.url.path, "--elements", "65536", "--iterations", "1"])
        #expect(restart.status == 0, "\(restart.stderr)")
        #expect(restart.stdout == "committed \(lastFinal + 1)\n")
        let names = try FileManager.default.contentsOfDirectory(atPath: scratch.url.path)
        #expect(!names.contains { $0.hasSuffix(".tmp") })
        #expect(names.filter { $0.hasPrefix("step-") }.count <= 2)
    }

    @Test func fullDiskFailsCleanlyAndKeepsThePreviousFile() throws {
        let scratch = ScratchFolder()
        let binary = try rlhfBinary()
        let file = scratch.file("final.h5")
        let first = try run(binary, ["_checkpoint-sample", file.path, "--step", "7"])
        #expect(first.status == 0, "\(first.stderr)")
        let before = try Data(contentsOf: file)

        // A 256 KiB file-size limit with SIGXFSZ ignored: write(2) fails with EFBIG, as on a full disk.
        let script = #"trap '' XFSZ; ulimit -f 256; exec "$0" _checkpoint-sample "$1" --embedding 128 --step 8"#
        let result = try run(URL(fileURLWithPath: "/bin/bash"), ["-c", script, binary.path, file.path])
        #expect(result.status == 1)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("error: \(file.path): "))
        #expect(result.stderr.contains("could not write the checkpoint: write \(file.path).tmp: File too large"), "\(result.stderr)")
        #expect(try Data(contentsOf: file) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path) == ["final.h5"])
        let kept = try CheckpointFile.readChecked(from: file)
        #expect(kept.checkpoint.metadata.step == 7)
        #expect({ if case .verified = kept.integrity { true } else { false } }(), "\(kept.integrity)")
    }
}
