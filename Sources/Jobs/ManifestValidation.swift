// The checks that need the whole decoded job: value ranges (`StageSpec.problems`,
// `GPTConfig.problems`), what each stage kind needs and accepts, stage names, references to other
// stages or checkpoint files, data files on disk, and model shapes against the checkpoints stages
// start from. Each problem names its key path; values are quoted from the YAML where there is one.

import Checkpoint
import Foundation
import Stages
import Transformer
import Yams

/// What each stage kind needs and accepts (sources by role, data keys, its own settings section).
struct KindRules {
    var requiredSources: [String]
    var allowedSources: [String]
    var requiredData: [String]
    var allowedData: [String]
    /// The settings section the kind takes (`ppo`, `dpo`, `distill`), if any.
    var section: String?

    static func of(_ kind: StageKind) -> KindRules {
        switch kind {
        case .sft: KindRules(requiredSources: [], allowedSources: ["init"], requiredData: ["train"], allowedData: ["train", "eval"])
        case .reward: KindRules(requiredSources: [], allowedSources: ["init"], requiredData: ["train"], allowedData: ["train", "eval"])
        case .ppo: KindRules(requiredSources: ["policy", "reward"], allowedSources: ["policy", "reward"], requiredData: ["prompts"],
                             allowedData: ["prompts", "eval_prompts"], section: "ppo")
        case .dpo: KindRules(requiredSources: ["policy"], allowedSources: ["policy"], requiredData: ["train"],
                             allowedData: ["train", "eval"], section: "dpo")
        case .distill: KindRules(requiredSources: ["teacher"], allowedSources: ["teacher", "init"], requiredData: ["train"],
                                 allowedData: ["train", "eval"], section: "distill")
        }
    }
}

extension StageSpec {
    /// The checkpoint sources by role, as written in the manifest (role, reference).
    var sources: [(role: String, reference: String)] {
        [("init", initFrom), ("policy", policy), ("reward", reward), ("teacher", teacher)].compactMap { role, value in
            value.map { (role, $0) }
        }
    }
}

struct ManifestValidator {
    let job: JobManifest
    /// Each decoded stage's index in the file's `stages` list (entries that did not decode are absent).
    let indices: [Int]
    /// The checked YAML, to quote values in messages.
    let root: Node
    /// Key paths that hold stand-ins for missing required keys: nothing more is said about those.
    let standIns: Set<String>
    /// Whether data files are parsed (every line), not only found.
    let readData: Bool
    /// Checkpoint files read so far (a file named by several stages is read once).
    private var checkpoints: [String: Result<CheckpointFile, Error>] = [:]
    private var found: [ManifestProblem] = []

    init(job: JobManifest, indices: [Int], root: Node, standIns: Set<String>, readData: Bool) {
        self.job = job
        self.indices = indices
        self.root = root
        self.standIns = standIns
        self.readData = readData
    }

    mutating func problems() -> [ManifestProblem] {
        checkJob()
        for (position, spec) in job.stages.enumerated() { checkStage(spec, at: indices[position], position: position) }
        return found
    }

    private mutating func report(_ key: String, _ message: String) {
        found.append(ManifestProblem(key: key, message: message))
    }

    /// " (got X)" when the YAML has a scalar at `key`.
    private func got(_ key: String) -> String {
        var node: Node? = root
        for part in key.split(separator: ".") {
            var name = Substring(part)
            var index: Int?
            if let bracket = name.firstIndex(of: "[") {
                index = Int(name[name.index(after: bracket)...].dropLast())
                name = name[..<bracket]
            }
            node = node?.mapping?[String(name)]
            if let index { node = node?.sequence.flatMap { index < $0.count ? $0[index] : nil } }
        }
        if case .scalar(let scalar)? = node { return " (got '\(scalar.string)')" }
        return ""
    }

