// What the user means by JOB in `rlhf status JOB`, `rlhf logs JOB`: a job's output folder (it holds
// job.json), a manifest file, a queued job (id, id number, or name), or a job submitted to Slurm
// (its Slurm job id, or its name).

import Foundation

public struct JobLocator: Sendable {
    public let queue: JobQueue

    public init(queue: String) { self.queue = JobQueue(folder: queue) }

    public struct Found: Sendable {
        public var job: JobManifest
        public var queued: QueuedJob?
    }

    public func find(_ name: String) throws -> Found {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: name, isDirectory: &isFolder) {
            if isFolder.boolValue {
                guard let job = try JobFolder(name).storedManifest() else {
                    throw JobError.invalid("\(name) is not a job's output folder (it has no job.json)")
                }
                return Found(job: job)
            }
            return Found(job: try ManifestLoader.load(name, prepareDemoData: false, readData: false))
        }
        do {
            let record = try queue.find(name)
            return Found(job: record.job, queued: record)
        } catch {
            // A job submitted to Slurm: by its Slurm job id or its name (the newest of that name).
            let submissions = queue.slurmSubmissions()
            guard let submission = submissions.first(where: { $0.jobID == name }) ?? submissions.last(where: { $0.name == name }) else {
                throw error
            }
            return Found(job: try submission.job())
        }
    }

    public func status(of name: String) throws -> JobStatus {
        let found = try find(name)
        return found.queued?.status ?? JobStatus(job: found.job)
    }
}
