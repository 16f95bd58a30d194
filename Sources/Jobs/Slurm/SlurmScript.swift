// The batch script `rlhf submit --slurm` writes into a job's output folder (OUTPUT/slurm.sbatch).
// Slurm runs it on the allocation, and runs it again from the top after every requeue; each run is a
// plain `rlhf run` of the manifest as validated at submission (OUTPUT/slurm-manifest.json), which
// resumes from the newest good checkpoint. docs/cluster.md explains it for users.
//
// rlhf runs as a job step (`srun`), so that every signal Slurm sends a job reaches it:
//   --signal=B:TERM@S   S seconds before the time limit: TERM to this script only;
//   preemption          TERM to the job's steps when the grace period starts, to everything at its end;
//   scancel, `scontrol requeue`: TERM to every process of the job, KILL after KillWait.
// The script passes each TERM it receives on to rlhf as USR1 (through srun), which asks for a clean
// stop — finish the step, commit a checkpoint, exit 3 — but never counts as the second signal that
// exits at once: rlhf may have had Slurm's TERM already. After an exit 3 the script asks Slurm to
// requeue the job if Slurm still calls it RUNNING (a time-limit warning, a preemption in its grace
// period), not when Slurm is ending it already (scancel: the user's decision; requeue: under way).
//
import Foundation

/// What `rlhf submit --slurm` asks of Slurm for each job. nil: the site's default.
public struct SlurmOptions: Codable, Equatable, Sendable {
    public var partition: String?
    /// Time limit, in any form sbatch accepts (`30`, `4:00:00`, `2-00:00:00`).
    public var time: String?
    /// CPUs for the job's process (`--cpus-per-task`); also rlhf's `--threads`.
    public var cpus: Int?
    public var nodes: Int?
    /// `--mem` (e.g. `8G`).
    public var memory: String?
    public var account: String?
    public var qos: String?
    /// Seconds before the time limit at which the job is told to checkpoint (`--signal=B:TERM@S`).
    public var signalSeconds: Int = 120
    /// Further `#SBATCH` options, verbatim (`--constraint=avx512`).
    public var extra: [String] = []

    enum CodingKeys: String, CodingKey {
        case partition, time, cpus, nodes, memory, account, qos, signalSeconds = "signal_seconds", extra
    }

    public init(partition: String? = nil, time: String? = nil, cpus: Int? = nil, nodes: Int? = nil, memory: String? = nil,
                account: String? = nil, qos: String? = nil, signalSeconds: Int = 120, extra: [String] = []) {
        self.partition = partition; self.time = time; self.cpus = cpus; self.nodes = nodes; self.memory = memory
        self.account = account; self.qos = qos; self.signalSeconds = signalSeconds; self.extra = extra
    }

    /// The `#SBATCH` options, in the order they appear in the script.
    var directives: [String] {
        var lines: [String] = []
        if let partition { lines.append("--partition=\(partition)") }
        if let time { lines.append("--time=\(time)") }
        if let nodes { lines.append("--nodes=\(nodes)") }
        lines.append("--ntasks=1")
        if let cpus { lines.append("--cpus-per-task=\(cpus)") }
        if let memory { lines.append("--mem=\(memory)") }
        if let account { lines.append("--account=\(account)") }
        if let qos { lines.append("--qos=\(qos)") }
        return lines + extra
    }
}

public struct SlurmScript {
    public var jobName: String
    public var output: String
    /// The rlhf executable the allocation runs (absolute).
    public var rlhf: String
    /// The resolved manifest file it runs.
    public var manifest: String
    public var options: SlurmOptions
    /// Pass `--force` to `rlhf run` (the submission accepted a changed manifest).
    public var force = false
    public var createdUTC: String

    /// The script's text.
    public var text: String {
        var run = ["srun", "--ntasks=1", quoted(rlhf), "run"]
        if let cpus = options.cpus { run += ["--threads", "\(cpus)"] }
        if force { run.append("--force") }
        run.append(quoted(manifest))
        let directives = ["--job-name=\(jobName)", "--output=" + directiveValue(output + "/slurm-%j.out"), "--open-mode=append",
                          "--requeue", "--signal=B:TERM@\(options.signalSeconds)"] + options.directives
        return """
            #!/bin/bash
            # Written by `rlhf submit --slurm` at \(createdUTC) for job \(jobName).
            # Slurm runs it again from the top after a requeue; `rlhf run` then resumes from the newest checkpoint.
            \(directives.map { "#SBATCH " + $0 }.joined(separator: "\n"))

            # A TERM to this script (time-limit warning, preemption, scancel) is passed on to rlhf as USR1:
            # stop after the current step with a checkpoint, exit 3. Slurm may signal rlhf directly as well;
            # USR1 never counts as the second signal that exits at once.
            set -u
            waiting=""
            pid=""
            trap 'waiting=""; [ -n "$pid" ] && kill -USR1 "$pid" 2>/dev/null' TERM
            echo "rlhf: slurm job ${SLURM_JOB_ID:-?} restart ${SLURM_RESTART_COUNT:-0} on $(hostname) at $(date -u +%Y-%m-%dT%H:%M:%SZ)"
            \(run.joined(separator: " ")) &
            pid=$!
            # `wait` returns early when the trap runs; wait again until rlhf itself has ended.
            while :; do
              waiting=1
              wait "$pid"
              status=$?
              [ -n "$waiting" ] && break
            done
            echo "rlhf: exit $status at $(date -u +%Y-%m-%dT%H:%M:%SZ)"
            if [ "$status" -eq 3 ]; then
              # Interrupted with a clean checkpoint. Requeue unless Slurm is ending the job itself
              # (COMPLETING after scancel or scontrol requeue).
              state=$(squeue -h -j "${SLURM_JOB_ID:-0}" -o %T 2>/dev/null)
              if [ "$state" = RUNNING ]; then
                scontrol requeue "$SLURM_JOB_ID" && echo "rlhf: requeued"
              else
                echo "rlhf: not requeued: Slurm reports the job ${state:-gone}"
              fi
            fi
            exit "$status"

            """
    }

    /// A directive's value, double-quoted when it has a space (sbatch reads #SBATCH lines like a shell).
    func directiveValue(_ value: String) -> String { value.contains(" ") ? "\"\(value)\"" : value }

    /// `path` quoted for bash when it needs it.
    func quoted(_ path: String) -> String {
        path.allSatisfy { $0.isLetter || $0.isNumber || "/._-+=:,@".contains($0) } ? path
            : "'" + path.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
