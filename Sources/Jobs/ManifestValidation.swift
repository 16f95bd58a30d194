// The checks that need the whole decoded job: value ranges (the key tables' bounds, `ModelConfig.problems`),
// what each stage kind needs and accepts (its declaration: sources, data files, settings section, own
// stage keys), stage names, references to other stages or checkpoint files, data files on disk, and
// model shapes against the checkpoints stages start from. Each problem names its key path; values are
// quoted from the YAML where there is one.

import Checkpoint
import Foundation
import Stages
import Transformer
import Yams

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
        for (key, message) in spec.problems(model: job.model(of: spec)) where !standIns.contains(KeyPath.child(path, key)) {
            report(KeyPath.child(path, key), message + got(KeyPath.child(path, key)))
        }
        if let model = spec.model { checkModel(model, at: KeyPath.child(path, "model")) }
        if !standIns.contains(KeyPath.child(path, "name")),
           let first = job.stages.firstIndex(where: { $0.name == spec.name }), first < position {
            report(KeyPath.child(path, "name"), "'\(spec.name)' is already the name of stages[\(indices[first])]; stage names must be unique")
        }
        guard !standIns.contains(KeyPath.child(path, "kind")) else {
            for (role, file) in spec.data.given { checkDataFile(file, key: KeyPath.child(path, "data.\(role.rawValue)"), of: nil) }
            return
        }
        let declaration = spec.kind.declaration
        let kind = spec.kind.withArticle
        for use in declaration.sources where use.required && spec.sources[use.role] == nil {
            report(KeyPath.child(path, use.role.rawValue), "is required for \(kind) stage (an earlier stage's name or a checkpoint file)")
        }
        for use in declaration.data where use.required && spec.data[use.role] == nil {
            report(KeyPath.child(path, "data.\(use.role.rawValue)"), "is required for \(kind) stage (a JSONL file)")
        }
        for (role, _) in spec.givenSources where declaration.uses(role) == nil {
            let takes = declaration.sources.isEmpty ? "no source" : Self.list(declaration.sources.map(\.role.rawValue))
            report(KeyPath.child(path, role.rawValue), "is not used by \(kind) stage (it takes \(takes))")
        }
        for (role, _) in spec.data.given where declaration.uses(role) == nil {
            report(KeyPath.child(path, "data.\(role.rawValue)"),
                   "is not used by \(kind) stage (it reads data.\(Self.list(declaration.data.map(\.role.rawValue), or: "data.")))")
        }
        for section in spec.sections.keys.sorted() where section != declaration.section {
            report(KeyPath.child(path, section), "only \(StageKind(section).withArticle) stage takes \(section) settings (this one is \(kind))")
        }
        for other in StageKinds.all where other.kind != spec.kind {
            for key in other.stageKeys where !declaration.stageKeys.contains(key) {
                guard let setting = StageSpec.keys.first(where: { $0.key == key }), !setting.isDefault(spec) else { continue }
                report(KeyPath.child(path, key), "only \(other.kind.withArticle) stage takes \(key) (this one is \(kind))")
            }
        }
        for (role, file) in spec.data.given where declaration.uses(role) != nil {
            checkDataFile(file, key: KeyPath.child(path, "data.\(role.rawValue)"), of: (role, spec))
        }
        for (role, reference) in spec.givenSources {
            guard let use = declaration.uses(role) else { continue }
            checkSource(reference, use: use, of: spec, position: position, key: KeyPath.child(path, role.rawValue))
        }
    }

    /// stage's `skip_bad_lines`): bad data is refused here, before the job writes anything.
    private mutating func checkDataFile(_ file: String, key: String, of stage: (role: DataRole, spec: StageSpec)?) {
        var isFolder: ObjCBool = false
        if !FileManager.default.fileExists(atPath: file, isDirectory: &isFolder) {
            report(key, "no such file: \(file)")
        } else if isFolder.boolValue {
            report(key, "is a folder, expected a JSONL file: \(file)")
        } else if readData, let (role, spec) = stage {
            do { try Stages.readData(role, of: spec) } catch { report(key, "\(error)") }
        }
    }

    /// A reference names an earlier stage (whose output must fit this role and shape) or a checkpoint.
    private mutating func checkSource(_ reference: String, use: SourceUse, of spec: StageSpec, position: Int, key: String) {
        let expected = use.sameShape ? job.model(of: spec) : nil
        let role = use.role.rawValue
        let wanted = use.kinds.map { kinds in kinds.map { $0.withArticle }.joined(separator: " or ") + " stage or a checkpoint of one" }
        if let (sourcePosition, source) = job.stage(named: reference) {
            guard sourcePosition < position else {
                let which = sourcePosition == position ? "this stage itself" : "stages[\(indices[sourcePosition])], which runs later"
                report(key, "'\(reference)' is \(which); name an earlier stage or a checkpoint file")
                return
            }
            if let kinds = use.kinds, let wanted, !kinds.contains(source.kind) {
                report(key, "stage '\(reference)' is \(source.kind.withArticle) stage; \(role) must name \(wanted)")
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
            if let kinds = use.kinds, let wanted, !kinds.contains(StageKind(file.metadata.stageKind)) {
                report(key, "\(reference) is a checkpoint of \(StageKind(file.metadata.stageKind).withArticle) stage; \(role) must name \(wanted)")
            }
            guard let data = file.metadata.configJSON.data(using: .utf8),
                  let config = try? JSONDecoder().decode(ModelConfig.self, from: data) else {
                report(key, "\(reference): its config_json does not describe a model")
                return
            }
            checkShape(config, against: expected, vocabOf: job.model(of: spec), from: reference, key: key)
        }
    }

    /// The source's shape must equal `expected`; a teacher (no expectation) must share the vocabulary.
    private mutating func checkShape(_ shape: ModelConfig, against expected: ModelConfig?, vocabOf model: ModelConfig, from source: String, key: String) {
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
    private mutating func checkModel(_ model: ModelConfig, at section: String) {
        for (key, message) in model.problems(in: section) {
            let involved = ModelKeys.allowed.filter { $0 == key || message.contains($0) }
            if involved.contains(where: { standIns.contains(KeyPath.child(section, $0)) }) { continue }
            report(KeyPath.child(section, key), message)
        }
    }

    static func text(_ c: ModelConfig) -> String { c.summary }

    static func list(_ items: [String], or prefix: String = "") -> String {
        items.count <= 1 ? items.joined() : items.dropLast().joined(separator: ", ") + " or \(prefix)" + items.last!
    }

    static func isFolderName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".."
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }
}
