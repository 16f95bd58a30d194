// GRPO in a job, against the built binary: kill -9 mid-iteration and resume at another thread count
// gives bit-identical weights (a `command` grader restarted on every resume); a grader that crashes,
// hangs or answers garbage stops the job with exit 1, a checkpoint of the last completed iteration and
// its stderr in job.log, and the job resumes from there once the grader is fixed.

import Foundation
import Testing

/// SFT on the arithmetic demonstrations, then GRPO with the `exact` grader and a `command` grader.
func grpoJob(steps: Int = 40, checkpointEvery: Int = 3, grader: String = "grader.py") -> String {
    """
    name: grpo-job
    seed: 11
    output: out
    model: { vocab: byte, context: 32, layers: 2, heads: 2, embedding: 32 }
    stages:
      - name: sft
        kind: sft
        data: { train: \(demoData)/arith_sft.jsonl }
        steps: 20
        batch: 8
        optimizer: { lr: 3.0e-3 }
      - name: grpo
        kind: grpo
        policy: sft
        data: { prompts: \(demoData)/arith_prompts.jsonl, eval_prompts: \(demoData)/arith_prompts_eval.jsonl }
        steps: \(steps)
        batch: 4
        micro_batch: 2
        optimizer: { lr: 1.0e-3, schedule: constant }
        checkpoint_every: \(checkpointEvery)
        keep: 2
        grpo:
          num_generations: 4
          max_completion_length: 5
          beta: 0.04
          eval_samples: 1
          graders:
            - { type: exact }
            - { type: command, name: digits, command: [python3, \(grader)], timeout: 20, weight: 0.5 }
    """
}

/// A grader that rewards completions made only of digits (null for the empty ones), and logs each request.
let digitsGrader = """
    import json, sys
    for line in sys.stdin:
        request = json.loads(line)
        print("request for", request["prompt"], "answer", request["answer"], file=sys.stderr, flush=True)
        print(json.dumps({"rewards": [None if not c else float(c.isdigit()) for c in request["completions"]]}), flush=True)
    """

/// Metrics lines without the wall-clock ones (they differ between any two runs).
func deterministicMetricLines(_ file: String) -> [String] {
    metricLines(file).map { line in
        var object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        var metrics = object["metrics"] as? [String: Any] ?? [:]
        for key in metrics.keys where key.hasSuffix("_per_s") || key.hasSuffix("_seconds") { metrics[key] = nil }
        object["metrics"] = metrics
        return String(decoding: try! JSONSerialization.data(withJSONObject: object, options: .sortedKeys), as: UTF8.self)
    }
}

@Suite(.serialized) struct GRPOJobTests {
    static let reference: Result<Scratch, Error> = Result {
        let scratch = Scratch("grpo-reference")
        scratch.write("job.yaml", grpoJob())
        scratch.write("grader.py", digitsGrader)
        let run = try rlhf(["run", "job.yaml", "--threads", "2"], in: scratch.path)
        guard run.status == 0 else { throw JobTestFailure("reference run failed (\(run.status)): \(run.stderr)") }
        return scratch
    }

    static func grpoLines(in scratch: Scratch) -> Int {
        (FileManager.default.contents(atPath: scratch.path("out/grpo/metrics.jsonl")) ?? Data()).filter { $0 == 10 }.count
    }

