// Scoring sampled completions through one protocol: the graders of GRPO and RLOO (their reward), the
// graders PPO and `rlhf eval` report on held-out samples (the demo's lexicon sentiment), a reward
// model, an external program. A grader sees each prompt row as the dataset has it (every column) with
// the completions sampled for it, and answers a reward or nil per completion: nil means "does not
// apply" (TRL's None), and that grader then takes no part in the completion's reward.
//
//   reward(completion) = Σ_g weight_g · r_g   over the graders g that answered (TRL's nansum);
//   a completion no grader answered is unscorable: no reward, advantage 0.

import Foundation
import Kernels
import Transformer

/// One prompt row and the completions sampled for it.
public struct GradingRow: Sendable {
    /// The dataset row as read: `prompt` and every other column (e.g. `answer`), unchanged.
    public var row: JSONRow
    /// The prompt's tokens as the model saw them (BOS first, left-truncated to fit).
    public var promptTokens: [Int32]
    /// Sampled tokens per completion, EOS included when one was sampled.
    public var completionTokens: [[Int32]]
    /// Whether each completion hit the length limit without EOS.
    public var truncated: [Bool]
    /// Each completion's text, without EOS.
    public var completions: [String]

    public init(row: JSONRow, promptTokens: [Int32], completionTokens: [[Int32]], truncated: [Bool]) {
        self.row = row
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.truncated = truncated
        completions = completionTokens.map { ByteTokenizer.decode($0.filter { $0 != ByteTokenizer.eos }) }
    }

    /// The prompt's text.
    public var prompt: String { (try? row.string("prompt")) ?? "" }
}

/// Scores completions. Graders run on the stage's thread, one call per batch of rows.
public protocol Grader: AnyObject {
    /// Names its metrics (`reward_NAME_mean`).
    var name: String { get }
    var weight: Double { get }
    /// A reward or nil per completion of each row: [rows][completions].
    func grade(_ rows: [GradingRow]) throws -> [[Double?]]
    /// Lines the grader wrote for the job log since the last call (an external program's stderr).
    func drainLog() -> [String]
}

extension Grader {
    public func drainLog() -> [String] { [] }
}

/// A grader that fails stops the stage: it died, hung past its timeout, or answered something that is
/// not a reward per completion. The stage's state is left as it was before the step.
public struct GraderError: Error, CustomStringConvertible, Equatable {
    public var grader: String
    public var message: String

    public var description: String { "grader '\(grader)': \(message)" }
}

/// A grader that scores each completion on its own, from its text and its row.
final class CompletionGrader: Grader {
    let name: String
    let weight: Double
    let score: (_ text: String, _ tokens: [Int32], _ truncated: Bool, _ row: JSONRow) -> Double?

    init(name: String, weight: Double, score: @escaping (String, [Int32], Bool, JSONRow) -> Double?) {
        self.name = name
        self.weight = weight
        self.score = score
    }

    func grade(_ rows: [GradingRow]) throws -> [[Double?]] {
        rows.map { row in row.completions.indices.map { score(row.completions[$0], row.completionTokens[$0], row.truncated[$0], row.row) } }
    }
}

/// The graders of a stage, built from its list, and the reward they add up to.
public final class GraderSet {
    public let graders: [Grader]

    public init(_ graders: [Grader]) { self.graders = graders }

    /// Builds the graders of `specs`. `reward` is the stage's reward source (for `reward_model`),
    /// `maxCompletionLength` the stage's limit (for `length`), `log` where their output goes.
    public convenience init(_ specs: [GraderSpec], reward: StageSource?, config: ModelConfig, maxCompletionLength: Int) throws {
        self.init(try specs.map { try makeGrader($0, reward: reward, config: config, maxCompletionLength: maxCompletionLength) })
    }

    /// Every grader's rewards, [graders][rows][completions], with each grader's log lines passed to `log`
    /// (also when a grader fails).
    public func grade(_ rows: [GradingRow], log: (String) -> Void) throws -> [[[Double?]]] {
        try graders.map { grader in
            defer { for line in grader.drainLog() { log("grader \(grader.name): \(line)") } }
            let rewards = try grader.grade(rows)
            guard rewards.count == rows.count, zip(rewards, rows).allSatisfy({ $0.count == $1.completions.count }) else {
                throw GraderError(grader: grader.name, message: "answered \(rewards.map(\.count)) rewards for \(rows.map(\.completions.count)) completions")
            }
            for value in rewards.joined() {
                if let value, !value.isFinite {
                    throw GraderError(grader: grader.name, message: "answered a reward that is not a finite number (\(value))")
                }
            }
            return rewards
        }
    }

    /// The weighted sum over the graders that answered, per completion (flattened row by row), and
    /// nil where none answered.
    public func combine(_ perGrader: [[[Double?]]]) -> [Double?] {
        guard let first = perGrader.first else { return [] }
        let count = first.reduce(0) { $0 + $1.count }
        var total = [Double?](repeating: nil, count: count)
        for (grader, rewards) in zip(graders, perGrader) {
            for (i, value) in rewards.joined().enumerated() {
                if let value { total[i] = (total[i] ?? 0) + grader.weight * value }
            }
        }
        return total
    }
}

// MARK: - Built-in graders

