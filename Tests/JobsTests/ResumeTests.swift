// Exact resume against the built binary (DESIGN §4): a two-stage job killed with SIGKILL at random
// points of its progress — some of them inside a checkpoint write, aimed with a stop point — and
// resumed each time, alternating the thread count between runs, ends with final weights
// bit-identical to an uninterrupted run's, and with the same metrics.jsonl lines (no step lost or
// repeated). SIGTERM stops cleanly with exit 3. Kills follow the job's own events, never a delay.

import Checkpoint
import Foundation
import Testing

@Suite(.serialized) struct ResumeTests {
    /// Long enough for kills to land anywhere; checkpoints every 3 steps.
    static let manifest = tinyJob(sftSteps: 150, rmSteps: 100, checkpointEvery: 3)

    /// The uninterrupted run, once per test process.
    static let reference: Result<Scratch, Error> = Result {
        let scratch = Scratch("reference")
        scratch.write("job.yaml", manifest)
        let run = try rlhf(["run", "job.yaml", "--threads", "2"], in: scratch.path)
        guard run.status == 0 else { throw JobTestFailure("reference run failed (\(run.status)): \(run.stderr)") }
        return scratch
    }

    func expectSameResult(as reference: Scratch, in scratch: Scratch) throws {
        for stage in ["sft", "rm"] {
            try expectIdenticalTensors(reference.path("out/\(stage)/final.h5"), scratch.path("out/\(stage)/final.h5"))
            let (expected, got) = (metricLines(reference.path("out/\(stage)/metrics.jsonl")), metricLines(scratch.path("out/\(stage)/metrics.jsonl")))
            let same = got == expected
            let firstDifference = Array(zip(got, expected)).firstIndex { $0.0 != $0.1 } ?? min(got.count, expected.count)
            #expect(same, "metrics.jsonl of \(stage): \(got.count) lines, expected \(expected.count); first difference at line \(firstDifference)")
        }
    }

    /// Lines logged so far by both stages: a clock that runs at the job's own pace, so kills land
    /// at random points of its progress however fast the machine or the kernels are.
    static func loggedLines(in scratch: Scratch) -> Int {
        ["sft", "rm"].reduce(0) { count, stage in
            count + ((FileManager.default.contents(atPath: scratch.path("out/\(stage)/metrics.jsonl")) ?? Data()).filter { $0 == 10 }.count)
        }
    }

    static func temporaryFiles(in scratch: Scratch) -> [String] {
        ["sft", "rm"].flatMap { stage in
            ((try? FileManager.default.contentsOfDirectory(atPath: scratch.path("out/\(stage)"))) ?? []).filter { $0.hasSuffix(".h5.tmp") }
        }
    }

    @Test func sigkillAtRandomMomentsThenResumeGivesIdenticalWeights() throws {
        let reference = try Self.reference.get()
        let scratch = Scratch()
        scratch.write("job.yaml", Self.manifest)
        var rng = SystemRandomNumberGenerator()
        var kills = 0, killsInWrite = 0, finished = false
        let checkpointSize = try #require(try FileManager.default.attributesOfItem(atPath: reference.path("out/sft/final.h5"))[.size] as? NSNumber).intValue
        for round in 0..<40 where !finished {
            // Alternate 1 and 2 threads: every resume continues another thread count's checkpoint.
            let arguments = ["run", "job.yaml", "--threads", round % 2 == 0 ? "1" : "2"]
            let child: RLHFProcess
            if round % 3 == 2 {
                // Inside a checkpoint write: the child stops itself after a random number of bytes of
                // its first or second checkpoint (a stop point, AtomicCommit.swift) and is killed there.
                let stop = "\(Int.random(in: 1...2, using: &rng)):\(Int.random(in: 0...checkpointSize, using: &rng))"
                child = try RLHFProcess(arguments, in: scratch.path, environment: ["RLHF_TEST_STOP_IN_COMMIT": stop])
                _ = child.wait { child.isStopped }
            } else {
                // After a random amount of progress: 1 to 25 more logged lines.
                child = try RLHFProcess(arguments, in: scratch.path)
                let target = Self.loggedLines(in: scratch) + Int.random(in: 1...25, using: &rng)
                _ = child.wait { Self.loggedLines(in: scratch) >= target }
            }
            child.signal(SIGKILL)
            let status = child.wait()
            if status == 0 { finished = true; continue }
            #expect(status == 128 + SIGKILL, "round \(round): \(child.stderr)")
            kills += 1
            if !Self.temporaryFiles(in: scratch).isEmpty { killsInWrite += 1 }
            if kills >= 6 && killsInWrite >= 1 { break }
        }
        #expect(kills >= 3, "the job finished before it could be killed often enough")
        #expect(killsInWrite >= 1, "no kill landed inside a checkpoint write in \(kills) kills")
        if !finished {
            let last = try rlhf(["run", "job.yaml", "--threads", "2"], in: scratch.path)
            #expect(last.status == 0, "\(last.stderr)")
        }
        try expectSameResult(as: reference, in: scratch)
        let status = try rlhf(["status", "out", "--json"], in: scratch.path)
        #expect(status.stdout.contains(#""state":"done""#))
    }

