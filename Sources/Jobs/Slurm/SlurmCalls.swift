// The only file that runs Slurm's commands (sbatch, squeue, sacct, scontrol). Each call's outcome is
// checked here; a failure becomes a `SlurmError` carrying the command line and what Slurm printed.
// Everything above this file speaks in job ids and states. Slurm has no C API meant for clients
// (libslurm's ABI changes with every release), so its command-line tools, with their parsable output
// modes, are the interface every site supports.

import Foundation
import Synchronization

/// Why a Slurm command did not give what we asked for.
public enum SlurmError: Error, CustomStringConvertible, Equatable {
    /// The tool is not on PATH.
    case notInstalled(tool: String)
    /// The tool ran and failed: its exit status and what it printed on stderr (or stdout).
    case failed(command: String, status: Int32, message: String)
    /// The tool succeeded but printed something we cannot read.
    case unexpectedOutput(command: String, output: String)

    public var description: String {
        switch self {
        case let .notInstalled(tool):
            return "\(tool) not found on PATH: `rlhf submit --slurm` needs Slurm's client commands "
                + "(Debian: apt-get install slurm-client; on a cluster, run it on a login node)"
        case let .failed(command, status, message):
            return "`\(command)` failed (exit \(status)): \(message.isEmpty ? "no message" : message)"
        case let .unexpectedOutput(command, output):
            return "`\(command)` printed something unexpected: \(output.prefix(200))"
        }
    }
}

enum SlurmCalls {
    /// The path of `tool` on PATH, or nil.
    static func locate(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `tool arguments…` and returns its standard output (trimmed) when it exits 0.
    static func run(_ tool: String, _ arguments: [String]) -> Result<String, SlurmError> {
        guard let executable = locate(tool) else { return .failure(.notInstalled(tool: tool)) }
        let command = ([tool] + arguments).joined(separator: " ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            return .failure(.failed(command: command, status: -1, message: "\(error)"))
        }
        // Read both pipes to the end before waiting, so a chatty tool cannot block on a full pipe.
        let stderrData = Mutex(Data())
        let stderrDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let data = errors.fileHandleForReading.readDataToEndOfFile()
            stderrData.withLock { $0 = data }
            stderrDone.signal()
        }
        let stdoutData = output.fileHandleForReading.readDataToEndOfFile()
        stderrDone.wait()
        process.waitUntilExit()
        let text = String(decoding: stdoutData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0 else {
            let message = String(decoding: stderrData.withLock { $0 }, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return .failure(.failed(command: command, status: process.terminationStatus,
                                    message: (message.isEmpty ? text : message).replacingOccurrences(of: "\n", with: "; ")))
        }
        return .success(text)
    }

    // MARK: The calls

    /// `sbatch --parsable SCRIPT`: submits and returns the job id (`123`, or `123;cluster`).
    static func submit(script: String) -> Result<String, SlurmError> {
        run("sbatch", ["--parsable", script]).flatMap { output in
            let id = output.split(separator: "\n").last.map { String($0.split(separator: ";")[0]) } ?? ""
            return Int(id) != nil ? .success(id) : .failure(.unexpectedOutput(command: "sbatch --parsable \(script)", output: output))
        }
    }

    /// `squeue`: the jobs among `ids` that Slurm still holds (pending, running, suspended, requeued…).
    static func queued(_ ids: [String]) -> Result<[String: SlurmJobState], SlurmError> {
        guard !ids.isEmpty else { return .success([:]) }
        // --states=all: also jobs that finished within MinJobAge; -h no header; one `id|state|reason` line each.
        let listed = run("squeue", ["-h", "--states=all", "-j", ids.joined(separator: ","), "-o", "%i|%T|%r"])
        // squeue refuses a list in which it knows no job at all (forgotten after MinJobAge).
        if case let .failure(.failed(_, _, message)) = listed, message.contains("Invalid job id") { return .success([:]) }
        return listed.map { output in
            var states: [String: SlurmJobState] = [:]
            for line in output.split(separator: "\n") {
                let fields = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                guard fields.count == 3 else { continue }
                states[fields[0]] = SlurmJobState(jobID: fields[0], state: fields[1], reason: fields[2] == "None" ? nil : fields[2])
            }
            return states
        }
    }

    /// `sacct`: finished jobs from Slurm's accounting database (fails where accounting is off).
    static func accounted(_ ids: [String]) -> Result<[String: SlurmJobState], SlurmError> {
        guard !ids.isEmpty else { return .success([:]) }
        return run("sacct", ["-n", "-X", "-P", "-j", ids.joined(separator: ","), "-o", "JobID,State,ExitCode"]).map { output in
            var states: [String: SlurmJobState] = [:]
            for line in output.split(separator: "\n") {
                let fields = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                guard fields.count == 3 else { continue }
                // "CANCELLED by 0" → CANCELLED; the exit code is `status:signal`.
                let state = String(fields[1].split(separator: " ").first ?? "")
                states[fields[0]] = SlurmJobState(jobID: fields[0], state: state, reason: fields[2] == "0:0" ? nil : "exit \(fields[2])")
            }
            return states
        }
    }
}

/// A Slurm job's state as `squeue`/`sacct` report it: PENDING, RUNNING, REQUEUED, COMPLETED, …
public struct SlurmJobState: Codable, Equatable, Sendable {
    public var jobID: String
    public var state: String
    /// Why it waits (squeue's reason, e.g. `BeginTime` after a requeue), or how it ended.
    public var reason: String?

    enum CodingKeys: String, CodingKey { case jobID = "job_id", state, reason }

    /// Whether Slurm will still run (or is running) the job.
    public var isActive: Bool {
        ["PENDING", "RUNNING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING", "SUSPENDED", "CONFIGURING",
         "COMPLETING", "STOPPED", "SIGNALING", "STAGE_OUT", "RESV_DEL_HOLD"].contains(state)
    }
}
