// `rlhf status [JOB]`: per job and stage, the state, step/total, last metrics and checkpoint path.
// JOB is a queue id (or unique prefix, or job name), a manifest file, or a job's output folder;
// without it, every job in the queue.

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

    func run() throws {
        let statuses = try job.map { [try JobLocator(queue: queue.folder).status(of: $0)] }
            ?? JobQueue(folder: queue.folder).list().map { $0.status }
        if statuses.isEmpty && !json { print("no jobs in \(queue.folder)") }
        for status in statuses {
            if json { printJSONLine(status) } else { print(Self.text(status)) }
        }
    }

    static func text(_ status: JobStatus) -> String {
        var lines = [(status.id.map { "\($0)  " } ?? "") + "\(status.name)  \(status.state)  \(status.output)"]
        if let message = status.message, status.state != "done" { lines.append("  " + message) }
        for stage in status.stages {
            lines.append("  \(stage.name) (\(stage.kind))  \(stage.state)  step \(stage.step)/\(stage.totalSteps)"
                         + (stage.metrics.isEmpty ? "" : "  " + ProgressText.format(stage.metrics.filter { $0.key != "epoch" })))
            if !stage.eval.isEmpty { lines.append("    eval  " + ProgressText.format(stage.eval)) }
            if let checkpoint = stage.checkpoint { lines.append("    checkpoint  " + checkpoint) }
        }
        return lines.joined(separator: "\n")
    }
}
