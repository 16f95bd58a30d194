// The built-in demo corpus: deterministic, readable by the readers, consistent with the scorer,
// held-out eval prompts, and sized for the tiny model (T = 128, 48-token PPO responses).

import Foundation
import Stages
import Testing

@Suite struct DemoTaskTests {
    static let folder: String = {
        let folder = TestFiles.folder()
        try! DemoTask.write(to: folder)
        return folder
    }()

    static func read<Record>(_ name: String, as: Record.Type) throws -> Dataset<Record> {
        try Dataset<Record>(contentsOf: folder + "/" + name)
    }

    @Test func sameSeedSameBytes() {
        let first = DemoTask.generate(seed: 99)
        #expect(first == DemoTask.generate(seed: 99))
        #expect(first.map(\.contents) != DemoTask.generate(seed: 100).map(\.contents))
        #expect(first.map(\.name) == ["sft.jsonl", "sft_eval.jsonl", "prefs.jsonl", "prefs_eval.jsonl",
                                      "prompts.jsonl", "prompts_eval.jsonl", "arith_sft.jsonl", "arith_prompts.jsonl",
                                      "arith_prompts_eval.jsonl"])
    }

    @Test func writtenFilesParseWithTheReaders() throws {
        let files = DemoTask.generate()
        let rows = Dictionary(uniqueKeysWithValues: files.map { ($0.name, $0.rows) })
        #expect(try Self.read("sft.jsonl", as: SFTRecord.self).count == rows["sft.jsonl"])
        #expect(try Self.read("sft_eval.jsonl", as: SFTRecord.self).count == rows["sft_eval.jsonl"])
        #expect(try Self.read("prefs.jsonl", as: PreferenceRecord.self).count == rows["prefs.jsonl"])
        #expect(try Self.read("prefs_eval.jsonl", as: PreferenceRecord.self).count == rows["prefs_eval.jsonl"])
        #expect(try Self.read("prompts.jsonl", as: PromptRecord.self).count == rows["prompts.jsonl"])
        #expect(try Self.read("prompts_eval.jsonl", as: PromptRecord.self).count == rows["prompts_eval.jsonl"])
        #expect(rows["sft.jsonl"]! >= 2000 && rows["prompts_eval.jsonl"]! >= 64)
        #expect(files.map(\.contents.count).reduce(0, +) < 2_000_000)
    }

    @Test func chosenScoresHigherThanRejectedInEveryPair() throws {
        for name in ["prefs.jsonl", "prefs_eval.jsonl"] {
            for pair in try Self.read(name, as: PreferenceRecord.self).records {
                #expect(DemoScorer.score(pair.chosen) > DemoScorer.score(pair.rejected), "\(pair)")
            }
        }
    }

    @Test func evalPromptsAreHeldOut() throws {
        let train = Set(try Self.read("sft.jsonl", as: SFTRecord.self).records.map(\.prompt)
                        + Self.read("prefs.jsonl", as: PreferenceRecord.self).records.map(\.prompt)
                        + Self.read("prompts.jsonl", as: PromptRecord.self).records.map(\.prompt))
        let eval = Set(try Self.read("sft_eval.jsonl", as: SFTRecord.self).records.map(\.prompt)
                       + Self.read("prefs_eval.jsonl", as: PreferenceRecord.self).records.map(\.prompt)
                       + Self.read("prompts_eval.jsonl", as: PromptRecord.self).records.map(\.prompt))
        #expect(train.isDisjoint(with: eval))
        #expect(try Set(Self.read("prompts_eval.jsonl", as: PromptRecord.self).records.map(\.prompt)).count == 128)
    }

    @Test func sequencesFitTheTinyModel() throws {
        let context = 128, responseLength = 48
        let sft = try Self.read("sft.jsonl", as: SFTRecord.self).records
        let prefs = try Self.read("prefs.jsonl", as: PreferenceRecord.self).records
        let completions = sft.map(\.completion) + prefs.flatMap { [$0.chosen, $0.rejected] }
        for completion in completions {
            #expect(completion.utf8.count <= DemoTask.maxCompletionBytes && completion.utf8.count >= 15)
        }
        for row in sft {
            #expect(row.prompt.utf8.count <= 45)
            #expect(!TokenSequence(prompt: row.prompt, completion: row.completion, context: context).wasTruncated)
            #expect(1 + row.prompt.utf8.count + responseLength <= context)  // PPO: BOS prompt + response
        }
    }

    @Test func sftIsNeutralOnAverage() throws {
        let scores = try Self.read("sft.jsonl", as: SFTRecord.self).records.map { DemoScorer.score($0.completion) }
        let mean = scores.reduce(0, +) / Double(scores.count)
        #expect(abs(mean) < 0.05)
        let positiveShare = Double(scores.filter { $0 > 0 }.count) / Double(scores.count)
        #expect(positiveShare > 0.28 && positiveShare < 0.39)
    }
}
