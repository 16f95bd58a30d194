// The manifest's shape as a tree of sections, checked on the YAML node tree before anything is
// decoded, so that every problem is found in one pass rather than the first one Codable stops at:
//
//   - unknown keys at every level (each section's `allowedKeys`), reported and dropped;
//   - required keys that are missing, reported and replaced by a stand-in so the rest of the entry
//     can still be checked (the stand-in's key path is remembered: checks that would only complain
//     about the stand-in are skipped);
//   - sections that should be mappings or lists but are not;
//   - `model.vocab: byte` (or no vocab, without a `preset`) rewritten to 259; with a `preset`, no
//     model key is required.
//
// Then `decodeEach` decodes with Yams; a value of the wrong type is reported, removed (so its
// default applies) and decoding is tried again, until it succeeds.

import Foundation
import Stages
import Transformer
import Yams

/// One level of the manifest: its keys, the required ones (with stand-ins), and its sub-sections. The
/// stage entries' levels come from the key tables of Stages (`StageSpec.keys`, each kind's settings).
struct SchemaSection: Sendable {
    enum Child: Sendable {
        case mapping(SchemaSection)
        case list(of: SchemaSection)
    }

    var allowed: [String]
    /// Required key → a stand-in value (YAML text) used after reporting it missing.
    var required: [(key: String, standIn: String)] = []
    var children: [String: Child] = [:]
    /// A `model` section: `vocab` may be `byte` or absent.
    var isModel = false

    static let model = SchemaSection(
        allowed: ModelKeys.allowed, required: ModelKeys.required.map { ($0, "1") },
        children: ["rope_scaling": .mapping(SchemaSection(allowed: RopeScaling.keys))], isModel: true)

    static let stage = SchemaSection(StageSpec.schema)

    /// A level declared by a key table.
    init(_ schema: SectionSchema) {
        allowed = schema.keys
        required = schema.required
        for (key, shape) in schema.shapes {
            switch shape {
            case .section(let child): children[key] = .mapping(SchemaSection(child))
            case .list(let child): children[key] = .list(of: SchemaSection(child))
            case .model: children[key] = .mapping(.model)
            case .value, .choice: break
            }
        }
    }

    init(allowed: [String], required: [(key: String, standIn: String)] = [], children: [String: Child] = [:], isModel: Bool = false) {
        self.allowed = allowed
        self.required = required
        self.children = children
        self.isModel = isModel
    }

    static let job = SchemaSection(
        allowed: JobManifest.allowedKeys,
        required: [("model", "{context: 1, layers: 1, heads: 1, embedding: 1}"), ("stages", "[]")],
        children: ["model": .mapping(.model), "stages": .list(of: .stage),
                   "logging": .mapping(SchemaSection(allowed: LoggingSettings.allowedKeys))])
}

/// Key paths as users read them: `stages[2].ppo.clip`.
enum KeyPath {
    static func child(_ parent: String, _ key: String) -> String { parent.isEmpty ? key : parent + "." + key }
    static func element(_ parent: String, _ index: Int) -> String { parent + "[\(index)]" }

    /// The key path of a Codable coding path, below `prefix`.
    static func of(_ codingPath: [CodingKey], under prefix: String) -> String {
        codingPath.reduce(prefix) { path, key in
            key.intValue.map { element(path, $0) } ?? child(path, key.stringValue)
        }
    }
}

/// The structural pass: problems found, stand-ins inserted, and the line of every key path.
struct StructuralCheck {
    var problems: [ManifestProblem] = []
    /// Key paths whose value is a stand-in for a missing required key.
    var standIns: Set<String> = []
    /// The YAML line of every key path seen (for messages about values checked later).
    var lines: [String: Int] = [:]