    /// A file that crashes libhdf5 (found by the `hdf5` fuzzer, Tests/CheckpointTests/Regressions/)
    /// in place of the newest checkpoint: the resume skips it with a warning naming it, starts from
    /// the checkpoint before, and still ends bit-identical to the uninterrupted run.
    @Test func aResumeSkipsACheckpointThatCrashesHDF5AndIsStillExact() throws {
        let reference = try Self.reference.get()
        let scratch = Scratch()
        scratch.write("job.yaml", Self.manifest)
        // Stopped (and killed) as it starts writing its fourth checkpoint: three are committed.
        let child = try RLHFProcess(["run", "job.yaml", "--threads", "1"], in: scratch.path,
                                    environment: ["RLHF_TEST_STOP_IN_COMMIT": "4:0"])
        #expect(child.wait { child.isStopped }, "the job ended before its fourth checkpoint: \(child.stderr)")
        child.signal(SIGKILL)
        #expect(child.wait() == 128 + SIGKILL)
        let sft = CheckpointFolder(URL(fileURLWithPath: scratch.path("out/sft")))
        let steps = try sft.stepFiles().map(\.step)  // newest first
        try #require(steps.count >= 2, "step files: \(steps)")
        let (newest, previous) = (steps[0], steps[1])
        let crasher = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("CheckpointTests/Regressions/hdf5-invalid-free-after-a-link-checksum-error.h5")
        try FileManager.default.removeItem(at: sft.stepFile(newest))
        try FileManager.default.copyItem(at: crasher, to: sft.stepFile(newest))

        let resumed = try rlhf(["run", "job.yaml", "--threads", "2"], in: scratch.path)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let output = resumed.stdout + resumed.stderr
        let warning = output.split(separator: "\n").filter {
            $0.hasPrefix("warning: skipping checkpoint ") && $0.contains("/sft/\(sft.stepFile(newest).lastPathComponent): ")
        }
        #expect(warning.count == 1, "\(output)")
        #expect(resumed.stdout.contains("resuming at step \(previous)/"), "\(resumed.stdout)")
        try expectSameResult(as: reference, in: scratch)
    }

    @Test func sigtermStopsWithACheckpointAndExit3ThenResumes() throws {
        let reference = try Self.reference.get()
        let scratch = Scratch()
        scratch.write("job.yaml", Self.manifest)
        let child = try RLHFProcess(["run", "job.yaml", "--threads", "1"], in: scratch.path)
        // Wait for the first committed checkpoint, then ask it to stop.
        #expect(child.wait { child.stdout.contains("checkpoint step") }, "\(child.stderr)")
        child.signal(SIGTERM)
        let status = child.wait()
        #expect(status == 3, "\(child.stderr)")
        #expect(child.stderr.contains("interrupted: stage"), "\(child.stderr)")
        let stopped = try rlhf(["status", "out"], in: scratch.path)
        #expect(stopped.stdout.contains("tiny  interrupted"), "\(stopped.stdout)")
        let names = try FileManager.default.subpathsOfDirectory(atPath: scratch.path("out"))
        #expect(!names.contains { $0.hasSuffix(".tmp") })

        let resumed = try rlhf(["run", "job.yaml", "--threads", "2"], in: scratch.path)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("resuming at step"), "\(resumed.stdout)")
        try expectSameResult(as: reference, in: scratch)
    }
}

struct JobTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
