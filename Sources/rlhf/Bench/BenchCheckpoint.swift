// `rlhf bench checkpoint`: MB/s writing and reading a checkpoint the size of a real one — the model's
// parameters plus AdamW's two moments (3 copies of every parameter), in DESIGN §3.3's layout.

import ArgumentParser
import Checkpoint
import Foundation
import Kernels

/// The standard model shapes of DESIGN §5.
enum BenchModel: String, ExpressibleByArgument, CaseIterable {
    case tiny, small

    var shape: (vocab: Int, context: Int, layers: Int, channels: Int) {
        switch self {
        case .tiny: (259, 128, 4, 128)
        case .small: (259, 256, 6, 384)
        }
    }
}

/// GPT-2's parameter names and shapes as Hugging Face stores them, weights as [in, out] (Conv1D):
/// this mirrors DESIGN §3.3. Stand-in until the Transformer target exists; swap for the model's own
/// parameter list then.
func gpt2ParameterShapes(vocab V: Int, context T: Int, layers L: Int, channels C: Int) -> [(name: String, shape: [Int])] {
    var parameters: [(name: String, shape: [Int])] = [("wte", [V, C]), ("wpe", [T, C])]
    for layer in 0..<L {
        let h = "h.\(layer)."
        parameters += [
            (h + "ln_1.weight", [C]), (h + "ln_1.bias", [C]),
            (h + "attn.c_attn.weight", [C, 3 * C]), (h + "attn.c_attn.bias", [3 * C]),
            (h + "attn.c_proj.weight", [C, C]), (h + "attn.c_proj.bias", [C]),
            (h + "ln_2.weight", [C]), (h + "ln_2.bias", [C]),
            (h + "mlp.c_fc.weight", [C, 4 * C]), (h + "mlp.c_fc.bias", [4 * C]),
            (h + "mlp.c_proj.weight", [4 * C, C]), (h + "mlp.c_proj.bias", [C]),
        ]
    }
    return parameters + [("ln_f.weight", [C]), ("ln_f.bias", [C])]
}

struct BenchCheckpoint: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Checkpoint write and read MB/s: model parameters plus AdamW moments (3 copies).",
        discussion: """
            write: HDF5 + Fletcher-32 into the page cache, then rename (no fsync). \
            commit: the full protocol with fsync of file and folder (disk speed). \
            read: load and validate, every checksum verified.
            """)

    @Option(help: "Model shape: tiny or small.") var config: BenchModel = .small
    @Option(help: "Folder to write in (default: a fresh temporary folder, removed afterwards).") var dir: String?
    @Flag(help: "One JSON object per measurement.") var json = false

    struct Row: Codable {
        var peer = "swift-rlhf", workload = "checkpoint"
        var config: String, operation: String, megabytes: Double, median_ms: Double, megabytes_per_second: Double
    }

    func run() throws {
        let folder = dir.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("rlhf-bench-\(getpid())")
        defer { if dir == nil { try? FileManager.default.removeItem(at: folder) } }
        let file = folder.appendingPathComponent("bench.h5")
        let checkpoint = Self.checkpoint(config)
        let megabytes = Double(checkpoint.root.allTensors.reduce(0) { $0 + $1.tensor.count } * 4) / 1e6

        var failure: Error?
        func timed(_ warmups: Int, _ body: () throws -> Void) -> Timing {
            measure(warmups: warmups) { do { try body() } catch { failure = error } }
        }
        let results: [(String, Timing)] = [
            ("write", timed(2) { try checkpoint.write(to: file, durability: .pageCache) }),
            ("commit", timed(1) { try checkpoint.write(to: file, durability: .fsync) }),
            ("read", timed(2) { _ = try CheckpointFile.read(from: file) }),
        ]
        if let failure { throw failure }
        if !json { print("config \(config.rawValue), \(String(format: "%.1f", megabytes)) MB per checkpoint, in \(folder.path)") }
        for (operation, timing) in results {
            let row = Row(config: config.rawValue, operation: operation, megabytes: megabytes,
                          median_ms: timing.median * 1e3, megabytes_per_second: megabytes / timing.median)
            if json { printJSONLine(row) } else {
                print(operation.padding(toLength: 7, withPad: " ", startingAt: 0)
                      + String(format: "%9.1f ms  %7.0f MB/s", row.median_ms, row.megabytes_per_second))
            }
        }
    }

    /// Parameters under /model and AdamW moments under /optimizer/policy/{m,v}, random values.
    static func checkpoint(_ model: BenchModel) -> CheckpointFile {
        let s = model.shape
        var rng = SplitMix64(seed: 7)
        var checkpoint = CheckpointFile(metadata: CheckpointMetadata(
            stageKind: "sft", stageName: "bench", step: 1, totalSteps: 1,
            configJSON: #"{"vocab":\#(s.vocab),"context":\#(s.context),"layers":\#(s.layers),"embedding":\#(s.channels)}"#))
        for (name, shape) in gpt2ParameterShapes(vocab: s.vocab, context: s.context, layers: s.layers, channels: s.channels) {
            for prefix in ["model", "optimizer/policy/m", "optimizer/policy/v"] {
                let values = (0..<shape.reduce(1, *)).map { _ in rng.nextFloat() - 0.5 }
                checkpoint[tensor: prefix + "/" + name] = Tensor(shape: shape, values: values)
            }
        }
        checkpoint[group: "optimizer/policy"].attributes = [
            "step": .int64(1), "beta1": .double(0.9), "beta2": .double(0.95), "eps": .double(1e-8), "weight_decay": .double(0.1),
        ]
        return checkpoint
    }
}