    /// Checks `node` against `section` and returns it cleaned (unknown keys dropped, stand-ins
    /// added), or nil when it is not a mapping at all.
    mutating func check(_ node: Node, as section: SchemaSection, at path: String) -> Node? {
        guard case .mapping(let mapping) = node else {
            report(path, "expected a mapping of keys (\(section.allowed.joined(separator: ", "))), got \(Self.describe(node))", node)
            return nil
        }
        var pairs: [(Node, Node)] = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.string, case .scalar = keyNode else {
                report(path, "keys must be plain names, got \(Self.describe(keyNode))", keyNode); continue
            }
            let keyPath = KeyPath.child(path, key)
            lines[keyPath] = keyNode.mark?.line
            guard section.allowed.contains(key) else {
                report(keyPath, "unknown key" + Self.suggestion(for: key, among: section.allowed)
                        + " (allowed here: \(section.allowed.joined(separator: ", ")))", keyNode)
                continue
            }
            if let checked = checkChild(value, key: key, of: section, at: keyPath) {
                pairs.append((keyNode, checked))
            } else if let standIn = section.required.first(where: { $0.key == key })?.standIn {
                standIns.insert(keyPath)
                pairs.append((keyNode, Self.node(standIn)))
            }
        }
        let presetGiven = section.isModel && pairs.contains { $0.0.string == "preset" }
        for (key, standIn) in section.required where !presetGiven && !pairs.contains(where: { $0.0.string == key }) {
            let keyPath = KeyPath.child(path, key)
            report(keyPath, "is required" + (section.isModel ? " (a positive integer), unless a preset gives it" : ""), node)
            standIns.insert(keyPath)
            pairs.append((Node(key), Self.node(standIn)))
        }
        if section.isModel { pairs = Self.resolvingByteVocabulary(pairs) }
        return .mapping(Node.Mapping(pairs, mapping.tag, mapping.style, mapping.mark))
    }

    /// A stand-in's node, from its YAML text.
    static func node(_ yaml: String) -> Node { (try? Yams.compose(yaml: yaml)) ?? nil ?? Node(yaml) }

    /// The checked value of `key`, or nil when it is not even the right kind of node.
    private mutating func checkChild(_ value: Node, key: String, of section: SchemaSection, at keyPath: String) -> Node? {
        switch section.children[key] {
        case nil:
            return value
        case .mapping(let child)?:
            return check(value, as: child, at: keyPath)
        case .list(let child)?:
            guard case .sequence(let sequence) = value else {
                report(keyPath, "expected a list, got \(Self.describe(value))", value)
                return nil
            }
            var elements: [Node] = []
            for (index, element) in sequence.enumerated() {
                let elementPath = KeyPath.element(keyPath, index)
                lines[elementPath] = element.mark?.line
                // An element that is not a mapping stays a scalar, which the loader skips.
                elements.append(check(element, as: child, at: elementPath) ?? Node("invalid"))
            }
            return .sequence(Node.Sequence(elements, sequence.tag, sequence.style, sequence.mark))
        }
    }

    mutating func report(_ key: String, _ message: String, _ node: Node?) {
        problems.append(ManifestProblem(key: key, message: message, line: node?.mark?.line ?? lines[key]))
    }

    /// `vocab: byte` and a missing vocab both mean the byte tokenizer's vocabulary (a preset brings its own).
    static func resolvingByteVocabulary(_ pairs: [(Node, Node)]) -> [(Node, Node)] {
        var pairs = pairs
        let byte = Node(String(ModelKeys.byteVocabulary))
        if let i = pairs.firstIndex(where: { $0.0.string == "vocab" }) {
            if pairs[i].1.string == "byte" { pairs[i].1 = byte }
        } else if !pairs.contains(where: { $0.0.string == "preset" }) {
            pairs.append((Node("vocab"), byte))
        }
        return pairs
    }

    /// "a list", "a mapping", or the scalar quoted.
    static func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): return scalar.string.isEmpty ? "nothing" : "'\(scalar.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// "; did you mean 'lr'?" when a known key is one or two edits away.
    static func suggestion(for key: String, among allowed: [String]) -> String {
        let close = allowed.map { ($0, editDistance(key, $0)) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }
        return close.map { "; did you mean '\($0.0)'?" } ?? ""
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let saved = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = saved
            }
        }
        return row[b.count]
    }
}

/// Decodes with Yams, reporting each value of the wrong type and retrying without it.
struct TolerantDecoder {
    /// Allowed values of the enum-valued keys, by the last two components of their key path without
    /// list indices (`optimizer.schedule`, `graders.type`), or by the key alone at the stage level (`kind`).
    static let enumValues: [String: [String]] = {
        var values: [String: [String]] = [:]
        func walk(_ schema: SectionSchema, under parent: String?) {
            for (key, shape) in schema.shapes {
                switch shape {
                case .choice(let choices): values[parent.map { "\($0).\(key)" } ?? key] = choices
                case .section(let child), .list(let child): walk(child, under: key)
                case .value, .model: break
                }
            }
        }
        walk(StageSpec.schema, under: nil)
        values["model.architecture"] = Architecture.allCases.map(\.rawValue)
        values["model.preset"] = ModelConfig.presets.map(\.key)
        values["rope_scaling.type"] = ["llama3"]
        return values
    }()

    /// Stand-ins for required keys, by key name (the names do not clash across sections).
    static let standIns: [String: String] = {
        var all: [String: String] = ["vocab": String(ModelKeys.byteVocabulary)]
        func collect(_ section: SchemaSection) {
            for (key, value) in section.required { all[key] = value }
            for child in section.children.values {
                switch child {
                case .mapping(let s), .list(of: let s): if !s.isModel { collect(s) }
                }
            }
        }
        for section in [SchemaSection.job, .model] { collect(section) }
        return all
    }()

