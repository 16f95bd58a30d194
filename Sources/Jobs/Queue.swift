// The job queue: a folder (default `Jobs/queue/`) with one file per job, so it needs no server and
// survives anything a file system survives.
//
//   000007-demo-sentiment.json     the record: state, times, attempts, and the resolved manifest
//   000007-demo-sentiment.lock     flock'ed by the worker running the job (released by the kernel
//                                  when that worker dies)
//   000007-demo-sentiment.cancel   a cancel request for a running job, honoured after its current step
//   .submit.lock                   serialises id allocation
//
// States: pending → running → done | failed | cancelled; an interrupted job (signal) goes back to
// pending with attempts > 0. A record is only rewritten by the holder of its lock (or by `submit`,
// before anyone can see it), atomically (temporary file + rename). Stale detection: a record that
// says running whose lock is free belongs to a worker that died; the next worker takes it up again.
// Workers take interrupted and stale jobs first, then pending ones in submission order.

import Foundation

public struct QueuedJob: Codable, Sendable {
    public enum State: String, Codable, Sendable, CaseIterable {
        case pending, running, done, failed, cancelled
    }
    public var id: String
    /// The manifest file it was submitted from (absolute).
    public var manifest: String
    public var state: State
    public var submittedUTC: String
    public var startedUTC: String?
    public var finishedUTC: String?
    /// Times a worker has taken the job up.
    public var attempts: Int = 0
    /// `host:pid` of the last worker to take it.
    public var worker: String?
    public var message: String?
    public var exitCode: Int32?
    /// The resolved manifest as validated at submission: what runs, even if the file changes later.
    public var job: JobManifest

    enum CodingKeys: String, CodingKey {
        case id, manifest, state, submittedUTC = "submitted_utc", startedUTC = "started_utc", finishedUTC = "finished_utc",
             attempts, worker, message, exitCode = "exit_code", job
    }

    /// The status of the job: its record's state, refined by its output folder.
    public var status: JobStatus { JobStatus(job: job, id: id, queueState: state.rawValue, queueMessage: message) }
}

public struct JobQueue: Sendable {
    public static let defaultFolder = "Jobs/queue"
    public let folder: URL

    public init(folder: String) { self.folder = URL(fileURLWithPath: folder) }

    func recordFile(_ id: String) -> URL { folder.appendingPathComponent(id + ".json") }
    func lockFile(_ id: String) -> String { folder.appendingPathComponent(id + ".lock").path }
    func cancelFile(_ id: String) -> URL { folder.appendingPathComponent(id + ".cancel") }

    /// Adds a validated job; returns its record (the id is `NNNNNN-NAME`, in submission order).
    public func submit(_ job: JobManifest, manifest: String) throws -> QueuedJob {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let lock = try FileLock.acquire(folder.appendingPathComponent(".submit.lock").path)
        defer { lock.release() }
        let next = (try ids().compactMap { Int($0.prefix(6)) }.max() ?? 0) + 1
        let record = QueuedJob(id: String(format: "%06d-", next) + job.name, manifest: manifest, state: .pending,
                               submittedUTC: utcTimestamp(), job: job)
        try save(record)
        return record
    }

    /// Every job id, in submission order.
    public func ids() throws -> [String] {
        guard FileManager.default.fileExists(atPath: folder.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.map { String($0.dropLast(5)) }.sorted()
    }

    public func record(_ id: String) throws -> QueuedJob {
        do {
            return try JSONDecoder().decode(QueuedJob.self, from: Data(contentsOf: recordFile(id)))
        } catch {
            throw JobError.invalid("queue record \(recordFile(id).path) cannot be read: \(error)")
        }
    }

    /// Every readable record, in submission order.
    public func list() throws -> [QueuedJob] { try ids().compactMap { try? record($0) } }

    /// The job a user means by `name`: an id, a unique id prefix (`7`, `000007`), or a job name
    /// (the newest job of that name).
    public func find(_ name: String) throws -> QueuedJob {
        let all = try list()
        if let exact = all.first(where: { $0.id == name }) { return exact }
        let number = Int(name).map { String(format: "%06d-", $0) }
        let byPrefix = all.filter { $0.id.hasPrefix(name) || number.map($0.id.hasPrefix) == true }
        if byPrefix.count == 1 { return byPrefix[0] }
        if let byName = all.last(where: { $0.job.name == name }) { return byName }
        if byPrefix.count > 1 { throw JobError.invalid("'\(name)' matches several jobs: " + byPrefix.map(\.id).joined(separator: ", ")) }
        throw JobError.invalid("no job '\(name)' in \(folder.path) (rlhf status lists them)")
    }

    func save(_ record: QueuedJob) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try encoder.encode(record).write(to: recordFile(record.id), options: .atomic)
    }

