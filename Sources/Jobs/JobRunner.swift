// Runs a validated job: its stages in order, each resumed exactly where its last good checkpoint
// left it, chained through final.h5 files. The loop per stage:
//
//   remove stale *.h5.tmp → latest good checkpoint (final.h5 first, then step files newest first,
//   corrupt ones skipped with a warning) → final.h5 complete? skip : build the stage from its
//   sources, restore, cut the logs (StageLogs) back to the restored step → step, log, [eval], [checkpoint
//   every N], handler may say stop → final eval, final.h5. A fresh stage is also evaluated at step 0.
//
// Exactness: a checkpoint holds the complete stage state after `step` optimizer steps and nothing
// runs between a restore and the next step that the uninterrupted run did not run too, so the
// resumed run performs the same steps on the same state — whatever the thread count (DESIGN §4).
// A stop (signal, cancel) always commits a checkpoint of the step just finished before it throws.

import Checkpoint
import Foundation
import Kernels
import Stages

public struct RunOptions: Sendable {
    /// Overrides the manifest's `threads` (0 = every core).
    public var threads: Int?
    /// Continue a job whose stored manifest differs from this one.
    public var force = false
    /// How checkpoints are committed (tests may use `.pageCache`).
    public var durability: Durability = .fsync

    public init(threads: Int? = nil, force: Bool = false, durability: Durability = .fsync) {
        self.threads = threads
        self.force = force
        self.durability = durability
    }
}

public final class JobRunner {
    public let job: JobManifest
    public let options: RunOptions
    public let folder: JobFolder
    private let handler: ProgressHandler
    private let text = ProgressText()

    public init(job: JobManifest, options: RunOptions = RunOptions(), progress: @escaping ProgressHandler = { _ in .proceed }) {
        self.job = job
        self.options = options
        self.folder = JobFolder(job.output)
        self.handler = progress
    }

    /// Runs every stage to the end. Throws `JobError.interrupted` after a requested stop,
    /// `StageError.nonFinite` when training diverges (the last good checkpoint stays), and the
    /// errors of unreadable data or sources. state.json records each outcome.
    @discardableResult
    public func run() throws -> JobReport {
        // The inputs were validated by ManifestLoader (every data file parsed, every source checkpoint
        // read). What is left to refuse is refused before the first write: a changed manifest (checked
        // read-only first, and again under the lock in case another process started the job meanwhile).
        _ = try changedManifest()
        try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
        guard let lock = try FileLock.tryAcquire(folder.lockFile.path) else {
            throw JobError.busy(output: folder.url.path, lockFile: folder.lockFile.path)
        }
        defer { lock.release() }
        if let differences = try changedManifest() {
            emit(.warning("continuing with a changed manifest (--force): " + differences.joined(separator: "; ")))
        }
        try folder.store(job)
        try folder.store(JobState(.running))
        let threads = options.threads ?? job.threads
        emit(.jobStarted(name: job.name, output: folder.url.path, stages: job.stages.count, threads: threads))
        do {
            try Parallel.$threads.withValue(threads) {
                for spec in job.stages { try runStage(spec) }
            }
        } catch {
            let state: JobState
            switch error {
            case let JobError.interrupted(stage, step, _): state = JobState(.interrupted, stage: stage, step: step, message: "\(error)")
            case let StageError.nonFinite(stage, step, _): state = JobState(.failed, stage: stage, step: step, message: "\(error)")
            case let StageError.graderFailed(stage, step, _): state = JobState(.failed, stage: stage, step: step, message: "\(error)")
            default: state = JobState(.failed, message: "\(error)")
            }
            try? folder.store(state)
            folder.log(["\(state.phase.rawValue): \(error)"])
            throw error
        }
        let report = JobReport(name: job.name, output: folder.url.path, stages: job.stages.map { stageReport($0, folder: folder) })
        try folder.store(JobState(.done))
        emit(.jobFinished(report))
        return report
    }

