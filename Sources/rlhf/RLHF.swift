// The `rlhf` command tree. The CLI only maps options onto the libraries and reports; the work lives
// in the library targets (DESIGN §2).

import ArgumentParser

@main
struct RLHF: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rlhf",
        abstract: "RLHF post-training (SFT, reward model, PPO, DPO, distillation) on CPU, from job manifests.",
        discussion: """
            Exit codes:
              0  done
              1  failed (the error is printed)
              2  bad usage or invalid input (manifest, data, a bad checkpoint file)
              3  interrupted by a signal after a clean checkpoint (run again to resume)
            """,
        subcommands: [RunCommand.self, SubmitCommand.self, WorkerCommand.self, StatusCommand.self, CancelCommand.self,
                      LogsCommand.self, ReportCommand.self, Eval.self, Generate.self, TokenizeCommand.self, DataCommand.self, KindsCommand.self,
                      Inspect.self, Bench.self,
                      CheckpointSample.self, CheckpointStress.self, CheckpointParse.self, CollectiveCheck.self, ModelInit.self, LogProbs.self]
    )
}

/// Options every compute-heavy command shares.
struct ThreadOptions: ParsableArguments {
    @Option(help: "Threads for the kernels (0 = every core).")
    var threads: Int = 0

    func validate() throws {
        guard threads >= 0 else { throw ValidationError("--threads must be 0 (all cores) or a positive count.") }
    }
}
