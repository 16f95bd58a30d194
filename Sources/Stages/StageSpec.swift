// The settings of one stage, exactly as a job manifest spells them (docs/manifest.md), with every
// default in one place. Jobs decodes the manifest into these; stages read nothing else.
//
// Keys are snake_case, as in TRL configs and YAML manifests. Missing keys take the defaults below;
// unknown keys are rejected by the manifest's structural check, which reads each section's key table.
// The keys every stage has are here; a kind's own settings live in its folder (PPO/PPOSettings.swift)
// and appear in a stage entry under the kind's name (`ppo: {...}`).

import Transformer

/// Where a stage's data lives, by role. Paths are resolved against the manifest's folder by Jobs.
public struct DataSpec: SettingsSection {
    public var files: [DataRole: String] = [:]

    public init() {}
    public init(train: String? = nil, eval: String? = nil, prompts: String? = nil, evalPrompts: String? = nil) {
        files[.train] = train
        files[.eval] = eval
        files[.prompts] = prompts
        files[.evalPrompts] = evalPrompts
    }

    public subscript(role: DataRole) -> String? {
        get { files[role] }
        set { files[role] = newValue }
    }

    /// The files given, in role order.
    public var given: [(role: DataRole, path: String)] {
        DataRole.allCases.compactMap { role in files[role].map { (role, $0) } }
    }

    public static let keys: [Setting<DataSpec>] = DataRole.allCases.map { role in
        .optional(role.rawValue, \.files[role], .any, "JSONL: " + StageKinds.usage(of: role))
    }
}

/// AdamW and its learning-rate schedule.
public struct OptimizerSettings: SettingsSection {
    public enum Schedule: String, Codable, CaseIterable, Sendable { case constant, linear, cosine }
    public var lr: Double = 3e-4
    public var warmup: Int = 0
    public var schedule: Schedule = .cosine
    public var minLRRatio: Double = 0.1
    public var weightDecay: Double = 0.1
    public var clip: Double = 1.0
    public var beta1: Double = 0.9
    public var beta2: Double = 0.95
    public var eps: Double = 1e-8

    public init() {}

    public static let keys: [Setting<OptimizerSettings>] = [
        .value("lr", \.lr, .between(0, 1), "peak learning rate"),
        .value("warmup", \.warmup, .atLeast(0), "linear warm-up steps from 0 to `lr`"),
        .choice("schedule", \.schedule, "decay after warm-up: constant, linear or cosine to `min_lr_ratio · lr`"),
        .value("min_lr_ratio", \.minLRRatio, .within(0, 1), "where the decay ends, as a fraction of `lr`"),
        .value("weight_decay", \.weightDecay, .atLeast(0), "decoupled weight decay, matrices only"),
        .value("clip", \.clip, Bounds.atLeast(0).noting("(0 = off)"), "global gradient-norm clip"),
        .value("beta1", \.beta1, .from(0, below: 1), "AdamW β₁"),
        .value("beta2", \.beta2, .from(0, below: 1), "AdamW β₂"),
        .value("eps", \.eps, .above(0), "AdamW ε"),
    ]
}

/// One entry of a manifest's `stages` list.
public struct StageSpec: SettingsSection {
    /// Unique within the job; names the output folder and what later stages refer to.
    public var name: String = ""
    public var kind: StageKind = StageKind("sft")
    /// Optimizer steps (PPO, GRPO, RLOO: iterations).
    public var steps: Int = 0
    /// Checkpoints the stage starts from, by role, as written: an earlier stage's name or a file path.
    public var sources: [SourceRole: String] = [:]
    /// A distillation student's shape when it differs from the job's model.
    public var model: ModelConfig?
    public var data = DataSpec()
    /// Rows per optimizer step (preference pairs for reward and dpo; prompts for ppo, grpo and rloo).
    public var batch: Int = 16
    /// Rows per forward/backward; gradients accumulate over batch / micro_batch passes.
    public var microBatch: Int?
    public var optimizer = OptimizerSettings()
    public var checkpointEvery: Int = 100
    /// Step checkpoints kept (final.h5 is always kept).
    public var keep: Int = 3
    /// Evaluate every N steps (0 = only at the end).
    public var evalEvery: Int = 0
    /// Skip (and count) malformed JSONL lines instead of failing.
    public var skipBadLines: Bool = false
    /// Reward: the centering coefficient of `coef · mean((r_c + r_r)²)`.
    public var centerRewards: Double = 0
    /// The kinds' settings sections present in the entry, by section name (normally only the kind's own:
    /// validation rejects the others).
    public var sections: [String: any SettingsSection] = [:]

