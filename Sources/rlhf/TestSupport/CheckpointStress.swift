// `rlhf _checkpoint-stress DIR` (hidden): commits checkpoints in a loop, as training does, so a test
// can SIGKILL it at random moments and check that every checkpoint name always holds a complete file.
// Each iteration writes step-N.h5 and overwrites final.h5 (both through the commit protocol), then
// prunes to 2 step files. It resumes from final.h5 and removes stale temporaries at start-up.

import ArgumentParser
import Checkpoint
import Foundation

struct CheckpointStress: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_checkpoint-stress", abstract: "Commit checkpoints in a loop (for the crash test).",
        shouldDisplay: false)

    @Argument(help: "The checkpoint folder.") var dir: String
    @Option(help: "Floats in the one tensor.") var elements = 1 << 18
    @Option(help: "Iterations (0 = until killed).") var iterations = 0

    /// Step `step`'s value at `index`: exact in float32, different for every step.
    static func value(step: Int, index: Int) -> Float { Float((step &* 7919 &+ index) % 65_536) }

    func run() throws {
        let folder = CheckpointFolder(URL(fileURLWithPath: dir))
        try folder.removeStaleTemporaries()
        var step = 0
        if FileManager.default.fileExists(atPath: folder.finalFile.path) {
            step = try CheckpointFile.read(from: folder.finalFile).metadata.step
        }
        var done = 0
        while iterations == 0 || done < iterations {
            step += 1
            var checkpoint = CheckpointFile(metadata: CheckpointMetadata(stageKind: "stress", stageName: "stress",
                                                                         step: step, totalSteps: 0))
            checkpoint[tensor: "/model/w"] = Tensor(shape: [elements], values: (0..<elements).map { Self.value(step: step, index: $0) })
            try checkpoint.write(to: folder.stepFile(step))
            try checkpoint.write(to: folder.finalFile)
            try folder.prune(keep: 2)
            FileHandle.standardOutput.write(Data("committed \(step)\n".utf8))  // unbuffered: the test may kill us next
            done += 1
        }
    }
}
