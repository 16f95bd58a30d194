// Why a job did not finish, besides the errors of the layers below (ManifestError, StageError,
// CheckpointError, DataError). The CLI maps each to its exit code in one place (ExitCodes.swift):
// interrupted → 3, invalid → 2, the rest → 1.

public enum JobError: Error, Equatable, CustomStringConvertible {
    /// Stopped by a signal (or `rlhf cancel`) after committing a checkpoint at `step`.
    case interrupted(stage: String, step: Int, checkpoint: String)
    /// Another process holds the job's lock.
    case busy(output: String, lockFile: String)
    /// The manifest differs from the one the job started with (key paths), and `--force` was not given.
    case manifestChanged(output: String, differences: [String])
    /// A job's inputs or state do not allow it to run (no such job, a checkpoint beyond the stage's steps...).
    case invalid(String)
    /// A system call on a job file failed.
    case system(path: String, call: String, code: Int32)

    public var description: String {
        switch self {
        case let .interrupted(stage, step, checkpoint):
            return "interrupted: stage \(stage) stopped after step \(step), checkpoint \(checkpoint); run again to resume"
        case let .busy(output, lockFile):
            return "the job in \(output) is running in another process (\(lockFile) is locked)"
        case let .manifestChanged(output, differences):
            return "the manifest differs from the one the job in \(output) started with:\n"
                + differences.map { "  " + $0 }.joined(separator: "\n")
                + "\nRun with --force to continue with the new manifest, or use another output folder."
        case let .invalid(message):
            return message
        case let .system(path, call, code):
            return "\(call) \(path): \(String(cString: strerror(code)))"
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
