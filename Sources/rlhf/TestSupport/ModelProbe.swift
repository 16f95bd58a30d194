// `rlhf _model-init` and `rlhf _logprobs` (hidden): the two ends of ci/check_models.py, which hands the
// weights of a random `transformers` model to rlhf and compares per-token log-probabilities. The
// first writes a freshly initialised checkpoint of a model config (the script then overwrites its
// tensors with h5py); the second prints each sequence's per-token log-probabilities under a checkpoint.

import ArgumentParser
import Checkpoint
import Foundation
import Kernels
import Stages
import Transformer

struct ModelInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_model-init", abstract: "Write a freshly initialised model checkpoint (for tests).", shouldDisplay: false)

    @Option(help: "The model config as JSON (the manifest's model keys).") var config: String
    @Option(help: "Where to write the checkpoint.") var out: String
    @Option(help: "Initialisation seed.") var seed: UInt64 = 0
    @Flag(help: "With a scalar head.") var scalarHead = false

    func run() throws {
        let config = try JSONDecoder().decode(ModelConfig.self, from: Data(self.config.utf8))
        let model = try CausalLM(config: config, scalarHead: scalarHead, seed: seed)
        try networkCheckpoint(model, stageKind: scalarHead ? .reward : .sft, stageName: "init")
            .write(to: URL(fileURLWithPath: out))
    }
}

struct LogProbs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_logprobs",
        abstract: "Print per-token log-probabilities of token sequences under a checkpoint (for tests).",
        discussion: """
            Reads JSON lines {"tokens": [ids]} on stdin and prints one JSON line per input,
            {"logp": [...]}: log p(tokens[t+1] | tokens[...t]) for t < n − 1, one forward pass per line.
            """,
        shouldDisplay: false)

    @Option(help: "The checkpoint (its /model network).") var checkpoint: String
    @Option(help: "Sampling temperature the log-probabilities are taken at.") var temperature: Float = 1
    @OptionGroup var threading: ThreadOptions

    struct Line: Decodable { let tokens: [Int32] }

    func run() throws {
        let model = try network(at: checkpoint)
        while let text = readLine() {
            guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            let tokens = try JSONDecoder().decode(Line.self, from: Data(text.utf8)).tokens
            guard tokens.count >= 2, tokens.count <= model.config.context,
                  tokens.allSatisfy({ $0 >= 0 && Int($0) < model.config.vocab }) else {
                throw ValidationError("each line needs 2 to \(model.config.context) token ids below \(model.config.vocab)")
            }
            let logp = Parallel.$threads.withValue(threading.threads) { () -> [Float] in
                model.forward(tokens: tokens, batch: 1, time: tokens.count)
                return model.tokenLogProbs(targets: Array(tokens.dropFirst()) + [-1], temperature: temperature).logp
            }
            let json = try JSONSerialization.data(withJSONObject: ["logp": logp.dropLast().map(Double.init)])
            print(String(decoding: json, as: UTF8.self))
        }
    }
}
