// `rlhf _checkpoint-parse FILE` (hidden): the child process in which a checkpoint that no stamp
// vouches for is read (docs/checkpoints.md). It writes the stamped image of what it read to stdout
// (exit 0) or its CheckpointError as JSON (exit 2); the parent checks and parses the image. A crash or
// a hang of HDF5 on a malformed file ends only this process.

import ArgumentParser
import Checkpoint
import Foundation

struct CheckpointParse: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_checkpoint-parse", abstract: "Read a checkpoint with HDF5 and write back a stamped image of it.",
        shouldDisplay: false)

    @Argument(help: "The checkpoint file.") var file: String

    func run() throws {
        do {
            let image = try CheckpointFile.parseInChildProcess(URL(fileURLWithPath: file))
            FileHandle.standardOutput.write(Data(image))
        } catch let error as CheckpointError {
            FileHandle.standardOutput.write(try JSONEncoder().encode(error))
            throw ExitCode(ExitStatus.invalidInput)
        }
    }
}
