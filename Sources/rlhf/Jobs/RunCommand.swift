// `rlhf run MANIFEST`: validate a job manifest and run it in the foreground, resuming from its
// checkpoints when they exist. Ctrl-C (or SIGTERM) stops after the current step with a checkpoint.

import ArgumentParser
import Foundation
import Jobs

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a job manifest to completion in the foreground (resumes from its checkpoints).",
        discussion: """
            The manifest is validated first; every problem is listed (exit 2). Each stage writes \
            OUTPUT/STAGE/step-NNNNNN.h5, final.h5 and metrics.jsonl; finished stages are skipped on a rerun. \
            SIGINT/SIGTERM: finish the current step, commit a checkpoint, exit 3; a second signal exits at once. \
            When the run ends, OUTPUT/report.html shows it (rlhf report). \
            A rerun with a changed manifest is refused (listing the changed keys) unless --force. \
            Manifest keys: docs/manifest.md.
            """)

    @Argument(help: "The job manifest (YAML).") var manifest: String
    @Option(help: "Threads for the kernels, overriding the manifest's (0 = every core). Results do not depend on it.")
    var threads: Int?
    @Flag(help: "Continue a job whose stored manifest differs from this one.") var force = false

    func validate() throws {
        if let threads, threads < 0 { throw ValidationError("--threads must be 0 (all cores) or a positive count.") }
    }

    func run() throws {
        let job = try ManifestLoader.load(manifest)
        StopSignal.install()
        let printer = ProgressPrinter()
        // The report is written only after a run that started (a refused one leaves no trace).
        var started = false
        defer { if started { ReportCommand.writeAfterRun(job) } }
        try JobRunner(job: job, options: RunOptions(threads: threads, force: force)) { event in
            if case .jobStarted = event { started = true }
            return printer.handle(event)
        }.run()
    }
}
