// `rlhf eval` and `rlhf generate`: use a trained checkpoint. The work is in Stages (Evaluation.swift)
// and Transformer (sampling); these commands only map options and print.

import ArgumentParser
import Checkpoint
import Foundation
import Kernels
import Stages
import Transformer

/// Sampling options shared by `eval` (prompt data) and `generate`.
struct SamplingOptions: ParsableArguments {
    @Option(help: "Tokens to sample after each prompt.") var maxTokens = 48
    @Option(help: "Sampling temperature (0 = greedy).") var temperature: Float = 1
    @Option(help: "Sample only among the K most likely tokens (0 = off).") var topK = 0
    @Option(help: "Sample only among the most likely tokens whose probability reaches P (1 = off).") var topP: Float = 1
    @Option(help: "Seed of the sampling generator.") var seed: UInt64 = 0

    var settings: SamplingSettings { SamplingSettings(temperature: temperature, topK: topK, topP: topP) }

    func validate() throws {
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be positive.") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be ≥ 0.") }
        guard topK >= 0 else { throw ValidationError("--top-k must be ≥ 0.") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1].") }
    }
}

/// Loads the trained network of a checkpoint file.
func network(at path: String, group: String = "model") throws -> CausalLM {
    try loadNetwork(from: try CheckpointFile.read(from: URL(fileURLWithPath: path)), group: group, source: path)
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a checkpoint on a JSONL dataset.",
        discussion: """
            The dataset kind is read from its first row:
              prompt/completion or text      loss per completion token and perplexity
              prompt/chosen/rejected         reward model: loss, pairwise accuracy, margin, reward mean/std;
                                             language model: how often the chosen completion is more likely
              prompt                         samples: response length; with --grader, each grader's mean and
                                             pass@1 by the first; with --reward, mean reward; with
                                             --reference, KL to the reference
            A grader is a built-in type (sentiment, length, exact, numeric, ...) or a JSON object with
            the keys of a manifest's grader (docs/graders.md): --grader '{"type":"exact","extract":"last_number"}'.
            """)

    @Option(help: "The checkpoint to evaluate (its /model network).") var checkpoint: String
    @Option(help: "The JSONL dataset.") var data: String
    @Option(help: "Prompt data: a reward-model checkpoint to score the samples.") var reward: String?
    @Option(help: "Prompt data: a reference checkpoint (e.g. the SFT model) to measure KL against.") var reference: String?
    @Option(help: "Prompt data: a grader of the samples, a type or a JSON object (repeatable).") var grader: [String] = []
    @Option(help: "Rows per forward pass.") var batch = 16
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var threading: ThreadOptions
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let model = try network(at: checkpoint)
        var options = EvaluationOptions()
        options.batch = batch
        options.sampling = sampling.settings
        options.maxNewTokens = sampling.maxTokens
        options.seed = sampling.seed
        options.graders = try grader.map(Self.graderSpec)
        let rewardModel = try reward.map { try network(at: $0) }
        let referenceModel = try reference.map { try network(at: $0) }
        let (kind, metrics) = try Parallel.$threads.withValue(threading.threads) {
            try evaluate(model: model, dataPath: data, reward: rewardModel, reference: referenceModel, options: options)
        }
        if json {
            var object: [String: Any] = ["checkpoint": checkpoint, "data": data, "kind": kind.rawValue]
            for (name, value) in metrics { object[name] = value }
            let encoded = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: encoded, as: UTF8.self))
        } else {
            print("\(checkpoint) on \(data) (\(kind.rawValue) data)")
            for (name, value) in metrics { print("  \(name.padding(toLength: 16, withPad: " ", startingAt: 0)) \(String(format: "%.6g", value))") }
        }
    }
}

extension Eval {
    /// `sentiment` or `{"type": "exact", ...}`.
    static func graderSpec(_ text: String) throws -> GraderSpec {
        let json = text.hasPrefix("{") ? text : "{\"type\": \(JSONValue.string(text).serialized)}"
        do {
            return try JSONDecoder().decode(GraderSpec.self, from: Data(json.utf8))
        } catch {
            throw ValidationError("--grader \(text): not a grader type (\(GraderSpec.Kind.allCases.map(\.rawValue).joined(separator: ", "))) "
                                  + "or a JSON object of grader keys")
        }
    }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sample a continuation of a prompt from a checkpoint.",
        discussion: "The prompt is encoded as BOS + its UTF-8 bytes; sampling stops at EOS or after --max-tokens.")

    @Option(help: "The checkpoint (its /model network).") var checkpoint: String
    @Option(help: "The prompt text.") var prompt: String
    @Option(help: "Independent samples to draw.") var samples = 1
    @OptionGroup var sampling: SamplingOptions
    @OptionGroup var threading: ThreadOptions
    @Flag(help: "Print one JSON object per sample.") var json = false

    func validate() throws {
        guard samples > 0 else { throw ValidationError("--samples must be positive.") }
    }

    func run() throws {
        let model = try network(at: checkpoint)
        let room = model.config.context - sampling.maxTokens
        guard room >= 1 else {
            throw ValidationError("--max-tokens \(sampling.maxTokens) leaves no room for the prompt in the context (\(model.config.context)).")
        }
        let tokens = [ByteTokenizer.bos] + ByteTokenizer.encode(prompt).suffix(room - 1)
        var rng = Xoshiro256(seed: sampling.seed)
        let generation = Parallel.$threads.withValue(threading.threads) {
            model.generate(prompts: Array(repeating: tokens, count: samples), maxNewTokens: sampling.maxTokens,
                           settings: sampling.settings, stopToken: ByteTokenizer.eos, rng: &rng)
        }
        for i in 0..<samples {
            let text = ByteTokenizer.decode(generation.tokens[i].filter { $0 < 256 })
            if json {
                let object: [String: Any] = ["prompt": prompt, "completion": text, "tokens": generation.tokens[i].count,
                                             "stopped": generation.stopped[i],
                                             "logprob": generation.logprobs[i].reduce(0, +)]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
            } else {
                print(prompt + text)
            }
        }
    }
}
