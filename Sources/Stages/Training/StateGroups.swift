// Moving training state in and out of checkpoint groups: an arena's tensors under their names, the
// AdamW moments beside them, data order and generator states as integer attributes.

import Checkpoint
import Foundation
import Kernels
import Transformer

enum StateGroups {
    /// Every tensor of an arena, by name and shape.
    static func group(of arena: Arena) -> CheckpointGroup {
        var group = CheckpointGroup()
        for view in arena.layout.views { group.tensors[view.name] = Tensor(shape: view.shape, values: arena.values(view)) }
        return group
    }

    /// Copies the group's tensors into the arena. Every tensor of the arena must be present with
    /// its shape, except those listed in `optional` (e.g. a fresh scalar head on SFT weights).
    /// Returns the names that were missing and left as they were.
    @discardableResult
    static func load(_ group: CheckpointGroup, into arena: Arena, source: String, optional: Set<String> = []) throws -> [String] {
        var missing: [String] = []
        for view in arena.layout.views {
            guard let tensor = group.tensors[view.name] else {
                if optional.contains(view.name) { missing.append(view.name); continue }
                throw StageError.badCheckpoint("\(source): tensor \(view.name) is missing")
            }
            guard tensor.shape == view.shape else {
                throw StageError.badCheckpoint("\(source): tensor \(view.name) has shape \(tensor.shape), the model needs \(view.shape)")
            }
            arena.setValues(view, tensor.values)
        }
        return missing
    }

    /// AdamW moments and step, as /optimizer/<network>.
    static func group(of optimizer: AdamW, weightDecay: Double) -> CheckpointGroup {
        var group = CheckpointGroup(attributes: [
            "step": .int64(Int64(optimizer.step)), "beta1": .double(Double(optimizer.settings.beta1)),
            "beta2": .double(Double(optimizer.settings.beta2)), "eps": .double(Double(optimizer.settings.epsilon)),
            "weight_decay": .double(weightDecay),
        ])
        group.groups["m"] = Self.group(of: optimizer.m)
        group.groups["v"] = Self.group(of: optimizer.v)
        return group
    }

    static func load(_ group: CheckpointGroup, into optimizer: AdamW, source: String) throws {
        guard case let .int64(step)? = group.attributes["step"], let m = group.groups["m"], let v = group.groups["v"] else {
            throw StageError.badCheckpoint("\(source): optimizer state is incomplete (needs step, m and v)")
        }
        try load(m, into: optimizer.m, source: source + " (optimizer m)")
        try load(v, into: optimizer.v, source: source + " (optimizer v)")
        optimizer.step = Int(step)
    }

    static func group(of order: DataOrder) -> CheckpointGroup {
        let s = order.state
        return CheckpointGroup(attributes: [
            "seed": .uint64s([s.seed]), "epoch": .int64(Int64(s.epoch)), "cursor": .int64(Int64(s.cursor)),
            "count": .int64(Int64(s.count)),
        ])
    }

    static func loadOrder(_ group: CheckpointGroup?, datasetCount: Int, source: String) throws -> DataOrder {
        guard let a = group?.attributes, case let .uint64s(seed)? = a["seed"], seed.count == 1,
              case let .int64(epoch)? = a["epoch"], case let .int64(cursor)? = a["cursor"], case let .int64(count)? = a["count"]
        else { throw StageError.badCheckpoint("\(source): data order state is missing") }
        do {
            return try DataOrder(restoring: .init(seed: seed[0], epoch: Int(epoch), cursor: Int(cursor), count: Int(count)),
                                 datasetCount: datasetCount)
        } catch {
            throw StageError.badCheckpoint("\(source): \(error)")
        }
    }

    static func group(of rng: Xoshiro256) -> CheckpointGroup {
        CheckpointGroup(attributes: ["xoshiro256": .uint64s(rng.words)])
    }

    static func loadGenerator(_ group: CheckpointGroup?, source: String) throws -> Xoshiro256 {
        guard case let .uint64s(words)? = group?.attributes["xoshiro256"], words.count == 4 else {
            throw StageError.badCheckpoint("\(source): generator state is missing")
        }
        return Xoshiro256(state: words)
    }

    static func group(of metrics: Metrics) -> CheckpointGroup {
        CheckpointGroup(attributes: Dictionary(metrics.map { ($0.name, AttributeValue.double($0.value)) }, uniquingKeysWith: { $1 }))
    }

    static func metrics(_ group: CheckpointGroup?) -> Metrics {
        Metrics((group?.attributes ?? [:]).compactMap { key, value in
            if case let .double(v) = value { return (key, v) } else { return nil }
        }.sorted { $0.0 < $1.0 })
    }

    /// JSON text of a Codable value with sorted keys (stable across runs, readable in h5dump).
    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)).flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
    }

    /// The model shape recorded in a checkpoint.
    static func config(of file: CheckpointFile, source: String) throws -> ModelConfig {
        guard let data = file.metadata.configJSON.data(using: .utf8),
              let config = try? JSONDecoder().decode(ModelConfig.self, from: data) else {
            throw StageError.badCheckpoint("\(source): config_json does not describe a model")
        }
        return config
    }
}