    public init() {}
    public init(name: String, kind: StageKind, data: DataSpec, steps: Int) {
        self.name = name; self.kind = kind; self.data = data; self.steps = steps
    }

    public static let keys: [Setting<StageSpec>] = identity + sourceKeys + common + StageKinds.sections.map { $0.type.kindSection($0.name) }

    static let identity: [Setting<StageSpec>] = [
        .required("name", \.name, .folderName, standIn: "unnamed", "unique in the job; names `OUTPUT/NAME/` and what later stages refer to"),
        .required("kind", \.kind, .any, standIn: "sft", shape: .choice(StageKinds.names), "the stage kind (table above)"),
        .required("steps", \.steps, .positive, standIn: "1", "optimizer steps (ppo, grpo, rloo: iterations)"),
    ]

    static let sourceKeys: [Setting<StageSpec>] = SourceRole.allCases.map { role in
        Setting.optional(role.rawValue, \.sources[role], .any, "an earlier stage's name or a checkpoint file: " + StageKinds.usage(of: role))
    }

    static let common: [Setting<StageSpec>] = [
        .optional("model", \.model, .any, absent: "the job's", shape: .model, "the stage's own model shape: " + StageKinds.usage(ofStageKey: "model")),
        .section("data", \.data, "data files by role"),
        .value("batch", \.batch, .positive, "rows per step (pairs for reward and dpo, prompts for ppo, grpo and rloo)"),
        .optional("micro_batch", \.microBatch, .positive, absent: "`batch`", "rows per forward/backward; must divide `batch` (gradients accumulate)"),
        .section("optimizer", \.optimizer, "AdamW"),
        .value("checkpoint_every", \.checkpointEvery, .positive, "write `step-NNNNNN.h5` every N steps"),
        .value("keep", \.keep, .atLeast(1), "step checkpoints kept (final.h5 always)"),
        .value("eval_every", \.evalEvery, Bounds("0 or ≥ 1", message: "must be 0 (end only) or a positive integer") { $0 >= 0 },
               "evaluate every N steps; 0 = at step 0 and at the end only"),
        .value("skip_bad_lines", \.skipBadLines, .any, "skip and count malformed JSONL lines instead of failing"),
        .value("center_rewards", \.centerRewards, .atLeast(0), "coefficient of `mean((r_c + r_r)²)`: " + StageKinds.usage(ofStageKey: "center_rewards")),
    ]

    public func crossProblems(in spec: StageSpec, model: ModelConfig) -> [(key: String, message: String)] {
        guard let m = microBatch, m > 0, batch > 0, batch % m != 0 else { return [] }
        return [("micro_batch", "must be positive and divide batch (\(batch))")]
    }

    /// Problems with values (ranges, combinations), each as (key path under the stage, message).
    /// Kinds, references, files and shapes are checked by Jobs, which knows the other stages and files.
    public func problems(model: ModelConfig) -> [(key: String, message: String)] { problems(in: self, model: model) }

    /// The stage's settings section of type `S`: as given in the manifest, or every default.
    public func settings<S: SettingsSection>(_ type: S.Type) -> S { sections[kind.rawValue] as? S ?? S() }