    @Test func sigkillMidIterationThenResumeAtAnotherThreadCountIsBitIdentical() throws {
        let reference = try Self.reference.get()
        let log = try String(contentsOfFile: reference.path("out/job.log"), encoding: .utf8)
        #expect(log.contains("stage grpo: grader digits: request for"), "the grader's stderr is not in job.log")
        let scratch = Scratch()
        scratch.write("job.yaml", grpoJob())
        scratch.write("grader.py", digitsGrader)
        var kills = 0, finished = false
        var rng = SystemRandomNumberGenerator()
        for round in 0..<30 where !finished {
            let child = try RLHFProcess(["run", "job.yaml", "--threads", round % 2 == 0 ? "1" : "2"], in: scratch.path)
            // Kill after 1 to 6 more GRPO lines: mostly inside an iteration (rollout, grading or update).
            let target = Self.grpoLines(in: scratch) + Int.random(in: 1...6, using: &rng)
            _ = child.wait { Self.grpoLines(in: scratch) >= target }
            child.signal(SIGKILL)
            let status = child.wait()
            if status == 0 { finished = true; continue }
            #expect(status == 128 + SIGKILL, "round \(round): \(child.stderr)")
            kills += 1
            if kills >= 4 { break }
        }
        #expect(kills >= 2, "the job finished before it could be killed often enough")
        if !finished {
            let last = try rlhf(["run", "job.yaml", "--threads", "1"], in: scratch.path)
            #expect(last.status == 0, "\(last.stderr)")
        }
        try expectIdenticalTensors(reference.path("out/grpo/final.h5"), scratch.path("out/grpo/final.h5"))
        #expect(deterministicMetricLines(scratch.path("out/grpo/metrics.jsonl"))
                == deterministicMetricLines(reference.path("out/grpo/metrics.jsonl")))
    }

    /// The grader dies at iteration 7 (after checkpoints at 3 and 6): exit 1, a message naming the grader,
    /// its stderr in the log, a checkpoint of iteration 6; fixed, the job resumes there and ends as the
    /// reference does.
    @Test func aFailingGraderStopsWithACheckpointAndTheJobResumes() throws {
        let reference = try Self.reference.get()
        for failure in ["crash", "hang", "garbage"] {
            let scratch = Scratch()
            // Only the hang needs the timeout to fire. It stays far above a grader's answer time (~1 ms), as
            // every one of the ~540 answers before the hang must come within it on a loaded machine.
            let timeout = failure == "hang" ? "timeout: 10" : "timeout: 20"
            scratch.write("job.yaml", grpoJob().replacingOccurrences(of: "timeout: 20", with: timeout))
            // Counts its requests in a file and fails on the second request of iteration 7: the step-0
            // evaluation sends one per held-out prompt twice (greedy, sampled: 2 · 256), each iteration 4.
            let failAt = 2 * 256 + 4 * 6 + 2
            let act = ["crash": "sys.exit(5)", "hang": "time.sleep(60)", "garbage": "print('not json', flush=True); continue"][failure]!
            scratch.write("grader.py", """
                import json, os, sys, time
                count = int(open("count").read()) if os.path.exists("count") else 0
                for line in sys.stdin:
                    count += 1
                    open("count", "w").write(str(count))
                    request = json.loads(line)
                    if count == \(failAt):
                        print("failing on purpose: \(failure)", file=sys.stderr, flush=True)
                        \(act)
                    print(json.dumps({"rewards": [None if not c else float(c.isdigit()) for c in request["completions"]]}), flush=True)
                """)
            let failed = try rlhf(["run", "job.yaml", "--threads", "1"], in: scratch.path)
            #expect(failed.status == 1, "\(failure): exit \(failed.status): \(failed.stderr)")
            #expect(failed.stderr.contains("stage grpo step 7: grader 'digits'"), "\(failure): \(failed.stderr)")
            #expect(failed.stderr.contains("fix the grader and run the job again to resume"), "\(failure): \(failed.stderr)")
            let log = try String(contentsOfFile: scratch.path("out/job.log"), encoding: .utf8)
            if failure != "garbage" { #expect(log.contains("failing on purpose: \(failure)"), "\(failure): \(log)") }
            #expect(FileManager.default.fileExists(atPath: scratch.path("out/grpo/step-000006.h5")))
            #expect(!FileManager.default.fileExists(atPath: scratch.path("out/grpo/final.h5")))

            scratch.write("grader.py", digitsGrader)
            let resumed = try rlhf(["run", "job.yaml", "--threads", "2"], in: scratch.path)
            #expect(resumed.status == 0, "\(failure): \(resumed.stderr)")
            #expect(resumed.stdout.contains("resuming at step 6"), "\(failure): \(resumed.stdout)")
            try expectIdenticalTensors(reference.path("out/grpo/final.h5"), scratch.path("out/grpo/final.h5"))
        }
    }
}
