// From a YAML file to a `JobManifest` that is safe to run, before any work starts:
//
//   1. parse the YAML (a syntax error is reported with its line);
//   2. the structural check (ManifestSchema): unknown keys, missing required keys, non-mappings;
//   3. decode the job keys, then each stage entry, reporting every value of the wrong type;
//   4. fill defaults and resolve paths (below);
//   5. write the demo datasets into `demo_data` when some of them are missing;
//   6. validate (ManifestValidation): ranges, kinds, references, files (every data file parsed, as
//      its stage will read it), source checkpoints, shapes.
// Every problem from every step is collected; any problem throws one `ManifestError` listing them.
//
// Path resolution: data files, checkpoint sources and `demo_data` are relative to the manifest's
// folder; `output` is relative to the current directory (so the default `Checkpoints/NAME` lands in
// the checkout's `Checkpoints/` when run from its root). A source (any `SourceRole`: `init`, `policy`,
// ...) that names a stage of the job stays a stage name; anything else is a checkpoint path.

import Foundation
import Stages
import Yams

public enum ManifestLoader {
    /// Loads, resolves and validates the manifest at `path`. `readData: false` only checks that data
    /// files exist (for commands that look a job up rather than run it).
    public static func load(_ path: String, currentDirectory: String = FileManager.default.currentDirectoryPath,
                            prepareDemoData: Bool = true, readData: Bool = true) throws(ManifestError) -> JobManifest {
        let url = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: currentDirectory, isDirectory: true))
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            let reason = FileManager.default.fileExists(atPath: url.path) ? "cannot be read as UTF-8 text" : "no such file"
            throw ManifestError(file: path, problems: [ManifestProblem(key: "", message: reason)])
        }
        return try load(yaml: text, file: path, folder: url.deletingLastPathComponent().path,
                        defaultName: url.deletingPathExtension().lastPathComponent,
                        currentDirectory: currentDirectory, prepareDemoData: prepareDemoData, readData: readData)
    }

    /// Loads manifest text. `file` names it in messages, relative data paths resolve against
    /// `folder`, `output` against `currentDirectory`; `defaultName` is the job name when it has none.
    public static func load(yaml: String, file: String, folder: String, defaultName: String = "job",
                            currentDirectory: String = FileManager.default.currentDirectoryPath,
                            prepareDemoData: Bool = true, readData: Bool = true) throws(ManifestError) -> JobManifest {
        func fail(_ problems: [ManifestProblem]) -> ManifestError { ManifestError(file: file, problems: problems) }
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                throw fail([ManifestProblem(key: "", message: "the file is empty; a manifest needs at least model and stages")])
            }
            root = node
        } catch let error as ManifestError {
            throw error
        } catch {
            throw fail([syntaxProblem(error)])
        }

        var check = StructuralCheck()
        guard let cleaned = check.check(root, as: .job, at: "") else { throw fail(check.problems) }
        let jobKeys = Node(cleaned.mapping!.filter { $0.key.string != "stages" }.map { ($0.key, $0.value) })
        let decodedJob = TolerantDecoder.decode(JobManifest.self, from: jobKeys, at: "", check: &check)
        var stages: [(index: Int, spec: StageSpec)] = []
        for (index, node) in (cleaned.mapping?["stages"]?.sequence.map(Array.init) ?? []).enumerated() where node.mapping != nil {
            if let spec = TolerantDecoder.decode(StageSpec.self, from: node, at: KeyPath.element("stages", index), check: &check) {
                stages.append((index, spec))
            }
        }
        guard var job = decodedJob else { throw fail(check.problems) }

        job.stages = stages.map(\.spec)
        if job.name.isEmpty { job.name = defaultName }
        if job.output.isEmpty { job.output = "Checkpoints/" + job.name }
        let paths = PathResolver(manifestFolder: folder, currentDirectory: currentDirectory)
        job = paths.resolve(job)

        var problems = check.problems
        if prepareDemoData, let folder = job.demoData, let problem = DemoData.prepare(in: folder) {
            problems.append(problem)
        }
        var validator = ManifestValidator(job: job, indices: stages.map(\.index), root: cleaned, standIns: check.standIns,
                                          readData: readData)
        problems += validator.problems()
        for i in problems.indices where problems[i].line == nil { problems[i].line = line(of: problems[i].key, in: check.lines) }
        problems = inFileOrder(problems)
        if !problems.isEmpty { throw fail(problems) }
        return job
    }

    /// Problems sorted by line (stable: problems of one line keep the order they were found in).
    static func inFileOrder(_ problems: [ManifestProblem]) -> [ManifestProblem] {
        let numbered = Array(problems.enumerated())
        let sorted = numbered.sorted { a, b in
            let lineA = a.element.line ?? Int.max, lineB = b.element.line ?? Int.max
            return lineA != lineB ? lineA < lineB : a.offset < b.offset
        }
        return sorted.map(\.element)
    }

    /// The line of a key path, or of its nearest parent in the file.
    static func line(of key: String, in lines: [String: Int]) -> Int? {
        var key = key
        while !key.isEmpty {
            if let line = lines[key] { return line }
            if key.hasSuffix("]"), let bracket = key.lastIndex(of: "[") { key = String(key[..<bracket]) }
            else if let dot = key.lastIndex(of: ".") { key = String(key[..<dot]) }
            else { return nil }
        }
        return nil
    }

    /// A YAML syntax error as one problem with its line.
    static func syntaxProblem(_ error: Error) -> ManifestProblem {
        guard let error = error as? YamlError else { return ManifestProblem(key: "", message: "not valid YAML: \(error)") }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            let where_ = context.map { "\($0.text) " } ?? ""
            return ManifestProblem(key: "", message: "not valid YAML: \(where_)\(problem) (column \(mark.column))", line: mark.line)
        case let .duplicatedKeysInMapping(duplicates, _):
            return ManifestProblem(key: "", message: "a key appears twice in one mapping: \(duplicates.sorted().joined(separator: ", "))")
        default:
            return ManifestProblem(key: "", message: "not valid YAML: \(error)")
        }
    }
}

/// Makes a manifest's paths absolute (see the file comment for which base each uses).
struct PathResolver {
    let manifestFolder: String
    let currentDirectory: String

    func resolve(_ job: JobManifest) -> JobManifest {
        var job = job
        job.output = absolute(job.output, against: currentDirectory)
        job.demoData = job.demoData.map { absolute($0, against: manifestFolder) }
        let names = Set(job.stages.map(\.name))
        func source(_ reference: String?) -> String? {
            guard let reference, !names.contains(reference) else { return reference }
            return absolute(reference, against: manifestFolder)
        }
        for i in job.stages.indices {
            var spec = job.stages[i]
            for (role, path) in spec.data.given { spec.data[role] = absolute(path, against: manifestFolder) }
            for (role, reference) in spec.givenSources { spec.sources[role] = source(reference) }
            for name in spec.sections.keys { spec.sections[name]!.resolvePaths { absolute($0, against: manifestFolder) } }
            job.stages[i] = spec
        }
        return job
    }

    /// `path` made absolute against `base`, with `~` expanded and `.`/`..` removed.
    func absolute(_ path: String, against base: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        let joined = expanded.hasPrefix("/") ? expanded : (base as NSString).appendingPathComponent(expanded)
        return URL(fileURLWithPath: joined).standardizedFileURL.path
    }
}
