// What a scheduler drives: a stage advances one optimizer step at a time, reports metrics, and can
// hand over (and take back) its complete state, so that a resumed stage continues bit for bit.
//
// The seam of DESIGN §2: a stage computes gradients, passes them through `GradientReducer` (the
// identity on one process; an all-reduce in a fixed order under MPI later), then steps the optimizer.

import Checkpoint
import Transformer

/// Named scalar results of a step or an evaluation, in the order they were recorded.
public struct Metrics: Equatable, Sendable, Sequence {
    public private(set) var entries: [(name: String, value: Double)] = []
    /// Things the user should know about this step (e.g. PPO's negative KL), to be printed.
    public var warnings: [String] = []
    /// An evaluation's generations on fixed held-out prompts (the job writes them to samples.jsonl).
    public var samples: [Sample] = []

    public init(_ entries: [(String, Double)] = []) { self.entries = entries.map { ($0.0, $0.1) } }

    public subscript(name: String) -> Double? {
        get { entries.first { $0.name == name }?.value }
        set {
            if let i = entries.firstIndex(where: { $0.name == name }) {
                if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
            } else if let newValue { entries.append((name, newValue)) }
        }
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: Double)]> { entries.makeIterator() }

    public static func == (l: Metrics, r: Metrics) -> Bool {
        l.entries.map(\.name) == r.entries.map(\.name) && l.entries.map(\.value) == r.entries.map(\.value)
    }
}

/// A response the policy generated for a held-out prompt during an evaluation, and what was
/// measured on it. Evaluations sample with the same seed every time, so the samples of two
/// evaluations are the same prompts and random stream, before and after training.
public struct Sample: Equatable, Sendable {
    /// The held-out prompt's row (0-based) in its file.
    public var index: Int
    /// The seed of the evaluation's sampling stream.
    public var seed: UInt64
    public var prompt: String
    public var response: String
    /// Per-sample measures, e.g. `reward`, `kl` (nats, Σ log π − log π_ref), `length` (tokens).
    public var scores: Metrics

    public init(index: Int, seed: UInt64, prompt: String, response: String, scores: Metrics) {
        self.index = index; self.seed = seed; self.prompt = prompt; self.response = response; self.scores = scores
    }

    /// How many held-out prompts an evaluation keeps samples of (the first ones in file order).
    public static let perEvaluation = 8
}

/// Why a stage stopped.
public enum StageError: Error, CustomStringConvertible, Equatable {
    /// A loss or gradient became NaN or infinite: the step is not applied.
    case nonFinite(stage: String, step: Int, what: String)
    /// The stage's inputs do not fit (missing data, an init checkpoint of the wrong shape, ...).
    case invalidInput(String)
    /// A checkpoint does not belong to this stage or lacks a part of its state.
    case badCheckpoint(String)
    /// A grader failed during `step` (number `step`); the stage's state is as before that step, so it
    /// can be checkpointed and the step replayed once the grader is fixed.
    case graderFailed(stage: String, step: Int, message: String)

    public var description: String {
        switch self {
        case let .nonFinite(stage, step, what):
            return "stage \(stage): \(what) is not finite at step \(step); the step was not applied. "
                + "Lower optimizer.lr or raise optimizer.warmup, then resume from the last checkpoint."
        case let .invalidInput(message): return message
        case let .badCheckpoint(message): return message
        case let .graderFailed(stage, step, message):
            return "stage \(stage) step \(step): \(message). The stage stopped before the step changed anything; "
                + "fix the grader and run the job again to resume"
        }
    }
}

/// The training stage protocol.
public protocol Stage: AnyObject {
    var spec: StageSpec { get }
    /// Optimizer steps completed (PPO: iterations).
    var completedSteps: Int { get }
    /// One optimizer step; returns its metrics. Throws `StageError.nonFinite` without applying it.
    func step() throws -> Metrics
    /// Metrics on the held-out data (empty when the stage has none).
    func evaluate() throws -> Metrics
    /// The complete state: weights, optimizer moments and step, schedule, generators, data order,
    /// controller state and the last metrics. Root metadata other than step is filled by the caller.
    func checkpoint() -> CheckpointFile
    /// Continues from a checkpoint of this stage (as written by `checkpoint()`).
    func restore(from file: CheckpointFile) throws
    /// What the user should know about the stage's inputs, e.g. bad lines skipped under
    /// `skip_bad_lines` (one sentence each).
    var notices: [String] { get }
}

extension Stage {
    public var notices: [String] { [] }
}

/// Combines gradients across processes before the optimizer step. One process: nothing to do.
public protocol GradientReducer: Sendable {
    func reduce(_ gradients: Arena)
}

public struct SingleProcess: GradientReducer {
    public init() {}
    public func reduce(_ gradients: Arena) {}
}