    /// The key paths where the stored manifest differs from this one (nil when none is stored or
    /// nothing differs); throws `manifestChanged` unless `force`.
    private func changedManifest() throws -> [String]? {
        guard let stored = try folder.storedManifest() else { return nil }
        let differences = manifestDifferences(stored, job)
        if differences.isEmpty { return nil }
        guard options.force else { throw JobError.manifestChanged(output: folder.url.path, differences: differences) }
        return differences
    }

    @discardableResult
    private func emit(_ event: JobProgress) -> ProgressAction {
        if let line = text.line(for: event) { folder.log([line]) }
        return handler(event)
    }

    private func runStage(_ spec: StageSpec) throws {
        let checkpoints = folder.checkpoints(spec.name)
        var logs = StageLogs(folder: folder, stage: spec.name, tensorboard: job.logging.tensorboard)
        for stale in try checkpoints.removeStaleTemporaries() {
            emit(.warning("removed \(stale.lastPathComponent), left by an interrupted checkpoint write"))
        }
        let expectation = CheckpointExpectation(stageKind: spec.kind.rawValue)
        let latest = try checkpoints.latestGood(expect: expectation, warn: { error in
            self.emit(.warning("skipping checkpoint \(error)"))
        }, notice: { line in self.emit(.warning(line)) })
        if let latest {
            let saved = latest.checkpoint.metadata
            guard saved.stageName == spec.name, saved.step <= spec.steps else {
                throw JobError.invalid("\(latest.url.path) holds step \(saved.step) of stage \(saved.stageName), "
                                       + "which cannot resume stage \(spec.name) of \(spec.steps) steps; move it away to restart the stage")
            }
            if latest.url == checkpoints.finalFile && saved.step == spec.steps {
                emit(.stageSkipped(name: spec.name, finalCheckpoint: latest.url.path))
                return
            }
        }

        try folder.store(JobState(.running, stage: spec.name, step: latest?.checkpoint.metadata.step))
        var context = StageContext(jobSeed: job.seed, model: job.model(of: spec), sources: try loadSources(of: spec))
        let jobFolder = folder
        context.log = { line in jobFolder.log(["stage \(spec.name): \(line)"]) }
        let stage = try makeStage(spec, context: context)
        for notice in stage.notices { emit(.warning("stage \(spec.name): \(notice)")) }
        var elapsedBefore = 0.0
        if let latest {
            try stage.restore(from: latest.checkpoint)
            if case let .double(seconds)? = latest.checkpoint.root[group: Self.jobGroup].attributes[Self.elapsedAttribute] {
                elapsedBefore = seconds
            }
        }
        // A fresh start keeps no line; a resume keeps the lines up to the restored step.
        for warning in try logs.start(restoredStep: latest.map { _ in stage.completedSteps }) { emit(.warning(warning)) }
        emit(.stageStarted(name: spec.name, kind: spec.kind, totalSteps: spec.steps,
                           resumedFrom: latest.map { _ in stage.completedSteps }, checkpoint: latest?.url.path))

        // A fresh stage is evaluated before its first step too: the baseline the summary compares with.
        if latest == nil { try evaluate(stage, spec: spec, logs: logs, elapsed: 0) }
        let started = Date()
        var stepsThisRun = 0
        func elapsed() -> Double { elapsedBefore + Date().timeIntervalSince(started) }
        func commit(_ url: URL) throws {
            logs.sync()
            var file = stage.checkpoint()
            file.metadata.createdUTC = utcTimestamp()
            file.metadata.codeVersion = CodeVersion.current
            file.root[group: Self.jobGroup].attributes[Self.elapsedAttribute] = .double(elapsed())
            try file.write(to: url, durability: options.durability)
            try checkpoints.prune(keep: spec.keep)
            emit(.checkpointed(stage: spec.name, step: stage.completedSteps, file: url.path))
        }

        // A grader that fails leaves the stage as it was before the step (or evaluation): checkpoint that
        // state, so fixing the grader and running again replays exactly the failed step.
        func keepingState<T>(_ body: () throws -> T) throws -> T {
            do { return try body() } catch let error as StageError {
                if case .graderFailed = error, stage.completedSteps > 0 {
                    let file = checkpoints.stepFile(stage.completedSteps)
                    if !FileManager.default.fileExists(atPath: file.path) { try commit(file) }
                }
                throw error
            }
        }

        while stage.completedSteps < spec.steps {
            let metrics = try keepingState { try stage.step() }
            let step = stage.completedSteps
            stepsThisRun += 1
            for warning in metrics.warnings { emit(.warning("stage \(spec.name) step \(step): \(warning)")) }
            try logs.record(MetricsEntry(step: step, split: "train", elapsedSeconds: elapsed(), metrics: metrics))
            let action = emit(.step(stage: spec.name, step: step, totalSteps: spec.steps, metrics: metrics,
                                    rate: Double(stepsThisRun) / max(1e-9, Date().timeIntervalSince(started)), elapsed: elapsed()))
            guard step < spec.steps else { break }
            if spec.evalEvery > 0 && step % spec.evalEvery == 0 { try keepingState { try evaluate(stage, spec: spec, logs: logs, elapsed: elapsed()) } }
            let due = step % spec.checkpointEvery == 0
            if due || action == .stop { try commit(checkpoints.stepFile(step)) }
            if action == .stop {
                throw JobError.interrupted(stage: spec.name, step: step, checkpoint: checkpoints.stepFile(step).path)
            }
        }
        try keepingState { try evaluate(stage, spec: spec, logs: logs, elapsed: elapsed()) }
        try commit(checkpoints.finalFile)
        emit(.stageFinished(stageReport(spec, folder: folder)))
    }