    // MARK: Workers

    /// A job taken by this process: its record and the lock that makes it ours.
    public final class Claim {
        public private(set) var record: QueuedJob
        let queue: JobQueue
        let lock: FileLock

        init(record: QueuedJob, queue: JobQueue, lock: FileLock) {
            self.record = record
            self.queue = queue
            self.lock = lock
        }

        /// True once `rlhf cancel` has asked for this job to stop.
        public var cancelRequested: Bool { FileManager.default.fileExists(atPath: queue.cancelFile(record.id).path) }

        /// Records the outcome and releases the job.
        public func finish(_ state: QueuedJob.State, message: String?, exitCode: Int32?) throws {
            record.state = state
            record.message = message
            record.exitCode = exitCode
            record.finishedUTC = state == .pending ? nil : utcTimestamp()
            try queue.save(record)
            if state != .pending { try? FileManager.default.removeItem(at: queue.cancelFile(record.id)) }
            lock.release()
        }
    }

    /// Takes the next job to run, or nil when none is free: interrupted (attempts > 0) and stale
    /// (running, lock free) jobs first, then pending jobs in submission order. `skipping` ids are
    /// passed over (jobs this worker could not run in this pass).
    public func claimNext(skipping: Set<String> = [], worker: String = "\(ProcessInfo.processInfo.hostName):\(getpid())") throws -> Claim? {
        let candidates = try list().filter { ($0.state == .pending || $0.state == .running) && !skipping.contains($0.id) }
            .sorted { a, b in
                let (ra, rb) = (a.state == .running || a.attempts > 0, b.state == .running || b.attempts > 0)
                return ra != rb ? ra : a.id < b.id
            }
        for candidate in candidates {
            guard let lock = try FileLock.tryAcquire(lockFile(candidate.id)) else { continue }
            // Under the lock the record is ours; it may have changed since the listing.
            guard var record = try? record(candidate.id), record.state == .pending || record.state == .running else {
                lock.release(); continue
            }
            if FileManager.default.fileExists(atPath: cancelFile(record.id).path) {
                let claim = Claim(record: record, queue: self, lock: lock)
                try claim.finish(.cancelled, message: "cancelled before it started", exitCode: nil)
                continue
            }
            if record.state == .running { record.message = "taken up again: the worker running it (\(record.worker ?? "?")) died" }
            record.state = .running
            record.attempts += 1
            record.startedUTC = record.startedUTC ?? utcTimestamp()
            record.worker = worker
            try save(record)
            return Claim(record: record, queue: self, lock: lock)
        }
        return nil
    }

    // MARK: Cancelling

    public enum CancelOutcome: Sendable {
        /// It had not started: it is cancelled now.
        case cancelled
        /// A worker runs it: it stops after the current step, with a checkpoint.
        case requested
    }

    public func cancel(_ id: String) throws -> CancelOutcome {
        let current = try record(id)
        guard current.state == .pending || current.state == .running else {
            throw JobError.invalid("job \(id) is \(current.state.rawValue); only pending or running jobs can be cancelled")
        }
        if let lock = try FileLock.tryAcquire(lockFile(id)) {
            var record = try record(id)
            record.state = .cancelled
            record.finishedUTC = utcTimestamp()
            record.message = "cancelled" + (record.attempts > 0 ? " (resumable: its checkpoints are kept)" : "")
            try save(record)
            lock.release()
            return .cancelled
        }
        try Data().write(to: cancelFile(id))
        return .requested
    }
}
