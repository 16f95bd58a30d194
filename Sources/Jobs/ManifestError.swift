// What is wrong with a manifest: every problem at once, each naming the file, the line where the
// YAML has one, the key path (`stages[2].ppo.clip`) and what is expected, as a compiler would:
//
//   Jobs/sweep.yaml:14: stages[1].optimizer.lr: must be in (0, 1) (got 3)
//   Jobs/sweep.yaml:20: stages[2].policy: unknown stage 'sfft' and no checkpoint file .../sfft
//
// The CLI exits with code 2 on this error.

public struct ManifestProblem: Equatable, Sendable, CustomStringConvertible {
    /// Where in the manifest: `stages[2].ppo.clip`; "" for the file as a whole.
    public var key: String
    public var message: String
    /// 1-based line in the YAML, when the key (or its nearest parent) is in the file.
    public var line: Int?

    public init(key: String, message: String, line: Int? = nil) {
        self.key = key
        self.message = message
        self.line = line
    }

    public var description: String { key.isEmpty ? message : "\(key): \(message)" }
}

public struct ManifestError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The manifest file as the user named it.
    public var file: String
    public var problems: [ManifestProblem]

    public init(file: String, problems: [ManifestProblem]) {
        self.file = file
        self.problems = problems
    }

    /// One line per problem: `FILE:LINE: KEY: message`.
    public var lines: [String] {
        problems.map { problem in
            let place = problem.line.map { "\(file):\($0)" } ?? file
            return "\(place): \(problem)"
        }
    }

    public var description: String {
        let count = problems.count == 1 ? "1 problem" : "\(problems.count) problems"
        return "invalid manifest \(file) (\(count); nothing was run):\n" + lines.map { "  " + $0 }.joined(separator: "\n")
    }
}
