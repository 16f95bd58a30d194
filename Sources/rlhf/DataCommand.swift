// `rlhf data ...`: datasets. `rlhf data demo` writes the built-in demo task (DESIGN §3.5) so the main
// job runs on a fresh machine with no download.

import ArgumentParser
import Foundation
import Stages

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Prepare datasets.",
        subcommands: [DataDemo.self]
    )
}

struct DataDemo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Write the built-in demo task: a templated review-continuation corpus favouring positive sentiment.",
        discussion: """
            Files: sft.jsonl, sft_eval.jsonl (prompt, completion), prefs.jsonl, prefs_eval.jsonl (prompt, \
            chosen, rejected), prompts.jsonl, prompts_eval.jsonl (prompt). The same seed writes the same bytes. \
            Eval files use held-out prompts. Chosen completions are the ones the built-in lexicon scorer rates \
            more positive.
            """
    )

    @Option(help: "The folder to write into (created if missing; existing files are replaced).")
    var out: String

    @Option(help: "The generator's seed.")
    var seed: UInt64 = DemoTask.defaultSeed

    @Flag(help: "One JSON object per file written.") var json = false

    struct Row: Codable {
        var file: String, rows: Int, bytes: Int
    }

    func run() throws {
        let files = try DemoTask.write(to: out, seed: seed)
        for file in files {
            let path = (out as NSString).appendingPathComponent(file.name)
            if json {
                printJSONLine(Row(file: path, rows: file.rows, bytes: file.contents.count))
            } else {
                let size = String(format: "%.1f KB", Double(file.contents.count) / 1024)
                print("wrote \(path)  \(file.rows) rows  \(size)")
            }
        }
    }
}
