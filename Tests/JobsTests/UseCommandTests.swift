// `rlhf eval` and `rlhf generate` against the built binary, on the checkpoints of a tiny job: each
// dataset kind, JSON output, and the errors a user meets (exit codes and one-line messages).

import Foundation
import Testing

@Suite(.serialized) struct UseCommandTests {
    /// A finished tiny SFT → RM job, shared by the tests of this suite.
    static let job: (scratch: Scratch, sft: String, rm: String) = {
        let scratch = Scratch("use-commands")
        let manifest = scratch.write("job.yaml", tinyJob(sftSteps: 30, rmSteps: 20, checkpointEvery: 100))
        let run = try! rlhf(["run", manifest, "--threads", "1"], in: scratch.path)
        precondition(run.status == 0, "the tiny job failed: \(run.stderr)")
        return (scratch, scratch.path("out/sft/final.h5"), scratch.path("out/rm/final.h5"))
    }()

    func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func evalReportsLossOnSFTData() throws {
        let result = try rlhf(["eval", "--checkpoint", Self.job.sft, "--data", "\(demoData)/sft_eval.jsonl", "--json"], in: Self.job.scratch.path)
        #expect(result.status == 0, "\(result.stderr)")
        let report = try json(result.stdout)
        #expect(report["kind"] as? String == "sft")
        let loss = try #require(report["loss"] as? Double)
        #expect(loss > 0 && loss < 5.6)                         // below ln 259: it learned something
        #expect(abs((report["perplexity"] as? Double ?? 0) - exp(loss)) < 1e-6 * exp(loss))
    }

    @Test func evalReportsAccuracyOnPreferences() throws {
        let result = try rlhf(["eval", "--checkpoint", Self.job.rm, "--data", "\(demoData)/prefs_eval.jsonl", "--json"], in: Self.job.scratch.path)
        #expect(result.status == 0, "\(result.stderr)")
        let report = try json(result.stdout)
        #expect(report["kind"] as? String == "preference")
        let accuracy = try #require(report["accuracy"] as? Double)
        #expect((0...1).contains(accuracy) && report["margin"] != nil && report["reward_std"] != nil)
    }

    @Test func evalSamplesPromptsWithRewardAndKL() throws {
        let result = try rlhf(["eval", "--checkpoint", Self.job.sft, "--data", "\(demoData)/prompts_eval.jsonl",
                               "--reward", Self.job.rm, "--reference", Self.job.sft, "--max-tokens", "8", "--grader", "sentiment",
                               "--grader", #"{"type": "length", "name": "short", "cache": 4}"#, "--json"],
                              in: Self.job.scratch.path)
        #expect(result.status == 0, "\(result.stderr)")
        let report = try json(result.stdout)
        #expect(report["kind"] as? String == "prompts")
        #expect(abs(try #require(report["kl"] as? Double)) < 1e-3)   // the model is its own reference
        #expect(report["reward_mean"] != nil && report["sentiment_mean"] != nil && report["pass_at_1"] != nil)
        let penalty = try #require(report["short_mean"] as? Double)   // 8 tokens at most: in the soft zone (4, 8] or free
        #expect((-1...0).contains(penalty))
    }

    @Test func generateIsReproducibleForASeed() throws {
        let arguments = ["generate", "--checkpoint", Self.job.sft, "--prompt", "Review of the lamp: the light was",
                         "--max-tokens", "12", "--seed", "5", "--samples", "2"]
        let first = try rlhf(arguments, in: Self.job.scratch.path), second = try rlhf(arguments, in: Self.job.scratch.path)
        #expect(first.status == 0 && first.stdout == second.stdout)
        let lines = first.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines.allSatisfy { $0.hasPrefix("Review of the lamp: the light was") })
    }

    @Test func badInputsExitTwoWithOneLine() throws {
        let scratch = Scratch()
        let broken = scratch.write("broken.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": 3}\n")
        let cases: [([String], String)] = [
            (["eval", "--checkpoint", Self.job.sft, "--data", scratch.path("missing.jsonl")], "missing.jsonl"),
            (["eval", "--checkpoint", scratch.path("missing.h5"), "--data", broken], "missing.h5"),
            (["eval", "--checkpoint", Self.job.sft, "--data", broken], "broken.jsonl:2"),
            (["generate", "--checkpoint", Self.job.sft, "--prompt", "x", "--top-p", "0"], "--top-p"),
        ]
        for (arguments, mention) in cases {
            let result = try rlhf(arguments, in: scratch.path)
            #expect(result.status == 2, "\(arguments): exit \(result.status), \(result.stderr)")
            #expect(result.stderr.contains(mention), "\(arguments): \(result.stderr)")
            if !arguments.contains("--top-p") {
                #expect(result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
            }
        }
    }

    @Test func badLinesAreSkippedCountedAndReportedWhenAsked() throws {
        let scratch = Scratch()
        let good = try String(contentsOfFile: "\(demoData)/sft.jsonl", encoding: .utf8).split(separator: "\n").prefix(50)
        let data = scratch.write("sft.jsonl", good.prefix(10).joined(separator: "\n") + "\n{\"prompt\": \"x\"}\nnot json\n"
                                               + good.dropFirst(10).joined(separator: "\n") + "\n")
        func job(skip: Bool) -> String {
            """
            name: skipping
            seed: 1
            output: out-\(skip)
            model: { vocab: byte, context: 32, layers: 1, heads: 2, embedding: 16 }
            stages:
              - name: sft
                kind: sft
                data: { train: \(data) }
                steps: 2
                batch: 4
                skip_bad_lines: \(skip)
            """
        }
        let strict = try rlhf(["run", scratch.write("strict.yaml", job(skip: false))], in: scratch.path)
        #expect(strict.status == 2 && strict.stderr.contains("sft.jsonl:11: field \"completion\" is missing"), "\(strict.stderr)")
        let lenient = try rlhf(["run", scratch.write("lenient.yaml", job(skip: true))], in: scratch.path)
        #expect(lenient.status == 0, "\(lenient.stderr)")
        #expect((lenient.stdout + lenient.stderr).contains("skipped 2 bad line(s)"), "\(lenient.stdout)\n\(lenient.stderr)")
    }
}
