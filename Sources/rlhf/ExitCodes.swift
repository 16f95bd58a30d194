// The one place where errors become exit codes and messages (DESIGN §3.1):
//   0 done · 1 failed · 2 bad usage or invalid input · 3 interrupted after a clean checkpoint.
// Commands just throw; `RLHF.main()` below decides what the user sees.

import ArgumentParser
import Checkpoint
import Foundation
import Jobs
import Launch
import Stages
import Tokenizers
import Transformer

enum ExitStatus {
    static let done: Int32 = 0
    static let failed: Int32 = 1
    static let invalidInput: Int32 = 2
    static let interrupted: Int32 = 3

    /// The exit code for an error thrown by a command, and the one line (or help text) to print.
    static func of(_ error: Error) -> (code: Int32, message: String) {
        switch error {
        case let error as CheckpointError:
            return (error.isInvalidFile ? invalidInput : failed, "error: \(error)")
        case let error as ManifestError:
            return (invalidInput, "error: \(error)")
        case let error as DataError:
            return (invalidInput, "error: \(error)")
        case let error as ModelConfigError:
            return (invalidInput, "error: \(error)")
        case let error as TokenizerError:
            return (invalidInput, "error: \(error)")
        case let error as StageError:
            if case .nonFinite = error { return (failed, "error: \(error)") }
            if case .graderFailed = error { return (failed, "error: \(error)") }
            return (invalidInput, "error: \(error)")
        case let error as SlurmError:
            return (failed, "error: \(error)")
        case let error as JobError:
            switch error {
            case .interrupted: return (interrupted, "\(error)")
            case .manifestChanged, .invalid: return (invalidInput, "error: \(error)")
            case .busy, .system: return (failed, "error: \(error)")
            }
        default:
            // Argument parser outcomes: help and version (0), usage and validation errors (its
            // EX_USAGE 64, ours 2), an explicit `ExitCode`, or any other error (1).
            let code = RLHF.exitCode(for: error)
            let message = RLHF.fullMessage(for: error)
            return (code == .validationFailure ? invalidInput : code.rawValue, message)
        }
    }
}

extension RLHF {
    /// Replaces ArgumentParser's `main()` so every exit code comes from `ExitStatus`.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let (code, message) = ExitStatus.of(error)
            if !message.isEmpty {
                if code == ExitStatus.done { print(message) } else {
                    FileHandle.standardError.write(Data((message + "\n").utf8))
                }
            }
            Launch.end(code, agreed: code == ExitStatus.interrupted)
        }
        Launch.end(ExitStatus.done, agreed: true)
    }
}
