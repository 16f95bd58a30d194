// `rlhf submit --slurm` without a cluster: the files it writes (--dry-run), what it refuses, and the
// error when Slurm's commands are missing. ci/check_slurm.sh runs it against real Slurm daemons.

import Foundation
@testable import Jobs
import Testing

@Suite struct SlurmSubmitTests {
    @Test func dryRunWritesTheScriptAndTheResolvedManifestAndLeavesTheQueueAlone() throws {
        let scratch = Scratch()
        scratch.write("job.yaml", tinyJob(output: "out"))
        let submit = try rlhf(["submit", "--slurm", "--dry-run", "--partition", "cpu", "--time", "1:00:00", "--cpus", "2", "--mem", "4G",
                               "--signal-seconds", "90", "--sbatch=--constraint=avx2", "--queue", "q", "job.yaml"], in: scratch.path)
        #expect(submit.status == 0, "\(submit.stderr)")
        let output = URL(fileURLWithPath: scratch.path("out")).standardizedFileURL.path
        #expect(submit.stdout == output + "/slurm.sbatch\n")

        let script = try String(contentsOfFile: output + "/slurm.sbatch", encoding: .utf8)
        let directives = script.split(separator: "\n").filter { $0.hasPrefix("#SBATCH ") }.map { String($0.dropFirst(8)) }
        #expect(directives == ["--job-name=tiny", "--output=\(output)/slurm-%j.out", "--open-mode=append", "--requeue",
                               "--signal=B:TERM@90", "--partition=cpu", "--time=1:00:00", "--ntasks=1", "--cpus-per-task=2",
                               "--mem=4G", "--constraint=avx2"])
        let binary = try rlhfBinary().resolvingSymlinksInPath().path
        #expect(script.contains("srun --ntasks=1 \(binary) run --threads 2 \(output)/slurm-manifest.json &"), "\(script)")
        #expect(script.contains("trap 'waiting=\"\"; [ -n \"$pid\" ] && kill -USR1 \"$pid\" 2>/dev/null' TERM"))
        let syntax = Process()
        syntax.executableURL = URL(fileURLWithPath: "/bin/bash")
        syntax.arguments = ["-n", output + "/slurm.sbatch"]
        try syntax.run()
        syntax.waitUntilExit()
        #expect(syntax.terminationStatus == 0, "bash -n rejects the script")

        let stored = try JSONDecoder().decode(JobManifest.self, from: Data(contentsOf: URL(fileURLWithPath: output + "/slurm-manifest.json")))
        #expect(stored == (try ManifestLoader.load(scratch.path("job.yaml"), currentDirectory: scratch.path)))
        #expect(!FileManager.default.fileExists(atPath: scratch.path("q")), "a dry run wrote to the queue folder")
        #expect(!FileManager.default.fileExists(atPath: output + "/slurm.json"), "a dry run recorded a submission")
    }

    @Test func slurmOptionsNeedSlurm() throws {
        let scratch = Scratch()
        scratch.write("job.yaml", tinyJob(output: "out"))
        let result = try rlhf(["submit", "--partition", "cpu", "job.yaml"], in: scratch.path)
        #expect(result.status == 2)
        #expect(result.stderr.contains("apply to --slurm only"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.path("out")))
    }

    @Test func aChangedManifestIsRefusedBeforeAnythingIsWritten() throws {
        let scratch = Scratch()
        scratch.write("job.yaml", tinyJob(output: "out", sftSteps: 2, rmSteps: 2))
        #expect(try rlhf(["run", "--threads", "1", "job.yaml"], in: scratch.path).status == 0)
        scratch.write("job.yaml", tinyJob(output: "out", sftSteps: 3, rmSteps: 2))
        let refused = try rlhf(["submit", "--slurm", "--dry-run", "job.yaml"], in: scratch.path)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("stages[0].steps: 2 → 3"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.path("out/slurm.sbatch")))
        let forced = try rlhf(["submit", "--slurm", "--dry-run", "--force", "job.yaml"], in: scratch.path)
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try String(contentsOfFile: scratch.path("out/slurm.sbatch"), encoding: .utf8).contains(" run --force "))
    }

    @Test func missingSlurmCommandsAreNamed() throws {
        let scratch = Scratch()
        scratch.write("job.yaml", tinyJob(output: "out"))
        let result = try rlhf(["submit", "--slurm", "job.yaml"], in: scratch.path, environment: ["PATH": scratch.path("no-bin")])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: sbatch not found on PATH"), "\(result.stderr)")
    }
}
