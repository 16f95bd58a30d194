// `rlhf report JOB [--out FILE.html] [--compare OTHER...]`: a job's curves, summary, samples and
// settings as one self-contained HTML file (the Report library; docs/jobs.md). Reads only files, so
// it works on a running job (what has been logged so far) as on a finished one. `rlhf run` and
// `rlhf worker` write OUTPUT/report.html whenever a run of a job ends.

import ArgumentParser
import Foundation
import Jobs
import Report

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a job's report: charts of every metric, before → after summary, samples, settings (one HTML file).",
        discussion: """
            The page is self-contained (inline CSS and SVG, no scripts or network) and can be opened from disk \
            or mailed. With --compare, every chart has one line per job (train solid, eval dashed), the summary \
            a column per job, and the settings that differ between the jobs are highlighted: a sweep at a glance. \
            JOB and OTHER are queue ids or names, manifest files, or output folders.
            """)

    @Argument(help: "The job: a queue id or name, a manifest file, or an output folder.") var job: String
    @Option(help: "Where to write the page (default: OUTPUT/report.html, or OUTPUT/compare.html with --compare).")
    var out: String?
    @Option(parsing: .upToNextOption, help: "Other jobs to draw in the same charts.") var compare: [String] = []
    @OptionGroup var queue: QueueOptions

    func run() throws {
        let locator = JobLocator(queue: queue.folder)
        let jobs = try ([job] + compare).map { name -> ReportedJob in
            let found = try locator.find(name)
            return ReportedJob(job: found.job, status: found.queued?.status)
        }
        let folder = JobFolder(jobs[0].job.output)
        let url = out.map { URL(fileURLWithPath: $0) }
            ?? (compare.isEmpty ? folder.reportFile : folder.url.appendingPathComponent("compare.html"))
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try HTMLReport.write(jobs, to: url)
        print(url.path)
    }

    /// OUTPUT/report.html after a run of `job` ended (done, stopped or failed); a failure to write it
    /// is a warning, never the run's outcome.
    static func writeAfterRun(_ job: JobManifest) {
        let file = JobFolder(job.output).reportFile
        do {
            try HTMLReport.write([ReportedJob(job: job)], to: file)
            write("report \(file.path)\n")
        } catch {
            FileHandle.standardError.write(Data("warning: could not write \(file.path): \(error)\n".utf8))
        }
    }
}