func makeGrader(_ spec: GraderSpec, reward: StageSource?, config: ModelConfig, maxCompletionLength: Int) throws -> Grader {
    let name = spec.displayName, weight = spec.weight
    func compiled(_ pattern: String?) throws -> Regex<AnyRegexOutput>? {
        guard let pattern else { return nil }
        do { return try Regex(pattern) } catch {
            throw StageError.invalidInput("grader \(name): pattern is not a valid regular expression: \(error)")
        }
    }
    let column = spec.column ?? "answer"
    switch spec.type {
    case .exact, .numeric:
        let extraction = spec.extract ?? (spec.type == .numeric ? .lastNumber : .trimmed)
        let regex = try compiled(spec.pattern)
        let caseSensitive = spec.caseSensitive ?? true, tolerance = spec.tolerance ?? 1e-6, numeric = spec.type == .numeric
        return CompletionGrader(name: name, weight: weight) { text, _, _, row in
            guard let expected = Answers.expected(row, column: column) else { return nil }
            guard let answer = Answers.extract(text, extraction, regex) else { return 0 }
            if numeric {
                guard let x = Double(answer), let y = Double(expected) else { return 0 }
                return abs(x - y) <= tolerance ? 1 : 0
            }
            return Answers.same(answer, expected, caseSensitive: caseSensitive) ? 1 : 0
        }
    case .regex:
        let regex = try compiled(spec.pattern)!
        return CompletionGrader(name: name, weight: weight) { text, _, _, _ in (try? regex.firstMatch(in: text)) != nil ? 1 : 0 }
    case .contains:
        let fixed = spec.text, caseSensitive = spec.caseSensitive ?? true
        return CompletionGrader(name: name, weight: weight) { text, _, _, row in
            guard let needle = fixed ?? Answers.expected(row, column: column) else { return nil }
            return caseSensitive ? (text.contains(needle) ? 1 : 0) : (text.lowercased().contains(needle.lowercased()) ? 1 : 0)
        }
    case .json:
        let extraction = spec.extract ?? .trimmed, regex = try compiled(spec.pattern), required = spec.requiredKeys ?? []
        return CompletionGrader(name: name, weight: weight) { text, _, _, _ in
            guard let body = Answers.extract(text, extraction, regex),
                  case .object(let fields)? = try? JSONValue.parse(Array(body.utf8)) else { return 0 }
            return required.allSatisfy { fields[$0] != nil } ? 1 : 0
        }
    case .length:
        let maxLength = spec.maxLength ?? maxCompletionLength
        let cache = spec.cache ?? maxLength / 4
        return CompletionGrader(name: name, weight: weight) { _, tokens, _, _ in
            softOverlongPenalty(length: tokens.count, maxLength: maxLength, cache: cache)
        }
    case .sentiment:
        return CompletionGrader(name: name, weight: weight) { text, _, _, _ in DemoScorer.score(text) }
    case .rewardModel:
        guard let reward else { throw StageError.invalidInput("grader \(name): a reward_model grader needs the stage's `reward` source") }
        return try RewardModelGrader(name: name, weight: weight, source: reward, config: config, normalize: spec.normalize ?? false)
    case .command:
        guard let command = spec.command, !command.isEmpty else { throw StageError.invalidInput("grader \(name): command is required") }
        return CommandGrader(name: name, weight: weight, command: command,
                             directory: spec.cwd ?? FileManager.default.currentDirectoryPath, timeout: spec.timeout ?? 60)
    }
}

/// DAPO's soft overlong punishment (Yu et al. 2025, eq. 13), for a completion of `length` tokens:
///   0                              when length ≤ L_max − L_cache
///   ((L_max − L_cache) − length) / L_cache   when L_max − L_cache < length ≤ L_max   (0 down to −1)
///   −1                             when length > L_max
public func softOverlongPenalty(length: Int, maxLength: Int, cache: Int) -> Double {
    let free = maxLength - cache
    if length <= free { return 0 }
    if length <= maxLength { return Double(free - length) / Double(cache) }
    return -1
}

/// Finding and comparing answers.
public enum Answers {
    /// The expected answer in a row's `column`: a string, or a number as text (`42`, `2.5`); nil when absent.
    public static func expected(_ row: JSONRow, column: String) -> String? {
        switch row.fields[column] {
        case .string(let s)?: return s.trimmingCharacters(in: .whitespacesAndNewlines)
        case .number?, .bool?: return row.fields[column]!.serialized
        default: return nil
        }
    }

    /// The answer in `text` by `extraction`; nil when there is none.
    public static func extract(_ text: String, _ extraction: GraderSpec.Extraction, _ regex: Regex<AnyRegexOutput>?) -> String? {
        switch extraction {
        case .trimmed:
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        case .lastNumber:
            return lastNumber(in: text)
        case .regex:
            guard let regex, let match = try? regex.firstMatch(in: text) else { return nil }
            let range = match.output.count > 1 ? match.output[1].range ?? match.range : match.range
            return String(text[range]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// The last number in `text`: an optional minus sign, digits, an optional fraction and exponent
    /// (`-12`, `3.50`, `1e-3`); thousands separators are not understood.
    public static func lastNumber(in text: String) -> String? {
        guard let match = text.matches(of: numberPattern).last else { return nil }
        return String(text[match.range])
    }

    nonisolated(unsafe) static let numberPattern = try! Regex(#"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"#)

    /// Equal as numbers when both are numbers (`42` and `42.0`), else as trimmed strings.
    public static func same(_ a: String, _ b: String, caseSensitive: Bool) -> Bool {
        if let x = Double(a), let y = Double(b) { return x == y }
        return caseSensitive ? a == b : a.lowercased() == b.lowercased()
    }
}