    private mutating func checkJob() {
        if !Self.isFolderName(job.name) { report("name", "must be letters, digits, '-', '_' or '.' (it names the job's folder)" + got("name")) }
        if job.threads < 0 { report("threads", "must be 0 (every core) or a positive count" + got("threads")) }
        checkModel(job.model, at: "model")
        if job.stages.isEmpty && indices.isEmpty && !standIns.contains("stages") { report("stages", "must list at least one stage") }
    }

    private mutating func checkStage(_ spec: StageSpec, at index: Int, position: Int) {
        let path = KeyPath.element("stages", index)
        for (key, message) in spec.problems where !standIns.contains(KeyPath.child(path, key)) {
            report(KeyPath.child(path, key), message + got(KeyPath.child(path, key)))
        }
        if let model = spec.model { checkModel(model, at: KeyPath.child(path, "model")) }
        if !standIns.contains(KeyPath.child(path, "name")),
           let first = job.stages.firstIndex(where: { $0.name == spec.name }), first < position {
            report(KeyPath.child(path, "name"), "'\(spec.name)' is already the name of stages[\(indices[first])]; stage names must be unique")
        }
        guard !standIns.contains(KeyPath.child(path, "kind")) else {
            for (key, file) in spec.dataFiles { checkDataFile(file, key: KeyPath.child(path, "data.\(key)"), of: nil) }
            return
        }
        let rules = KindRules.of(spec.kind)
        let kind = Self.article(spec.kind.rawValue)
        for role in rules.requiredSources where !spec.sources.contains(where: { $0.role == role }) {
            report(KeyPath.child(path, role), "is required for \(kind) stage (an earlier stage's name or a checkpoint file)")
        }
        for key in rules.requiredData where !spec.dataFiles.contains(where: { $0.key == key }) {
            report(KeyPath.child(path, "data.\(key)"), "is required for \(kind) stage (a JSONL file)")
        }
        for (role, _) in spec.sources where !rules.allowedSources.contains(role) {
            report(KeyPath.child(path, role), "is not used by \(kind) stage (it takes \(Self.list(rules.allowedSources)))")
        }
        for (key, _) in spec.dataFiles where !rules.allowedData.contains(key) {
            report(KeyPath.child(path, "data.\(key)"), "is not used by \(kind) stage (it reads data.\(Self.list(rules.allowedData, or: "data.")))")
        }
        for (section, present) in [("ppo", spec.ppo != nil), ("dpo", spec.dpo != nil), ("distill", spec.distill != nil)]
        where present && rules.section != section {
            report(KeyPath.child(path, section), "only a \(section) stage takes \(section) settings (this one is \(kind))")
        }
        if spec.model != nil && spec.kind != .distill {
            report(KeyPath.child(path, "model"), "only a distill stage (the student) may have its own model; the job's model applies")
        }
        for (key, file) in spec.dataFiles where rules.allowedData.contains(key) {
            checkDataFile(file, key: KeyPath.child(path, "data.\(key)"), of: (key, spec))
        }
        for (role, reference) in spec.sources where rules.allowedSources.contains(role) {
            checkSource(reference, role: role, of: spec, position: position, key: KeyPath.child(path, role))
        }
    }

    /// The file exists and, with `readData`, parses as the stage will read it (every line, with the
    /// stage's `skip_bad_lines`): bad data is refused here, before the job writes anything.
    private mutating func checkDataFile(_ file: String, key: String, of stage: (key: String, spec: StageSpec)?) {
        var isFolder: ObjCBool = false
        if !FileManager.default.fileExists(atPath: file, isDirectory: &isFolder) {
            report(key, "no such file: \(file)")
        } else if isFolder.boolValue {
            report(key, "is a folder, expected a JSONL file: \(file)")
        } else if readData, let (dataKey, spec) = stage {
            do { try Stages.readData(dataKey, of: spec) } catch { report(key, "\(error)") }
        }
    }

