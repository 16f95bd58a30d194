// The queue commands: `rlhf submit`, `rlhf worker`, `rlhf cancel`, `rlhf logs`. Each maps its
// options onto `JobQueue` / `Worker` (the Jobs library) and prints; docs/jobs.md has the behaviour.

import ArgumentParser
import Foundation
import Jobs

/// `--queue DIR`, shared by every queue command.
struct QueueOptions: ParsableArguments {
    @Option(name: .customLong("queue"), help: "The queue folder.")
    var folder: String = JobQueue.defaultFolder
}

struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Validate job manifests and add them to the queue (or submit them to Slurm); prints one id per job.",
        discussion: """
            Nothing is queued when any manifest is invalid (exit 2). A worker runs the manifest as validated now.

            With --slurm, each job becomes a Slurm batch job instead (the local queue is not used): \
            OUTPUT/slurm.sbatch runs `rlhf run` on the allocation with --requeue and --signal=B:TERM@S, so \
            a job that reaches its time limit or is preempted commits a checkpoint, is requeued, and \
            resumes exactly. Prints the Slurm job ids; `rlhf status` shows Slurm's state beside ours. \
            See docs/cluster.md.
            """)

    @Argument(help: "Job manifests (YAML).") var manifests: [String]
    @OptionGroup var queue: QueueOptions
    @OptionGroup var slurm: SlurmSubmitOptions

    func validate() throws {
        if manifests.isEmpty { throw ValidationError("Give at least one manifest.") }
        try slurm.validate()
    }

    func run() throws {
        var jobs: [(JobManifest, String)] = []
        var problems: [ManifestError] = []
        for manifest in manifests {
            do { jobs.append((try ManifestLoader.load(manifest), URL(fileURLWithPath: manifest).standardizedFileURL.path)) }
            catch { problems.append(error) }
        }
        if let first = problems.first {
            for other in problems.dropFirst() { FileHandle.standardError.write(Data("error: \(other)\n".utf8)) }
            throw first
        }
        let queue = JobQueue(folder: queue.folder)
        guard slurm.slurm else {
            for (job, manifest) in jobs { print(try queue.submit(job, manifest: manifest).id) }
            return
        }
        let submitter = SlurmSubmitter(options: slurm.options, rlhf: try slurm.executable(), force: slurm.force, dryRun: slurm.dryRun)
        try submitter.check(jobs.map { (job: $0.0, manifest: $0.1) })
        for (job, manifest) in jobs {
            let record = try submitter.submit(job, manifest: manifest, queue: queue)
            if slurm.dryRun { print(record.script) } else { print(record.jobID) }
        }
    }
}

/// `rlhf submit --slurm` and what it asks of Slurm.
struct SlurmSubmitOptions: ParsableArguments {
    @Flag(help: "Submit each job to Slurm (sbatch) instead of the local queue.") var slurm = false
    @Option(help: "Slurm partition (default: the cluster's).") var partition: String?
    @Option(help: "Time limit, as sbatch takes it (e.g. 30, 4:00:00, 1-00:00:00).") var time: String?
    @Option(help: "CPUs for the job (--cpus-per-task); also its kernel threads.") var cpus: Int?
    @Option(help: "Nodes (--nodes).") var nodes: Int?
    @Option(help: "Memory (--mem, e.g. 8G).") var mem: String?
    @Option(help: "Account to charge (--account).") var account: String?
    @Option(help: "Quality of service (--qos).") var qos: String?
    @Option(help: "Seconds before the time limit at which the job checkpoints and requeues itself (--signal=B:TERM@S).")
    var signalSeconds: Int = 120
    @Option(name: .customLong("sbatch"), help: "Another #SBATCH option, verbatim (repeatable), e.g. --sbatch=--constraint=avx512.")
    var sbatch: [String] = []
    @Option(help: "The rlhf executable the allocation runs (default: this one).") var rlhf: String?
    @Flag(help: "With --slurm: write OUTPUT/slurm.sbatch and print its path, but do not submit.") var dryRun = false
    @Flag(help: "With --slurm: submit even when the output folder holds a job with a different manifest (run --force).")
    var force = false

