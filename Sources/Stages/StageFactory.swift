// Building a stage from its manifest entry and what the job resolved for it.

import Checkpoint
import Kernels
import Transformer

/// What a job gives a stage besides its own settings.
public struct StageContext {
    /// The job's seed; each stage derives its own streams from it and its name.
    public var jobSeed: UInt64
    /// The job's model shape (a distillation student may override it with `spec.model`).
    public var model: ModelConfig
    /// Loaded checkpoints the stage starts from, by role.
    public var sources: [SourceRole: StageSource]
    /// Where a stage's lines for the job log go (an external grader's stderr).
    public var log: (String) -> Void = { _ in }

    public init(jobSeed: UInt64, model: ModelConfig, sources: [SourceRole: StageSource] = [:]) {
        self.jobSeed = jobSeed
        self.model = model
        self.sources = sources
    }

    /// Sources made in memory (tests, benchmarks): each named after its role.
    public init(jobSeed: UInt64, model: ModelConfig, checkpoints: [SourceRole: CheckpointFile]) {
        self.init(jobSeed: jobSeed, model: model,
                  sources: checkpoints.reduce(into: [:]) { $0[$1.key] = StageSource($1.value, reference: $1.key.rawValue) })
    }

    /// A source the stage's declaration requires (the factory checked it is there).
    public func source(_ role: SourceRole) throws -> StageSource {
        guard let source = sources[role] else { throw StageError.invalidInput("no `\(role.rawValue)` source was given") }
        return source
    }

    /// A seed for one named stream of one stage: the same job, stage and stream always get the same
    /// seed, and different ones get unrelated seeds.
    public func seed(stage: String, stream: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325                       // FNV-1a over the names
        for byte in (stage + "/" + stream).utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        var mix = SplitMix64(seed: jobSeed ^ hash)
        return mix.next()
    }
}

/// The stage for a manifest entry, built as its kind declares. Data files are read here, so bad data
/// fails before any work.
public func makeStage(_ spec: StageSpec, context: StageContext) throws -> Stage {
    let declaration = spec.kind.declaration
    let kind = spec.kind.withArticle + " stage"
    for use in declaration.sources where use.required && context.sources[use.role] == nil {
        throw StageError.invalidInput("stage \(spec.name): \(kind) needs `\(use.role.rawValue)` (\(use.meaning))")
    }
    for use in declaration.data where use.required && spec.data[use.role] == nil {
        throw StageError.invalidInput("stage \(spec.name): \(kind) needs data.\(use.role.rawValue) (\(use.rows))")
    }
    return try declaration.build(spec, context)
}

/// Reads one of a stage's data files exactly as the stage will: the record type its kind declares for
/// the role, `skip_bad_lines` honoured. Jobs calls it for every data file of every stage before it
/// creates or changes anything, so bad data is reported with nothing touched.
public func readData(_ role: DataRole, of spec: StageSpec) throws {
    guard let path = spec.data[role], let use = spec.kind.declaration.uses(role) else { return }
    try use.read(path, spec.skipBadLines)
}