    private func evaluate(_ stage: Stage, spec: StageSpec, logs: StageLogs, elapsed: Double) throws {
        let metrics = try stage.evaluate()
        guard !metrics.entries.isEmpty else { return }
        try logs.record(MetricsEntry(step: stage.completedSteps, split: "eval", elapsedSeconds: elapsed, metrics: metrics),
                        samples: metrics.samples)
        emit(.evaluated(stage: spec.name, step: stage.completedSteps, metrics: metrics))
    }

    /// The checkpoints a stage starts from: earlier stages' final.h5, or checkpoint files, by role.
    private func loadSources(of spec: StageSpec) throws -> [SourceRole: StageSource] {
        var sources: [SourceRole: StageSource] = [:]
        for (role, reference) in spec.givenSources {
            let url = job.stage(named: reference) != nil ? folder.checkpoints(reference).finalFile : URL(fileURLWithPath: reference)
            sources[role] = StageSource(try CheckpointFile.read(from: url, notice: { line in self.emit(.warning(line)) }),
                                        reference: reference)
        }
        return sources
    }

    /// `/job@elapsed_seconds` in our checkpoints: the stage's training seconds so far (metrics.jsonl's
    /// `elapsed_s` continues from it after a resume).
    static let jobGroup = "job"
    static let elapsedAttribute = "elapsed_seconds"
}

/// A stage's report from its folder: the last train and eval lines of metrics.jsonl and its newest checkpoint.
public func stageReport(_ spec: StageSpec, folder: JobFolder) -> StageReport {
    let entries = folder.metricsLog(spec.name).entries()
    let lastTrain = entries.last { $0.split == "train" }
    let checkpoints = folder.checkpoints(spec.name)
    let final = FileManager.default.fileExists(atPath: checkpoints.finalFile.path) ? checkpoints.finalFile.path : nil
    return StageReport(name: spec.name, kind: spec.kind, steps: lastTrain?.step ?? 0, totalSteps: spec.steps,
                       seconds: entries.last?.elapsedSeconds ?? 0, train: lastTrain?.metrics ?? [:],
                       eval: entries.last { $0.split == "eval" }?.metrics ?? [:],
                       evalBefore: entries.first { $0.split == "eval" && $0.step == 0 }?.metrics ?? [:],
                       checkpoint: final ?? (try? checkpoints.stepFiles().first?.url.path) ?? nil)
}