    /// A reference names an earlier stage (whose output must fit this role and shape) or a checkpoint.
    private mutating func checkSource(_ reference: String, role: String, of spec: StageSpec, position: Int, key: String) {
        let expected = role == "teacher" ? nil : job.model(of: spec)
        if let (sourcePosition, source) = job.stage(named: reference) {
            guard sourcePosition < position else {
                let which = sourcePosition == position ? "this stage itself" : "stages[\(indices[sourcePosition])], which runs later"
                report(key, "'\(reference)' is \(which); name an earlier stage or a checkpoint file")
                return
            }
            if role == "reward" && source.kind != .reward {
                report(key, "stage '\(reference)' is \(Self.article(source.kind.rawValue)) stage; reward must name a reward stage or a reward-model checkpoint")
            }
            checkShape(job.model(of: source), against: expected, vocabOf: job.model(of: spec), from: "stage '\(reference)'", key: key)
            return
        }
        guard FileManager.default.fileExists(atPath: reference) else {
            let names = job.stages.indices.prefix(position).filter { !standIns.contains(KeyPath.child(KeyPath.element("stages", indices[$0]), "name")) }
            .map { "'\(job.stages[$0].name)'" }
            let earlier = names.isEmpty ? "there is no earlier stage" : "earlier stages: " + names.joined(separator: ", ")
            report(key, "'\((reference as NSString).lastPathComponent)' is neither an earlier stage (\(earlier)) "
                        + "nor an existing checkpoint file (\(reference))")
            return
        }
        switch checkpoint(at: reference) {
        case .failure(let error):
            report(key, "cannot start from \(error)")
        case .success(let file):
            if role == "reward" && file.metadata.stageKind != StageKind.reward.rawValue {
                report(key, "\(reference) is a checkpoint of \(Self.article(file.metadata.stageKind)) stage; reward must name a reward-model checkpoint")
            }
            guard let data = file.metadata.configJSON.data(using: .utf8),
                  let config = try? JSONDecoder().decode(GPTConfig.self, from: data) else {
                report(key, "\(reference): its config_json does not describe a model")
                return
            }
            checkShape(config, against: expected, vocabOf: job.model(of: spec), from: reference, key: key)
        }
    }

    /// The source's shape must equal `expected`; a teacher (no expectation) must share the vocabulary.
    private mutating func checkShape(_ shape: GPTConfig, against expected: GPTConfig?, vocabOf model: GPTConfig, from source: String, key: String) {
        if let expected, shape != expected {
            report(key, "the model of \(source) is \(Self.text(shape)), but this stage's model is \(Self.text(expected))")
        } else if expected == nil && shape.vocab != model.vocab {
            report(key, "the teacher \(source) has vocab \(shape.vocab), the student \(model.vocab); they must share a tokenizer")
        }
    }

    private mutating func checkpoint(at path: String) -> Result<CheckpointFile, Error> {
        if let known = checkpoints[path] { return known }
        let result = Result { try CheckpointFile.read(from: URL(fileURLWithPath: path)) }
        checkpoints[path] = result
        return result
    }

    /// The model section's own rules, each at its key (`model.heads`), except where a key holds a
    /// stand-in for a missing one (already reported) or a rule involves such a key.
    private mutating func checkModel(_ model: GPTConfig, at section: String) {
        for (key, message) in model.problems {
            let involved = ModelKeys.allowed.filter { $0 == key || message.contains($0) }
            if involved.contains(where: { standIns.contains(KeyPath.child(section, $0)) }) { continue }
            report(KeyPath.child(section, key), message)
        }
    }

    /// "an sft", "a reward".
    static func article(_ word: String) -> String { ("aeio".contains(word.first ?? "x") || word.hasPrefix("sft") ? "an " : "a ") + word }

    static func text(_ c: GPTConfig) -> String {
        "{vocab: \(c.vocab), context: \(c.context), layers: \(c.layers), heads: \(c.heads), embedding: \(c.embedding)}"
    }

    static func list(_ items: [String], or prefix: String = "") -> String {
        items.count <= 1 ? items.joined() : items.dropLast().joined(separator: ", ") + " or \(prefix)" + items.last!
    }

    static func isFolderName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".."
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }
}