    /// The stage's own settings section, when the manifest gives one.
    public subscript<S: SettingsSection>(section type: S.Type) -> S? {
        get { sections[kind.rawValue] as? S }
        set { sections[kind.rawValue] = newValue }
    }

    /// The sources given, in role order.
    public var givenSources: [(role: SourceRole, reference: String)] {
        SourceRole.allCases.compactMap { role in sources[role].map { (role, $0) } }
    }

    /// Rows per forward/backward pass.
    public var rowsPerPass: Int { min(batch, max(1, microBatch ?? batch)) }

    public static func == (a: StageSpec, b: StageSpec) -> Bool {
        a.name == b.name && a.kind == b.kind && a.steps == b.steps && a.sources == b.sources && a.model == b.model
            && a.data == b.data && a.batch == b.batch && a.microBatch == b.microBatch && a.optimizer == b.optimizer
            && a.checkpointEvery == b.checkpointEvery && a.keep == b.keep && a.evalEvery == b.evalEvery
            && a.skipBadLines == b.skipBadLines && a.centerRewards == b.centerRewards
            && a.sections.keys.sorted() == b.sections.keys.sorted()
            && a.sections.allSatisfy { name, section in b.sections[name].map(section.isEqual) ?? false }
    }
}

extension Bounds where Value == String {
    /// A stage name names a folder.
    static var folderName: Bounds {
        Bounds("letters, digits, `-`, `_`", message: "must be letters, digits, '-' or '_' (it names a folder)") { name in
            !name.isEmpty && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
        }
    }
}

extension StageKinds {
    /// "ppo (required), dpo (required): the policy's start, also the frozen reference": which kinds read a
    /// source role, for the docs.
    static func usage(of role: SourceRole) -> String {
        describeUsers(all.compactMap { d in d.uses(role).map { (d.kind, $0.required, $0.meaning) } })
    }

    static func usage(of role: DataRole) -> String {
        describeUsers(all.compactMap { d in d.uses(role).map { (d.kind, $0.required, $0.rows) } })
    }

    static func usage(ofStageKey key: String) -> String {
        let kinds = all.filter { $0.stageKeys.contains(key) }.map(\.kind.rawValue)
        return kinds.isEmpty ? "no kind reads it" : kinds.joined(separator: ", ") + " only"
    }

    /// Kinds grouped by what they say about a key: "sft, reward: SFT rows; ppo (required): prompts".
    private static func describeUsers(_ users: [(kind: StageKind, required: Bool, meaning: String)]) -> String {
        var groups: [(meaning: String, kinds: [String])] = []
        for user in users {
            let name = user.kind.rawValue + (user.required ? " (required)" : "")
            if let i = groups.firstIndex(where: { $0.meaning == user.meaning }) { groups[i].kinds.append(name) }
            else { groups.append((user.meaning, [name])) }
        }
        return groups.map { $0.kinds.joined(separator: ", ") + ": " + $0.meaning }.joined(separator: "; ")
    }
}

extension SettingsSection {
    /// The entry of a kind's settings section: decoded whenever present (validation rejects a section of
    /// another kind), checked — defaults included — when it is the stage's own.
    static func kindSection(_ name: String) -> Setting<StageSpec> {
        typealias S = Self
        return Setting<StageSpec>(key: name, meaning: "\(name) settings", shape: .section(S.schema),
                decode: { spec, c in if let value = try c.decodeIfPresent(S.self, forKey: SettingKey(name)) { spec.sections[name] = value } },
                encode: { spec, c in if let value = spec.sections[name] as? S { try c.encode(value, forKey: SettingKey(name)) } },
                problems: { spec, _, model in
                    guard spec.kind.rawValue == name else { return [] }
                    return spec.settings(S.self).problems(in: spec, model: model).map { ("\(name).\($0.key)", $0.message) }
                },
                documentation: { _, prefix in S.documentation(prefix: prefix + name + ".") })
    }
}