    /// `T` from `node` (a key path `prefix` in the file), or nil when it cannot be decoded at all.
    /// A value of the wrong type is reported and removed, so its default applies; a required key
    /// that is missing (or was removed) gets a stand-in, remembered in `check.standIns`.
    static func decode<T: Decodable>(_ type: T.Type, from node: Node, at prefix: String, check: inout StructuralCheck) -> T? {
        var node = node
        var removed: Set<String> = []
        for _ in 0..<200 {
            do {
                return try YAMLDecoder().decode(T.self, from: node)
            } catch let error as DecodingError {
                let (codingPath, message) = explain(error, in: node)
                let keyPath = KeyPath.of(codingPath, under: prefix)
                var replacement: Node?
                if case .keyNotFound(let key, _) = error {
                    guard let standIn = standIns[key.stringValue] else { check.report(keyPath, message, nil); return nil }
                    replacement = StructuralCheck.node(standIn)
                    if !removed.contains(keyPath) && !check.standIns.contains(keyPath) { check.report(keyPath, message, nil) }
                    check.standIns.insert(keyPath)
                } else {
                    if !check.standIns.contains(keyPath) { check.report(keyPath, message, nil) }
                    removed.insert(keyPath)
                }
                guard !codingPath.isEmpty, let changed = replacing(codingPath[...], with: replacement, in: node), changed != node else {
                    return nil
                }
                node = changed
            } catch {
                check.report(prefix, "\(error)", nil)
                return nil
            }
        }
        return nil
    }

    /// The coding path of a decoding error and what to tell the user.
    static func explain(_ error: DecodingError, in root: Node) -> ([CodingKey], String) {
        switch error {
        case let .typeMismatch(type, context):
            return (context.codingPath, "expected \(describe(type)), got \(found(context.codingPath, in: root))")
        case let .valueNotFound(type, context):
            return (context.codingPath, "expected \(describe(type)), got nothing")
        case let .keyNotFound(key, context):
            return (context.codingPath + [key], "is required")
        case let .dataCorrupted(context):
            let path = KeyPath.of(context.codingPath.filter { $0.intValue == nil }, under: "")
            let lastTwo = path.split(separator: ".").suffix(2).joined(separator: ".")
            if let values = enumValues[lastTwo] ?? enumValues[String(path.split(separator: ".").last ?? "")] {
                return (context.codingPath, "expected one of \(values.joined(separator: ", ")), got \(found(context.codingPath, in: root))")
            }
            return (context.codingPath, "invalid value \(found(context.codingPath, in: root)): \(context.debugDescription)")
        @unknown default:
            return ([], "\(error)")
        }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is UInt64.Type: return "a non-negative integer"
        case is Double.Type, is Float.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is String.Type: return "a string"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "a list" }
            if name.hasPrefix("Dictionary") { return "a mapping" }
            return name
        }
    }

    /// The node at a coding path, described.
    static func found(_ codingPath: [CodingKey], in root: Node) -> String {
        var node: Node? = root
        for key in codingPath {
            if let index = key.intValue { node = node?.sequence.flatMap { index < $0.count ? $0[index] : nil } }
            else { node = node?.mapping?[key.stringValue] }
        }
        return node.map(StructuralCheck.describe) ?? "nothing"
    }

    /// `node` with the value at `path` replaced (added when missing), or removed when `value` is nil.
    static func replacing(_ path: ArraySlice<CodingKey>, with value: Node?, in node: Node) -> Node? {
        guard let first = path.first else { return nil }
        switch node {
        case .mapping(let mapping):
            var pairs = mapping.map { ($0.key, $0.value) }
            let i = pairs.firstIndex { $0.0.string == first.stringValue }
            if path.count == 1 {
                if let i { if let value { pairs[i].1 = value } else { pairs.remove(at: i) } }
                else if let value { pairs.append((Node(first.stringValue), value)) }
                else { return nil }
            } else {
                guard let i, let child = replacing(path.dropFirst(), with: value, in: pairs[i].1) else { return nil }
                pairs[i].1 = child
            }
            return .mapping(Node.Mapping(pairs, mapping.tag, mapping.style, mapping.mark))
        case .sequence(let sequence):
            guard let index = first.intValue, index < sequence.count, path.count > 1,
                  let child = replacing(path.dropFirst(), with: value, in: sequence[index]) else { return nil }
            var nodes = Array(sequence)
            nodes[index] = child
            return .sequence(Node.Sequence(nodes, sequence.tag, sequence.style, sequence.mark))
        default:
            return nil
        }
    }
}
