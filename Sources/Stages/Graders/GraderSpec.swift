// One entry of a stage's `graders:` list (GRPO, RLOO; PPO's `eval_graders`): which grader, its weight,
// and the keys its type reads. Which keys each type reads is declared once, in `Kind.keys`; a key
// another type reads is rejected ("graders[1].tolerance: is not used by an exact grader").
//
//   graders:
//     - { type: exact, extract: last_number }               # the `answer` column, compared as numbers
//     - { type: regex, pattern: '^\d+$', weight: 0.2 }       # a format reward
//     - { type: command, command: [python3, grade.py], timeout: 30 }

import Foundation
import Transformer

public struct GraderSpec: SettingsSection {
    public enum Kind: String, Codable, CaseIterable, Sendable {
        case exact, numeric, regex, contains, json, length
        case rewardModel = "reward_model"
        case command
        /// The demo task's lexicon sentiment score (docs/data.md), in (−1, 1).
        case sentiment

        /// The keys this type reads besides `type`, `name` and `weight`.
        var keys: Set<String> {
            switch self {
            case .exact: ["column", "extract", "pattern", "case_sensitive"]
            case .numeric: ["column", "extract", "pattern", "tolerance"]
            case .regex: ["pattern"]
            case .contains: ["column", "text", "case_sensitive"]
            case .json: ["extract", "pattern", "required_keys"]
            case .length: ["max_length", "cache"]
            case .rewardModel: ["normalize"]
            case .command: ["command", "timeout", "cwd"]
            case .sentiment: []
            }
        }
    }

    /// How the answer is taken out of a completion before it is compared.
    public enum Extraction: String, Codable, CaseIterable, Sendable {
        /// The whole completion, whitespace trimmed.
        case trimmed
        /// The last number in the completion (`-12`, `3.5`, `1e-3`).
        case lastNumber = "last_number"
        /// The first match of `pattern` (its first capture group when it has one).
        case regex
    }

    public var type: Kind = .exact
    public var name: String?
    public var weight: Double = 1
    public var column: String?
    public var extract: Extraction?
    public var pattern: String?
    public var caseSensitive: Bool?
    public var tolerance: Double?
    public var text: String?
    public var requiredKeys: [String]?
    public var maxLength: Int?
    public var cache: Int?
    public var normalize: Bool?
    public var command: [String]?
    public var timeout: Double?
    public var cwd: String?

    public init() {}
    public init(_ type: Kind) { self.type = type }

    public static let keys: [Setting<GraderSpec>] = [
        .required("type", \.type, .any, standIn: "exact", shape: .choice(Kind.allCases.map(\.rawValue)),
                  "`exact`, `numeric`, `regex`, `contains`, `json`, `length`, `reward_model`, `command` or `sentiment` (docs/graders.md)"),
        .optional("name", \.name, .any, absent: "the type", "names its metrics (`reward_NAME_mean`); unique in the list"),
        .value("weight", \.weight, .any, "the reward is Σ weight · grader reward over the graders that answered"),
        .optional("column", \.column, .any, absent: "`answer`", "exact, numeric, contains: the dataset column holding the expected answer"),
        .optional("extract", \.extract, .any, absent: "`trimmed` (numeric: `last_number`)",
                  shape: .choice(Extraction.allCases.map(\.rawValue)), "exact, numeric, json: `trimmed`, `last_number` or `regex` (with `pattern`)"),
        .optional("pattern", \.pattern, .any, "regex: the format a completion must match; exact, numeric, json: the extraction regex"),
        .optional("case_sensitive", \.caseSensitive, .any, absent: "`true`", "exact, contains"),
        .optional("tolerance", \.tolerance, Bounds.atLeast(0), absent: "`1e-06`", "numeric: |answer − expected| ≤ tolerance passes"),
        .optional("text", \.text, .any, absent: "the answer column", "contains: the text a completion must contain"),
        .optional("required_keys", \.requiredKeys, .any, absent: "none", "json: keys the object must have"),
        .optional("max_length", \.maxLength, .positive, absent: "the completion limit",
                  "length: L_max, in tokens (DAPO's soft overlong penalty)"),
        .optional("cache", \.cache, Bounds.atLeast(0), absent: "L_max / 4", "length: L_cache, the soft zone below L_max"),
        .optional("normalize", \.normalize, .any, absent: "`false`", "reward_model: use the reward model's stored mean and std"),
        .optional("command", \.command, .any, "command: the program and its arguments, started once per stage (docs/graders.md)"),
        .optional("timeout", \.timeout, .above(0), absent: "`60`", "command: seconds to wait for each answer"),
        .optional("cwd", \.cwd, .any, absent: "the manifest's folder", "command: the folder it runs in"),
    ]

