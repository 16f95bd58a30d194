// `rlhf worker`: takes jobs from the queue and runs them, one at a time, until the queue has none
// left (`once`) or forever (polling). Each job is re-validated from the manifest stored at
// submission (its data files may have gone since). Outcomes in the record:
//   done · failed (with the message and exit code the error maps to) · cancelled (`rlhf cancel`) ·
//   pending again when a signal stopped it (the worker then exits 3; the next worker resumes it) or
//   when its output folder is busy in another process (passed over for this pass).

import Foundation

public struct WorkerOptions: Sendable {
    public var once = false
    public var pollSeconds = 2.0
    public var run = RunOptions()

    public init(once: Bool = false, pollSeconds: Double = 2.0, run: RunOptions = RunOptions()) {
        self.once = once
        self.pollSeconds = pollSeconds
        self.run = run
    }
}

public final class Worker {
    public enum Event {
        case took(QueuedJob)
        case finished(QueuedJob)
        case idle
    }

    let queue: JobQueue
    let options: WorkerOptions
    /// The exit code for an error (the CLI's mapping, so failed records carry the code `rlhf run` would give).
    let exitCode: (Error) -> Int32

    public init(queue: JobQueue, options: WorkerOptions, exitCode: @escaping (Error) -> Int32) {
        self.queue = queue
        self.options = options
        self.exitCode = exitCode
    }

    /// Runs jobs until the queue is empty (`once`) or a stop is requested; returns true when it
    /// stopped because of a stop request (a signal), having put its job back.
    /// `progress(job)` gives the handler for one job's events (it may answer `.stop`).
    public func run(events: (Event) -> Void, progress: (QueuedJob, _ cancelRequested: @escaping () -> Bool) -> ProgressHandler,
                    stopRequested: () -> Bool) throws -> Bool {
        var passedOver: Set<String> = []
        while !stopRequested() {
            guard let claim = try queue.claimNext(skipping: passedOver) else {
                if options.once { return false }
                events(.idle)
                passedOver = []
                Thread.sleep(forTimeInterval: options.pollSeconds)
                continue
            }
            events(.took(claim.record))
            let handler = progress(claim.record) { claim.cancelRequested }
            do {
                let job = try ManifestLoader.load(yaml: String(decoding: claim.record.job.json(), as: UTF8.self),
                                                  file: claim.record.manifest, folder: "/", defaultName: claim.record.job.name,
                                                  prepareDemoData: true)
                try JobRunner(job: job, options: options.run, progress: handler).run()
                try claim.finish(.done, message: nil, exitCode: 0)
            } catch let error as JobError {
                switch error {
                case .interrupted where claim.cancelRequested:
                    try claim.finish(.cancelled, message: "cancelled; \(error)", exitCode: exitCode(error))
                case .interrupted:
                    try claim.finish(.pending, message: "\(error)", exitCode: exitCode(error))
                    events(.finished(claim.record))
                    return true
                case .busy:
                    passedOver.insert(claim.record.id)
                    try claim.finish(.pending, message: "\(error)", exitCode: nil)
                default:
                    try claim.finish(.failed, message: "\(error)", exitCode: exitCode(error))
                }
            } catch {
                try claim.finish(.failed, message: "\(error)", exitCode: exitCode(error))
            }
            events(.finished(claim.record))
        }
        return true
    }
}
