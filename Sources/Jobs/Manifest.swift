// A job manifest (DESIGN §3.2) as Codable types with every job-level default in one place. The stage
// entries are `StageSpec`s (Stages owns their keys and defaults). `ManifestLoader` turns a YAML file
// into a validated, resolved `JobManifest`: absolute paths, defaults filled in. That resolved form is
// what a job stores beside its checkpoints (`OUTPUT/job.json`) and what the queue runs.
//
//   name: demo-sentiment           # default: the manifest's file name without extension
//   seed: 1234                     # default 0
//   threads: 0                     # 0 = every core
//   output: Checkpoints/demo       # default Checkpoints/NAME, relative to the current directory
//   demo_data: demo-data           # optional: write the demo task's datasets here when missing
//   logging: { tensorboard: false } # true: also write TensorBoard event files (OUTPUT/tensorboard/STAGE/)
//   model: { vocab: byte, context: 128, layers: 4, heads: 4, embedding: 128 }
//   stages: [ ... ]                # StageSpec entries, run in order

import Foundation
import Stages
import Transformer

public struct JobManifest: Codable, Equatable, Sendable {
    /// Names the job in the queue and in the default output folder.
    public var name: String
    /// The seed every stage derives its generators from (with its name).
    public var seed: UInt64 = 0
    /// Kernel threads (0 = every core). Results do not depend on it (DESIGN §4).
    public var threads: Int = 0
    /// The job's folder: `OUTPUT/STAGE/` per stage, `OUTPUT/job.json`, `OUTPUT/job.log`.
    public var output: String
    /// A folder for the built-in demo task's datasets, written (DemoTask) when any of its files is missing.
    public var demoData: String?
    /// The model every stage trains (a distillation student may override it with its own `model`).
    /// What is logged besides metrics.jsonl. Results do not depend on it.
    public var logging = LoggingSettings()
    public var model: ModelConfig
    public var stages: [StageSpec]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, seed, threads, output, demoData = "demo_data", logging, model, stages
    }

    /// The job-level keys, for unknown-key rejection.
    public static var allowedKeys: [String] { CodingKeys.allCases.map(\.rawValue) }
    /// Keys without a default.
    static let requiredKeys = ["model", "stages"]

    public init(name: String, seed: UInt64 = 0, threads: Int = 0, output: String, demoData: String? = nil,
                model: ModelConfig, stages: [StageSpec]) {
        self.name = name; self.seed = seed; self.threads = threads; self.output = output
        self.demoData = demoData; self.model = model; self.stages = stages
    }

    /// Missing `name` and `output` decode as "" (the loader fills them from the file name); `stages`
    /// decode separately, one entry at a time, so that each entry's problems are all reported.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0
        threads = try c.decodeIfPresent(Int.self, forKey: .threads) ?? 0
        output = try c.decodeIfPresent(String.self, forKey: .output) ?? ""
        demoData = try c.decodeIfPresent(String.self, forKey: .demoData)
        logging = try c.decodeIfPresent(LoggingSettings.self, forKey: .logging) ?? LoggingSettings()
        model = try c.decode(ModelConfig.self, forKey: .model)
        stages = try c.decodeIfPresent([StageSpec].self, forKey: .stages) ?? []
    }

    /// The stage called `name`, with its index.
    public func stage(named name: String) -> (index: Int, spec: StageSpec)? {
        stages.firstIndex { $0.name == name }.map { ($0, stages[$0]) }
    }

    /// The model a stage trains: its own `model` (distillation student) or the job's.
    public func model(of spec: StageSpec) -> ModelConfig { spec.model ?? model }

    /// Sorted-key JSON, the form stored in `OUTPUT/job.json` and in queue files.
    public func json() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return try! encoder.encode(self)
    }
}

/// `logging`: the job's optional logs.
public struct LoggingSettings: Codable, Equatable, Sendable {
    /// TensorBoard event files of every stage's metrics under OUTPUT/tensorboard/STAGE/.
    public var tensorboard = false

    enum CodingKeys: String, CodingKey, CaseIterable { case tensorboard }
    public static var allowedKeys: [String] { CodingKeys.allCases.map(\.rawValue) }

    public init(tensorboard: Bool = false) { self.tensorboard = tensorboard }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tensorboard = try c.decodeIfPresent(Bool.self, forKey: .tensorboard) ?? false
    }
}

/// The model keys (`ModelConfig`'s coding keys).
enum ModelKeys {
    static let allowed = ModelConfig.keys
    /// `vocab` may be omitted or spelled `byte`: the byte-level tokenizer's 259 ids (DESIGN §3.4).
    static let required = ["context", "layers", "heads", "embedding"]
    static let byteVocabulary = ByteTokenizer.vocabularySize
}