    /// The name metrics use.
    public var displayName: String { name ?? type.rawValue }

    /// The keys given in the manifest (nil-valued ones are absent).
    var givenKeys: [String] {
        let present: [(String, Bool)] = [
            ("column", column != nil), ("extract", extract != nil), ("pattern", pattern != nil), ("case_sensitive", caseSensitive != nil),
            ("tolerance", tolerance != nil), ("text", text != nil), ("required_keys", requiredKeys != nil),
            ("max_length", maxLength != nil), ("cache", cache != nil), ("normalize", normalize != nil), ("command", command != nil),
            ("timeout", timeout != nil),
        ]
        return present.filter(\.1).map(\.0)
    }

    public func crossProblems(in spec: StageSpec, model: ModelConfig) -> [(key: String, message: String)] {
        var found: [(String, String)] = []
        let kind = "\(["exact", "numeric", "json"].contains(type.rawValue) ? "an" : "a") \(type.rawValue) grader"
        for key in givenKeys where !type.keys.contains(key) { found.append((key, "is not used by \(kind)")) }
        if let pattern {
            do { _ = try Regex(pattern) } catch { found.append(("pattern", "is not a valid regular expression: \(error)")) }
        }
        switch type {
        case .regex where pattern == nil: found.append(("pattern", "is required for a regex grader"))
        case .exact, .numeric, .json:
            if extract == .regex && pattern == nil { found.append(("pattern", "is required with extract: regex")) }
            if extract != .regex && pattern != nil && type != .regex { found.append(("pattern", "is used only with extract: regex")) }
        case .command:
            guard let command, let program = command.first, !program.isEmpty else {
                found.append(("command", "is required for a command grader: the program and its arguments, e.g. [python3, grade.py]"))
                break
            }
            if GraderProcess.executable(program, in: cwd ?? FileManager.default.currentDirectoryPath) == nil {
                found.append(("command", "'\(program)' is not an executable file" + (program.contains("/") ? "" : " on PATH")))
            }
        case .rewardModel where spec.sources[.reward] == nil:
            found.append(("type", "a reward_model grader needs the stage's `reward` source (a reward stage or checkpoint)"))
        case .length:
            if let m = maxLength, let c = cache, c > m { found.append(("cache", "must be at most max_length (\(m))")) }
        default: break
        }
        return found
    }
}

extension [GraderSpec] {
    /// A command grader runs in `cwd`, by default the manifest's folder, made absolute.
    public mutating func resolvePaths(_ absolute: (String) -> String) {
        for i in indices where self[i].type == .command { self[i].cwd = absolute(self[i].cwd ?? ".") }
    }

    /// Problems of a whole list: duplicate names (each grader's own keys are checked by its table).
    public func listProblems(key: String) -> [(key: String, message: String)] {
        var seen: [String: Int] = [:]
        var found: [(String, String)] = []
        for (index, grader) in enumerated() {
            if let first = seen[grader.displayName] {
                found.append(("\(key)[\(index)].name", "'\(grader.displayName)' also names \(key)[\(first)]; give each grader its own name"))
            } else {
                seen[grader.displayName] = index
            }
        }
        return found
    }
}
