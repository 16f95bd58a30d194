// The queue: two workers on one queue run each job exactly once; a job whose worker died (record
// says running, lock free) is taken up again first; cancel; usage errors exit 2.

import Foundation
@testable import Jobs
import Testing

@Suite struct QueueTests {
    @Test func twoWorkersRunEachJobExactlyOnce() throws {
        let scratch = Scratch()
        let names = (1...4).map { "job\($0)" }
        for name in names {
            scratch.write("\(name).yaml", tinyJob(name: name, output: "out/\(name)", sftSteps: 6, rmSteps: 4, seed: names.firstIndex(of: name)!))
        }
        let submit = try rlhf(["submit"] + names.map { "\($0).yaml" } + ["--queue", "q"], in: scratch.path)
        #expect(submit.status == 0, "\(submit.stderr)")
        #expect(submit.stdout.split(separator: "\n") == ["000001-job1", "000002-job2", "000003-job3", "000004-job4"])

        let workers = try (0..<2).map { _ in try RLHFProcess(["worker", "--once", "--queue", "q", "--threads", "1"], in: scratch.path) }
        for worker in workers { #expect(worker.wait() == 0, "\(worker.stderr)") }
        let ran = workers.flatMap { $0.stdout.split(separator: "\n").filter { $0.contains(": running ") } }
        #expect(ran.count == 4, "\(ran)")

        let queue = JobQueue(folder: scratch.path("q"))
        for record in try queue.list() {
            #expect(record.state == .done && record.attempts == 1, "\(record.id): \(record.state) after \(record.attempts) attempts")
            let log = try String(contentsOfFile: scratch.path("out/\(record.job.name)/job.log"), encoding: .utf8)
            #expect(log.components(separatedBy: "job \(record.job.name): 2 stages").count == 2, "\(record.id) started more than once")
            #expect(metricLines(scratch.path("out/\(record.job.name)/sft/metrics.jsonl")).count == 6 + 2)  // 6 steps, eval at steps 0 and 6
        }
        let status = try rlhf(["status", "--queue", "q"], in: scratch.path)
        let jobLines = status.stdout.split(separator: "\n").filter { $0.hasPrefix("00000") }
        #expect(jobLines.count == 4 && jobLines.allSatisfy { $0.contains("  done  ") }, "\(status.stdout)")
    }

    @Test func aDeadWorkersJobIsTakenUpAgainFirst() throws {
        let scratch = Scratch()
        let queue = JobQueue(folder: scratch.path("q"))
        scratch.write("a.yaml", tinyJob(name: "a", output: "out/a", sftSteps: 2, rmSteps: 2))
        scratch.write("b.yaml", tinyJob(name: "b", output: "out/b", sftSteps: 2, rmSteps: 2))
        let a = try queue.submit(try ManifestLoader.load(scratch.path("a.yaml")), manifest: "a.yaml")
        let b = try queue.submit(try ManifestLoader.load(scratch.path("b.yaml")), manifest: "b.yaml")
        // A worker claims b, then "dies" (its lock goes away, its record still says running).
        var claim: JobQueue.Claim? = try queue.claimNext(skipping: [a.id])
        #expect(claim?.record.id == b.id)
        #expect(try queue.claimNext(skipping: [a.id]) == nil)  // b is locked: nobody else takes it
        claim = nil
        #expect(try queue.record(b.id).state == .running)
        let next = try #require(try queue.claimNext())
        #expect(next.record.id == b.id && next.record.attempts == 2, "the stale job comes before the older pending one")
        #expect(next.record.message?.contains("died") == true)
        try next.finish(.done, message: nil, exitCode: 0)

        #expect(try queue.cancel(a.id) == .cancelled)
        #expect(try queue.record(a.id).state == .cancelled)
        #expect(try queue.claimNext() == nil)
        #expect(throws: JobError.self) { try queue.cancel(a.id) }
    }

    @Test func usageErrorsExitTwo() throws {
        let scratch = Scratch()
        #expect(try rlhf(["run"], in: scratch.path).status == 2)
        #expect(try rlhf(["run", "x.yaml", "--threads", "-1"], in: scratch.path).status == 2)
        #expect(try rlhf(["frobnicate"], in: scratch.path).status == 2)
        let missing = try rlhf(["run", "nowhere.yaml"], in: scratch.path)
        #expect(missing.status == 2 && missing.stderr.contains("nowhere.yaml: no such file"), "\(missing.stderr)")
        #expect(try rlhf(["status", "nojob", "--queue", "q"], in: scratch.path).status == 2)
        #expect(try rlhf(["run", "--help"], in: scratch.path).stdout.contains("SIGINT/SIGTERM"))
    }
}
