// `rlhf bench tokenizer`: encode throughput of a model's tokenizer at one thread, the figure
// ci/bench_tokenizers.py sets beside Hugging Face `tokenizers` on the same files in the same sitting.

import ArgumentParser
import Foundation
import JSON
import Tokenizers

struct BenchTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Encode throughput of a tokenizer (one thread), over the lines of a file.",
        discussion: """
            Encodes every line of --file (JSON strings with --json) one at a time, as a data loader does. \
            Warm: the word cache is full from the warm-up runs (a long dataset's steady state). Cold \
            (--cold): the cache is emptied before each run, so every distinct word is merged once per run.
            """)

    @Option(help: "A Hugging Face model directory.") var model: String
    @Option(help: "The text: one text a line.") var file: String
    @Flag(help: "Lines of --file are JSON strings.") var jsonLines = false
    @Flag(help: "Empty the word cache before each run.") var cold = false
    @Flag(help: "Print one JSON object.") var json = false

    struct Report: Codable {
        var model: String
        var lines: Int
        var bytes: Int
        var tokens: Int
        var cold: Bool
        var timing: Timing
        var megabytesPerSecond: Double
        var tokensPerSecond: Double
    }

    func run() throws {
        let tokenizer = try TokenizerFiles(directory: model).tokenizer(directory: model)
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("\(file): cannot be read") }
        var texts: [String] = []
        for line in data.split(separator: UInt8(ascii: "\n")) {
            if jsonLines {
                guard let text = try? JSONValue.parse(ArraySlice(line)).string else { throw ValidationError("\(file): a line is not a JSON string") }
                texts.append(text)
            } else {
                texts.append(String(decoding: line, as: UTF8.self))
            }
        }
        let bytes = texts.reduce(0) { $0 + $1.utf8.count }
        var tokens = 0
        let timing = measure(warmups: 1, minRuns: 5, minSeconds: 2) {
            if cold { tokenizer.clearCache() }
            tokens = 0
            for text in texts { tokens += tokenizer.encode(text).count }
        }
        let report = Report(model: model, lines: texts.count, bytes: bytes, tokens: tokens, cold: cold, timing: timing,
                            megabytesPerSecond: Double(bytes) / timing.median / 1e6,
                            tokensPerSecond: Double(tokens) / timing.median)
        if json {
            printJSONLine(report)
        } else {
            print(String(format: "%@: %d lines, %.2f MB, %d tokens, %@ cache: %.2f MB/s, %.2f M tokens/s (median of %d runs)",
                         model, texts.count, Double(bytes) / 1e6, tokens, cold ? "cold" : "warm",
                         report.megabytesPerSecond, report.tokensPerSecond / 1e6, timing.runs))
        }
    }
}
