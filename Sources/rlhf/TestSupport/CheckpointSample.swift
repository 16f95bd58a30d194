// `rlhf _checkpoint-sample FILE` (hidden): writes a checkpoint of known values for the interop check
// (ci/check_checkpoint.py recomputes every value) and the end-to-end tests. It exercises the whole
// layout of DESIGN §3.3: every attribute type, tensors of rank 0 to 4 and an empty one, GPT-2 names.

import ArgumentParser
import Checkpoint
import Foundation

struct CheckpointSample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_checkpoint-sample", abstract: "Write a checkpoint of known values (for tests).",
        shouldDisplay: false)

    @Argument(help: "Where to write it.") var file: String
    @Option(help: "Transformer layers.") var layers = 2
    @Option(help: "Embedding width C.") var embedding = 8
    @Option(help: "Context length T.") var context = 8
    @Option(help: "The step recorded in the file.") var step = 7

    func run() throws {
        try Self.sample(layers: layers, embedding: embedding, context: context, step: step)
            .write(to: URL(fileURLWithPath: file))
    }

    /// The value at `index` of the tensor at `path`: exact in float32, cheap to recompute in numpy
    /// (`k = sum(path.encode()) % 97`, `((index * 31 + k * 17) % 251) * 0.25 - 31`).
    static func value(path: String, index: Int) -> Float {
        let k = path.utf8.reduce(0) { $0 + Int($1) } % 97
        return Float((index * 31 + k * 17) % 251) * 0.25 - 31
    }

    static func tensor(_ path: String, _ shape: [Int]) -> Tensor {
        Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { value(path: path, index: $0) })
    }

    static func sample(layers: Int, embedding C: Int, context T: Int, step: Int) -> CheckpointFile {
        var checkpoint = CheckpointFile(metadata: CheckpointMetadata(
            stageKind: "reward", stageName: "sample", step: step, totalSteps: 10, createdUTC: "2025-01-01T00:00:00Z",
            configJSON: #"{"vocab":259,"context":\#(T),"layers":\#(layers),"heads":2,"embedding":\#(C)}"#,
            manifestJSON: #"{"kind":"reward","steps":10,"note":"ünïcode ✓"}"#, codeVersion: "sample"))
        var shapes = gpt2ParameterShapes(vocab: 259, context: T, layers: layers, channels: C)
        shapes += [("score.weight", [C]), ("score.bias", [1])]
        for (name, shape) in shapes {
            for prefix in ["/model/", "/optimizer/policy/m/", "/optimizer/policy/v/"] {
                checkpoint[tensor: prefix + name] = tensor(prefix + name, shape)
            }
        }
        let ranks: [(String, [Int])] = [("scalar", []), ("vector", [5]), ("matrix", [2, 3]), ("cube", [2, 3, 4]),
                                        ("hyper", [2, 3, 4, 5]), ("empty", [0])]
        for (name, shape) in ranks { checkpoint[tensor: "/extra/" + name] = tensor("/extra/" + name, shape) }

        checkpoint[group: "optimizer/policy"].attributes = [
            "step": .int64(Int64(step)), "beta1": .double(0.9), "beta2": .double(0.95), "eps": .double(1e-8),
            "weight_decay": .double(0.1),
        ]
        checkpoint[group: "schedule"].attributes = ["step": .int64(Int64(step)), "lr": .double(3e-4), "kind": .string("cosine")]
        checkpoint[group: "rng/init"].attributes = ["state": .uint64s([1, 0x9E37_79B9_7F4A_7C15, .max, 42])]
        checkpoint[group: "data/train"].attributes = [
            "epoch": .int64(1), "position": .int64(3), "permutation": .int64s([4, 0, 3, 1, 2]), "empty": .int64s([]),
        ]
        checkpoint[group: "ppo"].attributes = ["kl_coef": .double(0.05), "negative": .int64(-5)]
        checkpoint[group: "metrics"].attributes = [
            "loss": .double(1.5), "recent": .floats([0.5, 0.25, -1]), "accuracy": .doubles([0.75, 0.8125]),
            "note": .string(""), "last_json": .json(#"{"kl":0.125}"#),
        ]
        return checkpoint
    }
}
