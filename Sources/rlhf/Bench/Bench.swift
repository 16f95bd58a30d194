// `rlhf bench ...`: performance measurements. Speed is proven here, never in timed unit tests.

import ArgumentParser

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure kernels, training, generation, PPO and checkpoint speed.",
        discussion: "Each figure is the median of at least 10 timed runs after warm-up runs.",
        subcommands: [BenchGEMM.self, BenchKernels.self, BenchTrain.self, BenchGenerate.self, BenchStages.self, BenchPPO.self, BenchGRPO.self,
                      BenchCheckpoint.self, BenchTokenizer.self]
    )
}
