// `rlhf status`: what a job's folder says about it, per stage — state, step/total, last metrics,
// newest checkpoint — read from files only (state.json, metrics.jsonl, the checkpoint folders) plus
// one lock probe: a job whose state.json says running but whose lock is free was killed (crash,
// SIGKILL, power loss) and is reported as interrupted.

import Foundation
import Stages

public struct StageStatus: Codable, Sendable {
    /// done, running, interrupted, failed or pending.
    public var state: String
    public var name: String
    public var kind: String
    /// The last logged step (may be ahead of the newest checkpoint by less than checkpoint_every).
    public var step: Int
    public var totalSteps: Int
    public var metrics: [String: Double]
    public var eval: [String: Double]
    public var checkpoint: String?

    enum CodingKeys: String, CodingKey { case state, name, kind, step, totalSteps = "total_steps", metrics, eval, checkpoint }
}

public struct JobStatus: Codable, Sendable {
    /// The queue id, for queued jobs.
    public var id: String?
    public var name: String
    /// pending, running, interrupted, failed, done or cancelled.
    public var state: String
    public var message: String?
    public var output: String
    public var stages: [StageStatus]
    /// The Slurm job that runs it (`rlhf submit --slurm`), with Slurm's view of its state, once
    /// `addingSlurmStates` has asked Slurm.
    public var slurm: SlurmJobState?

    /// The status of `job` from its output folder. `queueState` (a queue file's state) wins for
    /// pending and cancelled jobs, which the folder cannot know about.
    public init(job: JobManifest, id: String? = nil, queueState: String? = nil, queueMessage: String? = nil) {
        let folder = JobFolder(job.output)
        let saved = folder.state()
        var state = saved?.phase.rawValue ?? "pending"
        var message = saved?.message
        if saved?.phase == .running && !FileLock.isHeld(folder.lockFile.path) {
            state = "interrupted"
            message = "the process running it ended without a clean stop (killed?); run it again to resume"
        }
        if let queueState, queueState == "pending" || queueState == "cancelled" || saved == nil {
            state = queueState
            message = queueMessage ?? message
        }
        self.id = id
        self.name = job.name
        self.state = state
        self.message = message
        self.output = folder.url.path
        stages = job.stages.map { spec in
            let report = stageReport(spec, folder: folder)
            var stageState = "pending"
            if report.checkpoint == folder.checkpoints(spec.name).finalFile.path { stageState = "done" }
            else if saved?.stage == spec.name, ["running", "interrupted", "failed"].contains(state) { stageState = state }
            else if report.steps > 0 { stageState = state == "running" ? "running" : "interrupted" }
            return StageStatus(state: stageState, name: spec.name, kind: spec.kind.rawValue, step: report.steps,
                               totalSteps: spec.steps, metrics: report.train, eval: report.eval, checkpoint: report.checkpoint)
        }
    }
}

extension JobStatus {
    /// `statuses` with the Slurm job id and state of each job submitted with `--slurm`: one `squeue`
    /// call for all of them, then `sacct` for those squeue no longer lists. A job Slurm forgot (no
    /// accounting, past MinJobAge) shows state `unknown`; a failed call, `unavailable` and why.
    public static func addingSlurmStates(_ statuses: [JobStatus]) -> [JobStatus] {
        let ids = statuses.compactMap { SlurmSubmission.recorded(in: JobFolder($0.output))?.jobID }
        guard !ids.isEmpty else { return statuses }
        var known: [String: SlurmJobState] = [:]
        var failure: SlurmError?
        switch SlurmCalls.queued(ids) {
        case .success(let states): known = states
        case .failure(let error): failure = error
        }
        let missing = ids.filter { known[$0] == nil }
        if failure == nil, !missing.isEmpty, case .success(let states) = SlurmCalls.accounted(missing) {
            known.merge(states) { current, _ in current }
        }
        return statuses.map { status in
            var status = status
            if let id = SlurmSubmission.recorded(in: JobFolder(status.output))?.jobID {
                status.slurm = known[id] ?? SlurmJobState(jobID: id, state: failure == nil ? "unknown" : "unavailable",
                                                          reason: failure.map { "\($0)" })
            }
            return status
        }
    }
}
