// The commit protocol under the two failures that matter in practice: the process killed at any
// point of a commit (SIGKILL, as a pre-empted job or the OOM killer does it), and a write that cannot
// complete (file-size limit standing in for a full disk). Both use the built `rlhf` binary as the
// writer, and every file left under a final name must match its whole-file stamp (written as part of
// the commit). Kills are aimed by events (the writer stopped at a stop point, lines it printed), never
// by a delay: they land where aimed however loaded the machine is.

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

    /// Where a round kills the writer. The stop points (RLHF_TEST_STOP_IN_COMMIT, AtomicCommit.swift)
    /// make the writer stop itself exactly there, so every round lands where it was aimed whatever
    /// the machine's load; `afterCommittedLines` kills it as soon as it reports a commit, wherever
    /// it has got to by then (the next commit, pruning, or between them).
    enum KillPoint: CustomStringConvertible {
        case inWrite(commit: Int, bytes: Int), beforeRename(commit: Int), beforeFolderSync(commit: Int)
        case afterCommittedLines(Int)

        var environment: [String: String] {
            switch self {
            case .inWrite(let commit, let bytes): ["RLHF_TEST_STOP_IN_COMMIT": "\(commit):\(bytes)"]
            case .beforeRename(let commit): ["RLHF_TEST_STOP_IN_COMMIT": "\(commit):rename"]
            case .beforeFolderSync(let commit): ["RLHF_TEST_STOP_IN_COMMIT": "\(commit):renamed"]
            case .afterCommittedLines: [:]
            }
        }

        var description: String {
            switch self {
            case .inWrite(let commit, let bytes): "commit \(commit) after \(bytes) bytes"
            case .beforeRename(let commit): "commit \(commit) before its rename"
            case .beforeFolderSync(let commit): "commit \(commit) after its rename"
            case .afterCommittedLines(let lines): "after \(lines) committed lines"
            }
        }
    }

    @Test func sigkillInsideCommitsNeverLeavesAPartialCheckpoint() throws {
        let scratch = ScratchFolder()
        let folder = CheckpointFolder(scratch.url)
        let binary = try rlhfBinary()
        // One full write first: the file's size, for stop points spread over its bytes.
        let first = try run(binary, ["_checkpoint-stress", scratch.url.path, "--elements", "65536", "--iterations", "1"])
        #expect(first.status == 0, "\(first.stderr)")
        let fileSize = Int(try #require(try FileManager.default.attributesOfItem(atPath: folder.finalFile.path)[.size] as? NSNumber).intValue)
        var rng = SystemRandomNumberGenerator()
        var lastFinal = 1, killsInWrite = 0
        for round in 0..<24 {
            // The stress writer commits step-N.h5 (odd commits), then final.h5 (even commits), per step.
            let commit = Int.random(in: 1...4, using: &rng)
            let point: KillPoint = switch round % 6 {
            case 0: .beforeRename(commit: commit)
            case 1: .beforeFolderSync(commit: commit)
            case 2: .afterCommittedLines(Int.random(in: 1...3, using: &rng))
            default: .inWrite(commit: commit, bytes: Int.random(in: 0...fileSize, using: &rng))
            }
            let start = lastFinal
            let child = try WriterProcess(binary, ["_checkpoint-stress", scratch.url.path, "--elements", "65536"],
                                          environment: point.environment)
            defer { child.kill() }
            if case .afterCommittedLines(let lines) = point {
                #expect(child.waitForStdoutLines(lines), "round \(round): the writer exited: \(child.stderr)")
            } else {
                #expect(child.waitUntilStopped(), "round \(round): the writer exited before \(point): \(child.stderr)")
            }
            child.kill()
            #expect(child.killedBySignal, "round \(round): the writer exited on its own: \(child.stderr)")

            let names = try FileManager.default.contentsOfDirectory(atPath: scratch.url.path)
            let temporaries = names.filter { $0.hasSuffix(".tmp") }
            // final.h5 holds the newest complete checkpoint committed, never a partial or older one.
            let finalStep = try #require(try Self.checkEveryCheckpoint(in: folder, round: round), "round \(round): no final.h5")
            #expect(finalStep >= lastFinal, "round \(round): final.h5 went back from \(lastFinal) to \(finalStep)")
            #expect(try folder.latestGood()?.url == folder.finalFile)
            lastFinal = finalStep
            switch point {
            case .inWrite(let commit, let bytes):
                // Commit k writes step start + (k + 1) / 2; final.h5 still holds the step before it.
                let step = start + (commit + 1) / 2
                let name = commit % 2 == 1 ? folder.stepFile(step).lastPathComponent : "final.h5"
                #expect(temporaries == [name + ".tmp"], "round \(round), \(point): \(names)")
                let written = try FileManager.default.attributesOfItem(atPath: scratch.file(name + ".tmp").path)[.size] as? NSNumber
                #expect(written?.intValue == bytes, "round \(round), \(point): the temporary file has \(written ?? -1) bytes")
                #expect(finalStep == step - 1, "round \(round), \(point): final.h5 holds step \(finalStep)")
                killsInWrite += 1
            case .beforeRename(let commit):
                let step = start + (commit + 1) / 2
                #expect(temporaries == [(commit % 2 == 1 ? folder.stepFile(step).lastPathComponent : "final.h5") + ".tmp"],
                        "round \(round), \(point): \(names)")
                #expect(finalStep == step - 1, "round \(round), \(point): final.h5 holds step \(finalStep)")
            case .beforeFolderSync(let commit):
                #expect(temporaries.isEmpty, "round \(round), \(point): \(names)")
                #expect(finalStep == start + commit / 2, "round \(round), \(point): final.h5 holds step \(finalStep)")
            case .afterCommittedLines(let lines):
                #expect(finalStep >= start + lines, "round \(round), \(point): final.h5 holds step \(finalStep)")
            }
        }
        #expect(killsInWrite >= 8)

        // Restarting removes the stale temporary and carries on from final.h5.
        let restart = try run(binary, ["_checkpoint-stress", scratch.url.path, "--elements", "65536", "--iterations", "1"])
        #expect(restart.status == 0, "\(restart.stderr)")
        #expect(restart.stdout == "committed \(lastFinal + 1)\n")
        let names = try FileManager.default.contentsOfDirectory(atPath: scratch.url.path)
        #expect(!names.contains { $0.hasSuffix(".tmp") })
        #expect(names.filter { $0.hasPrefix("step-") }.count <= 2)
    }

    @Test func stopPointsParseOrAreIgnored() {
        #expect(CommitStopPoint.parse("3:100") == CommitStopPoint(which: .commit(3), place: .inWrite, bytesWritten: 100))
        #expect(CommitStopPoint.parse("ppo/step-000004.h5:rename") == CommitStopPoint(which: .path("ppo/step-000004.h5"), place: .beforeRename))
        #expect(CommitStopPoint.parse("1:renamed") == CommitStopPoint(which: .commit(1), place: .beforeFolderSync))
        for bad in ["", "3", "0:5", "3:-1", ":5", "3:later"] {
            #expect(CommitStopPoint.parse(bad) == nil, "\(bad)")
        }
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
