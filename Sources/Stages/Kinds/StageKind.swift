// What a stage kind declares, once, in its own folder: its name, its settings section (keys, defaults,
// ranges), the checkpoints it starts from (typed roles), the data files it reads, and how it is built.
// The registry (StageKinds.swift) lists the declarations; the factory, the manifest schema and its
// validation, the path resolver and the docs table are all driven from them.

import Checkpoint

/// A stage kind's name as manifests spell it (`kind: ppo`). Only registered kinds decode.
public struct StageKind: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ name: String) { rawValue = name }
    public var description: String { rawValue }

    public init(from decoder: Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard StageKinds.declaration(of: StageKind(name)) != nil else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "unknown stage kind '\(name)'"))
        }
        rawValue = name
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// "an sft", "a ppo", "a reward": the name with its article, for messages. A name whose first two
    /// letters hold no vowel is read letter by letter (an initialism: "an rloo"), so its article follows
    /// the first letter's name; any other name is a word.
    public var withArticle: String {
        let letters = Array(rawValue.lowercased()), vowels: Set<Character> = ["a", "e", "i", "o", "u"]
        guard let first = letters.first else { return "a " + rawValue }
        let initialism = !letters.prefix(2).contains { vowels.contains($0) }
        let vowelSound = vowels.contains(first) || (initialism && "fhlmnrsx".contains(first))
        return (vowelSound ? "an " : "a ") + rawValue
    }

    /// The kind's declaration (every kind that decodes has one).
    public var declaration: StageKindDeclaration {
        guard let declaration = StageKinds.declaration(of: self) else { preconditionFailure("stage kind \(rawValue) is not registered") }
        return declaration
    }
}

/// The roles in which a stage starts from another stage's checkpoint; the stage-level manifest key
/// of each is its raw value (`init: sft`, `policy: sft`).
public enum SourceRole: String, CaseIterable, Codable, Sendable {
    /// Starting weights of the trained network.
    case initial = "init"
    /// The policy's start, and the frozen reference.
    case policy
    /// A reward model.
    case reward
    /// A distillation teacher.
    case teacher
}

/// The data files a stage may read: the keys of its `data` section.
public enum DataRole: String, CaseIterable, Codable, Sendable {
    case train, eval, prompts
    case evalPrompts = "eval_prompts"
}

/// A source a kind reads.
public struct SourceUse: Sendable {
    public var role: SourceRole
    public var required: Bool
    /// What the source is for, in the docs table.
    public var meaning: String
    /// When set, a source stage (or checkpoint) must be of one of these kinds (a reward model: `reward`).
    public var kinds: [StageKind]?
    /// The source's shape must equal the stage's model; false: only the vocabulary must match (a teacher).
    public var sameShape: Bool

    public init(_ role: SourceRole, required: Bool, _ meaning: String, kinds: [StageKind]? = nil, sameShape: Bool = true) {
        self.role = role
        self.required = required
        self.meaning = meaning
        self.kinds = kinds
        self.sameShape = sameShape
    }
}

/// A data file a kind reads.
public struct DataUse: Sendable {
    public var role: DataRole
    public var required: Bool
    /// The rows it holds, in the docs table ("SFT rows", "`{\"prompt\"}` rows").
    public var rows: String
    /// Reads the file as the stage will (path, skip_bad_lines), throwing what the stage would.
    let read: @Sendable (String, Bool) throws -> Void

    /// A file of `Record` rows.
    public init<Record: JSONLRecord>(_ role: DataRole, required: Bool, _ rows: String, _ record: Record.Type) {
        self.role = role
        self.required = required
        self.rows = rows
        read = { path, skip in _ = try Dataset<Record>(contentsOf: path, skipBadLines: skip) }
    }
}

/// One stage kind, declared in one place.
public struct StageKindDeclaration: Sendable {
    public let kind: StageKind
    /// One sentence for the docs and `rlhf kinds`.
    public let summary: String
    /// The settings section (`ppo: {...}`), keyed by the kind's name; nil when the kind has none.
    public let settings: (any SettingsSection.Type)?
    public let sources: [SourceUse]
    public let data: [DataUse]
    /// Stage-level keys only this kind reads (a distillation student's `model`); others reject them.
    public let stageKeys: [String]
    let build: @Sendable (StageSpec, StageContext) throws -> any Stage

    public init(_ kind: StageKind, summary: String, settings: (any SettingsSection.Type)? = nil, sources: [SourceUse] = [],
                data: [DataUse], stageKeys: [String] = [], build: @escaping @Sendable (StageSpec, StageContext) throws -> any Stage) {
        self.kind = kind
        self.summary = summary
        self.settings = settings
        self.sources = sources
        self.data = data
        self.stageKeys = stageKeys
        self.build = build
    }

    /// The name of its settings section in a stage entry: the kind's name.
    public var section: String? { settings == nil ? nil : kind.rawValue }

    public func uses(_ role: SourceRole) -> SourceUse? { sources.first { $0.role == role } }
    public func uses(_ role: DataRole) -> DataUse? { data.first { $0.role == role } }
}

/// A checkpoint a stage starts from, with the reference the manifest gave for it (for messages).
public struct StageSource {
    /// The manifest's value: a stage name or a checkpoint path.
    public var reference: String
    public var checkpoint: CheckpointFile

    public init(_ checkpoint: CheckpointFile, reference: String) {
        self.checkpoint = checkpoint
        self.reference = reference
    }
}