    func validate() throws {
        let slurmOnly = [partition != nil, time != nil, cpus != nil, nodes != nil, mem != nil, account != nil, qos != nil,
                         !sbatch.isEmpty, rlhf != nil, dryRun, force]
        if !slurm && slurmOnly.contains(true) { throw ValidationError("--partition, --time, --cpus, … apply to --slurm only.") }
        if let cpus, cpus < 1 { throw ValidationError("--cpus must be at least 1.") }
        if let nodes, nodes < 1 { throw ValidationError("--nodes must be at least 1.") }
        if signalSeconds < 1 { throw ValidationError("--signal-seconds must be at least 1.") }
        if let bad = sbatch.first(where: { !$0.hasPrefix("-") || $0.contains("\n") }) {
            throw ValidationError("--sbatch takes one sbatch option such as --constraint=avx512, not '\(bad)'.")
        }
    }

    var options: SlurmOptions {
        SlurmOptions(partition: partition, time: time, cpus: cpus, nodes: nodes, memory: mem, account: account, qos: qos,
                     signalSeconds: signalSeconds, extra: sbatch)
    }

    /// The executable the batch script runs: --rlhf, or this process's own (absolute).
    func executable() throws -> String {
        let path = rlhf.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            ?? (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
        guard FileManager.default.isExecutableFile(atPath: path) else { throw ValidationError("--rlhf \(path) is not an executable file.") }
        return path
    }
}

struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run queued jobs, interrupted ones first; several workers can share one queue.",
        discussion: """
            Without --once the worker waits for new jobs when the queue is empty. SIGINT/SIGTERM: the running \
            job finishes its step, commits a checkpoint, goes back to pending, and the worker exits 3.
            """)

    @OptionGroup var queue: QueueOptions
    @Flag(help: "Exit when no job is left to run instead of waiting for new ones.") var once = false
    @Option(help: "Threads for the kernels, overriding each manifest's (0 = every core).") var threads: Int?

    func run() throws {
        StopSignal.install()
        let worker = Worker(queue: JobQueue(folder: queue.folder),
                            options: WorkerOptions(once: once, run: RunOptions(threads: threads)),
                            exitCode: { ExitStatus.of($0).code })
        var idle = false, started = false
        let stopped = try worker.run(events: { event in
            switch event {
            case .took(let job): write("worker \(getpid()): running \(job.id)\n"); idle = false
            case .finished(let job):
                write("worker \(getpid()): \(job.id) \(job.state.rawValue)" + (job.message.map { ": \($0)" } ?? "") + "\n")
                if started { ReportCommand.writeAfterRun(job.job) }
            case .idle: if !idle { write("worker \(getpid()): waiting for jobs in \(queue.folder)\n") }; idle = true
            }
        }, progress: { _, cancelRequested in
            let printer = ProgressPrinter(shouldStop: cancelRequested)
            started = false
            return { event in
                if case .jobStarted = event { started = true }   // a report only after a run that started
                return printer.handle(event)
            }
        },
           stopRequested: { StopSignal.requested })
        if stopped { throw ExitCode(ExitStatus.interrupted) }
    }
}

struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a queued job; a running one stops after its current step, with a checkpoint.")

    @Argument(help: "The job's id (or id number, or name).") var job: String
    @OptionGroup var queue: QueueOptions

    func run() throws {
        let queue = JobQueue(folder: queue.folder)
        let id = try queue.find(job).id
        switch try queue.cancel(id) {
        case .cancelled: print("\(id) cancelled")
        case .requested: print("\(id) is running: it will stop after its current step (with a checkpoint)")
        }
    }
}

struct LogsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print a job's log (job.log in its output folder).")

    @Argument(help: "A queue id or job name, a manifest file, or an output folder.") var job: String
    @OptionGroup var queue: QueueOptions
    @Flag(help: "Keep printing new lines until the job is no longer pending or running.") var follow = false

    func run() throws {
        let locator = JobLocator(queue: queue.folder)
        let found = try locator.find(job)
        let log = JobFolder(found.job.output).logFile
        var offset: UInt64 = 0, following = follow
        while true {
            if let handle = FileHandle(forReadingAtPath: log.path) {
                handle.seek(toFileOffset: offset)
                let data = handle.readDataToEndOfFile()
                offset += UInt64(data.count)
                try? handle.close()
                FileHandle.standardOutput.write(data)
            }
            guard following else { return }
            let state = try locator.status(of: job).state
            if state != "running" && state != "pending" { following = false; continue }  // print what came last
            Thread.sleep(forTimeInterval: 0.5)
        }
    }
}
