// `rlhf submit --slurm`: one Slurm batch job per manifest, beside the local queue (which it does not
// touch). For each job, in its output folder:
//
//   OUTPUT/slurm-manifest.json   the manifest as validated now (absolute paths): what every run of the
//                                Slurm job runs, even if the manifest file changes later
//   OUTPUT/slurm.sbatch          the batch script (SlurmScript)
//   OUTPUT/slurm.json            the submission: Slurm job id, time, options (`rlhf status` reads it)
//   OUTPUT/slurm-<id>.out        what the job printed, appended across requeues (Slurm writes it)
//
// and a pointer QUEUE/slurm/<id>.json so that `rlhf status` lists the job with the queue's.
// A job whose earlier Slurm job is still pending or running is refused, as is one whose output
// folder holds a different manifest (unless forced): both would fail later, on the allocation.

import Foundation

/// What `OUTPUT/slurm.json` (and its copy under QUEUE/slurm/) records.
public struct SlurmSubmission: Codable, Equatable, Sendable {
    public var jobID: String
    public var name: String
    public var output: String
    /// The manifest file the user submitted.
    public var manifest: String
    public var script: String
    public var submittedUTC: String
    public var options: SlurmOptions
    /// Slurm job ids of earlier submissions of this output folder, oldest first.
    public var previousJobIDs: [String] = []

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", name, output, manifest, script, submittedUTC = "submitted_utc", options,
             previousJobIDs = "previous_job_ids"
    }

    public static func fileName(in folder: JobFolder) -> URL { folder.url.appendingPathComponent("slurm.json") }

    /// The submission recorded in a job's output folder, if any.
    public static func recorded(in folder: JobFolder) -> SlurmSubmission? {
        FileManager.default.contents(atPath: fileName(in: folder).path).flatMap { try? JSONDecoder().decode(Self.self, from: $0) }
    }

    /// The manifest the Slurm job runs (OUTPUT/slurm-manifest.json).
    public func job() throws -> JobManifest {
        let file = URL(fileURLWithPath: output).appendingPathComponent("slurm-manifest.json")
        guard let data = FileManager.default.contents(atPath: file.path), let job = try? JSONDecoder().decode(JobManifest.self, from: data) else {
            throw JobError.invalid("\(file.path) is missing or not a job manifest (Slurm job \(jobID))")
        }
        return job
    }

    func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return try! encoder.encode(self)
    }
}

public struct SlurmSubmitter {
    public var options: SlurmOptions
    /// The rlhf executable the allocation runs.
    public var rlhf: String
    public var force = false
    /// Write the files but do not call sbatch.
    public var dryRun = false

    public init(options: SlurmOptions, rlhf: String, force: Bool = false, dryRun: Bool = false) {
        self.options = options
        self.rlhf = rlhf
        self.force = force
        self.dryRun = dryRun
    }

    /// Checks that `jobs` can be submitted; throws on the first that cannot (nothing is written then).
    public func check(_ jobs: [(job: JobManifest, manifest: String)]) throws {
        var outputs: [String: String] = [:]
        for (job, _) in jobs {
            if let other = outputs.updateValue(job.name, forKey: job.output) {
                throw JobError.invalid("jobs \(other) and \(job.name) both write to \(job.output); give each its own output")
            }
            let folder = JobFolder(job.output)
            if let stored = try folder.storedManifest() {
                let differences = manifestDifferences(stored, job)
                if !differences.isEmpty && !force { throw JobError.manifestChanged(output: folder.url.path, differences: differences) }
            }
            if let earlier = SlurmSubmission.recorded(in: folder), !dryRun {
                let state = try SlurmCalls.queued([earlier.jobID]).get()[earlier.jobID]
                if let state, state.isActive {
                    throw JobError.invalid("\(job.name) (\(job.output)) is already Slurm job \(earlier.jobID), \(state.state); "
                                           + "wait for it to end or `scancel \(earlier.jobID)` first")
                }
            }
        }
    }

    /// Writes a job's files and submits its script; returns the record (job id "dry-run" when not submitted).
    public func submit(_ job: JobManifest, manifest: String, queue: JobQueue) throws -> SlurmSubmission {
        let folder = JobFolder(job.output)
        try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
        let resolved = folder.url.appendingPathComponent("slurm-manifest.json")
        try job.json().write(to: resolved, options: .atomic)
        let now = utcTimestamp()
        let script = SlurmScript(jobName: job.name, output: folder.url.path, rlhf: rlhf, manifest: resolved.path,
                                 options: options, force: force, createdUTC: now)
        let scriptFile = folder.url.appendingPathComponent("slurm.sbatch")
        try Data(script.text.utf8).write(to: scriptFile, options: .atomic)
        chmod(scriptFile.path, 0o755)
        guard !dryRun else {
            return SlurmSubmission(jobID: "dry-run", name: job.name, output: folder.url.path, manifest: manifest,
                                   script: scriptFile.path, submittedUTC: now, options: options)
        }
        let id = try SlurmCalls.submit(script: scriptFile.path).get()
        let earlier = SlurmSubmission.recorded(in: folder)
        let record = SlurmSubmission(jobID: id, name: job.name, output: folder.url.path, manifest: manifest,
                                     script: scriptFile.path, submittedUTC: now, options: options,
                                     previousJobIDs: (earlier?.previousJobIDs ?? []) + (earlier.map { [$0.jobID] } ?? []))
        try record.encoded().write(to: SlurmSubmission.fileName(in: folder), options: .atomic)
        let index = queue.slurmFolder
        try FileManager.default.createDirectory(at: index, withIntermediateDirectories: true)
        try record.encoded().write(to: index.appendingPathComponent(id + ".json"), options: .atomic)
        return record
    }
}

extension JobQueue {
    /// Pointers to the jobs submitted to Slurm from this queue folder (`QUEUE/slurm/<id>.json`).
    var slurmFolder: URL { folder.appendingPathComponent("slurm") }

    /// The Slurm submissions recorded here, oldest first (each read back from its output folder,
    /// which holds the newest submission of that folder).
    public func slurmSubmissions() -> [SlurmSubmission] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: slurmFolder.path)) ?? []
        return files.filter { $0.hasSuffix(".json") }.sorted { (Int($0.dropLast(5)) ?? 0) < (Int($1.dropLast(5)) ?? 0) }
            .compactMap { file -> SlurmSubmission? in
                guard let data = FileManager.default.contents(atPath: slurmFolder.appendingPathComponent(file).path),
                      let pointer = try? JSONDecoder().decode(SlurmSubmission.self, from: data) else { return nil }
                // A folder submitted again has several pointers: keep the one its slurm.json names.
                let current = SlurmSubmission.recorded(in: JobFolder(pointer.output)) ?? pointer
                return current.jobID == pointer.jobID ? current : nil
            }
    }
}
