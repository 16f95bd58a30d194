// Graders on hand cases, their weighted sum, and the `command` grader's protocol against small Python
// programs: good answers, nulls, a crash, a hang, garbage, a wrong count, and stderr for the job log.

import Foundation
@testable import Stages
import Testing
import Transformer

/// One prompt row with completions given as text (each ending with EOS, so none is truncated).
private func row(_ fields: [String: JSONValue], _ completions: [String], truncated: [Bool]? = nil) -> GradingRow {
    let tokens = completions.map { ByteTokenizer.encode($0) + [ByteTokenizer.eos] }
    return GradingRow(row: JSONRow(fields: fields), promptTokens: [ByteTokenizer.bos], completionTokens: tokens,
                      truncated: truncated ?? completions.map { _ in false })
}

private func grade(_ spec: GraderSpec, _ rows: [GradingRow], maxLength: Int = 16) throws -> [[Double?]] {
    try makeGrader(spec, reward: nil, config: .tiny, maxCompletionLength: maxLength).grade(rows)
}

private func spec(_ type: GraderSpec.Kind, _ configure: (inout GraderSpec) -> Void = { _ in }) -> GraderSpec {
    var s = GraderSpec(type)
    configure(&s)
    return s
}

@Suite struct GraderTests {
    @Test func exactComparesTheExtractedAnswer() throws {
        let r = row(["prompt": .string("2+3="), "answer": .string("5")], ["5", " 5\n", "5.0", "15", "five", ""])
        #expect(try grade(spec(.exact), [r]) == [[1, 1, 1, 0, 0, 0]])                 // trimmed; as numbers when both are
        let text = row(["prompt": .string("q"), "answer": .number(42)], ["The answer is 42.", "41 then 42", "42 or 7", "none"])
        #expect(try grade(spec(.exact) { $0.extract = .lastNumber }, [text]) == [[1, 1, 0, 0]])
        let tagged = row(["prompt": .string("q"), "solution": .string("Paris")], ["<answer>Paris</answer>", "<answer>paris</answer>", "Paris"])
        let regex = spec(.exact) { $0.extract = .regex; $0.pattern = "<answer>(.*?)</answer>"; $0.column = "solution" }
        #expect(try grade(regex, [tagged]) == [[1, 0, 0]])
        #expect(try grade(spec(.exact) { $0.extract = .regex; $0.pattern = "<answer>(.*?)</answer>"; $0.column = "solution"
                                         $0.caseSensitive = false }, [tagged]) == [[1, 1, 0]])
        // A row without the answer column: the grader does not apply.
        #expect(try grade(spec(.exact), [row(["prompt": .string("q")], ["5"])]) == [[nil]])
    }

    @Test func numericAllowsATolerance() throws {
        let r = row(["prompt": .string("q"), "answer": .string("3.14159")], ["pi is 3.1416", "3.14", "about 3", "-3.14159"])
        #expect(try grade(spec(.numeric) { $0.tolerance = 1e-3 }, [r]) == [[1, 0, 0, 0]])
        #expect(try grade(spec(.numeric) { $0.tolerance = 0.2 }, [r]) == [[1, 1, 1, 0]])
        #expect(Answers.lastNumber(in: "x = -12.5e-3, y = 7") == "7")
        #expect(Answers.lastNumber(in: "value -12.5e-3.") == "-12.5e-3")
        #expect(Answers.lastNumber(in: "no digits") == nil)
    }

    @Test func regexContainsAndJSON() throws {
        let r = row(["prompt": .string("q"), "answer": .string("cat")], ["<think>x</think> cat", "cat", "a Cat here"])
        #expect(try grade(spec(.regex) { $0.pattern = "^<think>.*</think>" }, [r]) == [[1, 0, 0]])
        #expect(try grade(spec(.contains), [r]) == [[1, 1, 0]])
        #expect(try grade(spec(.contains) { $0.caseSensitive = false }, [r]) == [[1, 1, 1]])
        #expect(try grade(spec(.contains) { $0.text = "here" }, [r]) == [[0, 0, 1]])
        let j = row(["prompt": .string("q")], [#"{"name": "a", "age": 3}"#, #"{"name": "a"}"#, "[1, 2]", "{oops", #" {"age": 1, "name": null} "#])
        #expect(try grade(spec(.json) { $0.requiredKeys = ["name", "age"] }, [j]) == [[1, 0, 0, 0, 1]])
        #expect(try grade(spec(.json), [j]) == [[1, 1, 0, 0, 1]])
    }

    /// DAPO eq. 13 with L_max = 100, L_cache = 20 (TRL's docstring example: 90 tokens → −0.5).
    @Test func lengthIsTheSoftOverlongPenalty() throws {
        #expect(softOverlongPenalty(length: 80, maxLength: 100, cache: 20) == 0)
        #expect(softOverlongPenalty(length: 90, maxLength: 100, cache: 20) == -0.5)
        #expect(softOverlongPenalty(length: 100, maxLength: 100, cache: 20) == -1)
        #expect(softOverlongPenalty(length: 101, maxLength: 100, cache: 20) == -1)
        // Through the grader: tokens counted with the EOS; the limit defaults to the stage's.
        let r = row(["prompt": .string("q")], ["ab", "abcdef"])                      // 3 and 7 tokens
        #expect(try grade(spec(.length) { $0.cache = 4 }, [r], maxLength: 8) == [[0, -0.75]])
    }

    @Test func sentimentIsTheDemoLexicon() throws {
        let r = row(["prompt": .string("Review:")], [" truly superb, and I love it.", " not good at all."])
        #expect(try grade(spec(.sentiment), [r]) == [[DemoScorer.score(" truly superb, and I love it."), DemoScorer.score(" not good at all.")]])
    }

    /// A reward model of this project scores each prompt + completion at its last token, as if it ran
    /// on that sequence alone (rows of different lengths share one padded batch); `normalize` uses the
    /// statistics its reward stage recorded, and is refused when there are none.
    @Test func rewardModelScoresEachSequenceAtItsLastToken() throws {
        let config = ModelConfig(context: 32, layers: 1, heads: 2, embedding: 16)
        let network = try CausalLM(config: config, scalarHead: true, seed: 5)
        var checkpoint = networkCheckpoint(network, stageKind: .reward, stageName: "rm")
        func prompt(_ text: String) -> [Int32] { [ByteTokenizer.bos] + ByteTokenizer.encode(text) }
        let rows = [GradingRow(row: JSONRow(fields: ["prompt": .string("2+3=")]), promptTokens: prompt("2+3="),
                               completionTokens: [ByteTokenizer.encode("5") + [ByteTokenizer.eos], ByteTokenizer.encode("five or so")],
                               truncated: [false, true]),
                    GradingRow(row: JSONRow(fields: ["prompt": .string("Say hi:")]), promptTokens: prompt("Say hi:"),
                               completionTokens: [ByteTokenizer.encode(" hello there") + [ByteTokenizer.eos]], truncated: [false])]
        var alone: [Double] = []
        for row in rows {
            for completion in row.completionTokens {
                let sequence = row.promptTokens + completion
                network.forward(tokens: sequence, batch: 1, time: sequence.count)
                alone.append(Double(network.scalarValues()[sequence.count - 1]))
            }
        }
        let source = StageSource(checkpoint, reference: "rm")
        func scores(normalize: Bool, from source: StageSource) throws -> [Double] {
            var spec = spec(.rewardModel)
            spec.normalize = normalize
            return try makeGrader(spec, reward: source, config: config, maxCompletionLength: 16).grade(rows).joined().map { $0! }
        }
        let plain = try scores(normalize: false, from: source)
        #expect(plain.count == 3 && Set(plain).count == 3)
        for (a, b) in zip(plain, alone) { #expect(abs(a - b) < 1e-5, "batched \(a), alone \(b)") }
        #expect(throws: StageError.self) { try scores(normalize: true, from: source) }        // no reward_stats recorded

        checkpoint.root.groups["reward_stats"] = StateGroups.group(of: Metrics([("mean", 0.25), ("std", 2.0)]))
        let normalized = try scores(normalize: true, from: StageSource(checkpoint, reference: "rm"))
        for (a, b) in zip(normalized, alone) { #expect(abs(a - (b - 0.25) / 2) < 1e-5) }
    }

    /// Σ weight · reward over the graders that answered; nil where none did.
    @Test func rewardsAddUpByWeightSkippingNulls() throws {
        let exact = spec(.exact), format = spec(.regex) { $0.pattern = "^\\d+$"; $0.weight = 0.5 }
        let set = try GraderSet([exact, format], reward: nil, config: .tiny, maxCompletionLength: 8)
        let rows = [row(["prompt": .string("q"), "answer": .string("7")], ["7", "8", "x"]), row(["prompt": .string("r")], ["7", "x"])]
        let graded = try set.grade(rows) { _ in }
        #expect(graded[0] == [[1, 0, 0], [nil, nil]])
        #expect(graded[1] == [[1, 1, 0], [1, 0]])
        #expect(set.combine(graded) == [1.5, 0.5, 0, 0.5, 0])
        let nobody = try GraderSet([exact], reward: nil, config: .tiny, maxCompletionLength: 8)
        #expect(nobody.combine(try nobody.grade([rows[1]]) { _ in }) == [nil, nil])
    }

    @Test func listsAreCheckedKeyByKey() {
        var stage = StageSpec(name: "g", kind: .grpo, data: DataSpec(prompts: "/p"), steps: 1)
        var settings = GRPOSettings()
        settings.graders = [spec(.exact) { $0.tolerance = 1 }, spec(.regex), spec(.exact) { $0.extract = .regex },
                            spec(.command) { $0.command = ["no-such-grader-program-xyz"] }, spec(.rewardModel)]
        stage[section: GRPOSettings.self] = settings
        let problems = stage.problems(model: .tiny).map { "\($0.key): \($0.message)" }
        #expect(problems.contains("grpo.graders[0].tolerance: is not used by an exact grader"))
        #expect(problems.contains("grpo.graders[1].pattern: is required for a regex grader"))
        #expect(problems.contains("grpo.graders[2].pattern: is required with extract: regex"))
        #expect(problems.contains("grpo.graders[3].command: 'no-such-grader-program-xyz' is not an executable file on PATH"))
        #expect(problems.contains { $0.hasPrefix("grpo.graders[4].type: a reward_model grader needs the stage's `reward` source") })
        #expect(problems.contains("grpo.graders[2].name: 'exact' also names graders[0]; give each grader its own name"))
    }
}

/// A Python grader program written into a scratch folder.
private func script(_ body: String) -> (folder: String, name: String) {
    let folder = TestFiles.folder()
    try! body.write(toFile: folder + "/grader.py", atomically: true, encoding: .utf8)
    return (folder, "grader.py")
}

private func commandGrader(_ body: String, timeout: Double = 20) -> CommandGrader {
    let (folder, name) = script(body)
    return CommandGrader(name: "check", weight: 1, command: ["python3", name], directory: folder, timeout: timeout)
}

private let arithmeticRows = [row(["prompt": .string("2+3="), "answer": .string("5"), "level": .number(1)], ["5", "6", "?"]),
                              row(["prompt": .string("1+1="), "answer": .string("2"), "level": .number(2)], ["2", "11"])]

@Suite struct CommandGraderTests {
    /// Good answers and nulls; every column of the row reaches the program; stderr goes to the log.
    @Test func gradesOverJSONLines() throws {
        let grader = commandGrader("""
            import json, sys
            for line in sys.stdin:
                req = json.loads(line)
                print(f"level {req['level']}: {len(req['completions'])} completions", file=sys.stderr, flush=True)
                rewards = [None if c == "?" else float(c.strip() == req["answer"]) for c in req["completions"]]
                assert req["truncated"] == [False] * len(rewards)
                print(json.dumps({"rewards": rewards}), flush=True)
            """)
        let set = GraderSet([grader])
        var log: [String] = []
        #expect(try set.grade(arithmeticRows) { log.append($0) } == [[[1, 0, nil], [1, 0]]])
        #expect(try set.grade(arithmeticRows) { log.append($0) } == [[[1, 0, nil], [1, 0]]])   // the same process, again
        #expect(log.count == 4 && log[0] == "grader check: level 1: 3 completions", "\(log)")
    }

    private func expectFailure(_ body: String, timeout: Double = 20, _ message: String) {
        let grader = commandGrader(body, timeout: timeout)
        var log: [String] = []
        do {
            _ = try GraderSet([grader]).grade(arithmeticRows) { log.append($0) }
            Issue.record("the grader did not fail")
        } catch let error as GraderError {
            #expect(error.grader == "check")
            #expect(error.description.contains(message), "\(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func aCrashIsReportedWithItsStderr() {
        expectFailure("""
            import sys
            sys.stdin.readline()
            print("ZeroDivisionError: boom", file=sys.stderr, flush=True)
            sys.exit(3)
            """, "'python3 grader.py' exited with status 3 before answering; its last stderr lines: ZeroDivisionError: boom")
    }

    @Test func aHangIsStoppedAtTheTimeout() {
        expectFailure("""
            import sys, time
            sys.stdin.readline()
            time.sleep(60)
            """, timeout: 0.5, "'python3 grader.py' did not answer within 0.5 s; it was stopped")
    }

    @Test func garbageAndWrongCountsAreRefused() {
        expectFailure("""
            import sys
            for line in sys.stdin: print("rewards: 1, 0", flush=True)
            """, "answered malformed JSON")
        expectFailure("""
            import sys
            for line in sys.stdin: print('{"scores": [1]}', flush=True)
            """, #"answered JSON without a "rewards" list"#)
        expectFailure("""
            import sys
            for line in sys.stdin: print('{"rewards": [1]}', flush=True)
            """, "answered 1 rewards for 3 completions")
        expectFailure("""
            import sys
            for line in sys.stdin: print('{"rewards": [1, "yes", 0]}', flush=True)
            """, "answered a string where a reward (a number or null) belongs")
    }

    @Test func aMissingProgramIsNamed() {
        let grader = CommandGrader(name: "check", weight: 1, command: ["./nope.py"], directory: TestFiles.folder(), timeout: 1)
        #expect(throws: GraderError.self) { _ = try grader.grade(arithmeticRows) }
    }
}
