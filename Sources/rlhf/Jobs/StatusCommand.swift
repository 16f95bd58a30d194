// `rlhf status [JOB] [--watch]`: per job and stage, the state, step/total, last metrics and checkpoint
// path. JOB is a queue id (or unique prefix, or job name), a manifest file, a job's output folder, or
// a Slurm job id; without it, every job in the queue and every job submitted to Slurm from it (those
// also show Slurm's job id and state: squeue, sacct). --watch redraws it in place on a terminal (a
// new block per refresh otherwise) until no job is running or pending.

import ArgumentParser
import Foundation
import Jobs

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show jobs and their stages: state, step/total, last metrics, checkpoint.")

    @Argument(help: "A queue id or job name, a manifest file, or an output folder (default: every queued job).")
    var job: String?
    @OptionGroup var queue: QueueOptions
    @Flag(help: "One JSON object per job.") var json = false
    @Flag(help: "Refresh until no job is running or pending (in place on a terminal).") var watch = false
    @Option(help: "Seconds between refreshes with --watch.") var interval = 2.0

    func validate() throws {
        if interval <= 0 { throw ValidationError("--interval must be a positive number of seconds.") }
    }

    func run() throws {
        let terminal = isatty(STDOUT_FILENO) != 0 && !json
        var drawnLines = 0
        while true {
            let all = JobQueue(folder: queue.folder)
            let statuses = JobStatus.addingSlurmStates(try job.map { [try JobLocator(queue: queue.folder).status(of: $0)] }
                ?? (try all.list().map { $0.status } + all.slurmSubmissions().compactMap { try? JobStatus(job: $0.job()) }))
            var text = statuses.isEmpty && !json ? "no jobs in \(queue.folder)" : ""
            if json {
                statuses.forEach(printJSONLine)
            } else {
                text += statuses.map(Self.text).joined(separator: "\n")
                if watch && terminal {
                    // Back to the first line of the previous drawing, clear to the end of the screen, redraw.
                    text = text.split(separator: "\n", omittingEmptySubsequences: false).map { fitToTerminal(String($0)) }.joined(separator: "\n")
                    write((drawnLines > 0 ? "\u{1B}[\(drawnLines)A\r" : "") + "\u{1B}[J" + text + "\n")
                    drawnLines = text.split(separator: "\n", omittingEmptySubsequences: false).count
                } else {
                    print(text + (watch ? "\n" : ""))
                }
            }
            let active = statuses.contains { ["running", "pending"].contains($0.state) }
            guard watch && active else { return }
            Thread.sleep(forTimeInterval: interval)
        }
    }

    static func text(_ status: JobStatus) -> String {
        var lines = [(status.id.map { "\($0)  " } ?? "") + "\(status.name)  \(status.state)  \(status.output)"]
        if let message = status.message, status.state != "done" { lines.append("  " + message) }
        if let slurm = status.slurm { lines.append("  slurm job \(slurm.jobID)  \(slurm.state)" + (slurm.reason.map { "  (\($0))" } ?? "")) }
        for stage in status.stages {
            lines.append("  \(stage.name) (\(stage.kind))  \(stage.state)  step \(stage.step)/\(stage.totalSteps)"
                         + (stage.metrics.isEmpty ? "" : "  " + ProgressText.format(stage.metrics.filter { $0.key != "epoch" })))
            if !stage.eval.isEmpty { lines.append("    eval  " + ProgressText.format(stage.eval)) }
            if let checkpoint = stage.checkpoint { lines.append("    checkpoint  " + checkpoint) }
        }
        return lines.joined(separator: "\n")
    }
}
