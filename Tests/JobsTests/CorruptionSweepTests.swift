// Random damage to a real checkpoint (docs/checkpoints.md, "What damage does"): a PPO stage's
// final.h5 (policy, critic, both optimizers' moments, RNG states, data cursors, KL controller) is
// copied many times, each copy damaged once — a changed byte, an 8-byte overwrite, a zeroed 512-byte
// sector or a truncation, at a random place — and given to `rlhf inspect`. Every copy must exit 2
// with one line naming the file, or exit 0 and read back exactly the original (every tensor and
// attribute). No crash, no hang, no silent difference.
//
// RLHF_CORRUPTION_SWEEP=N sets the number of copies (default 500, the issue's minimum: about 30 s on
// 2 cores; docs/checkpoints.md has a run of 2 000), RLHF_CORRUPTION_SEED=S the seed (default: random,
// printed, so a failure can be replayed).

import Checkpoint
import Foundation
import Testing

@Suite struct CorruptionSweepTests {
    static let copies = ProcessInfo.processInfo.environment["RLHF_CORRUPTION_SWEEP"].flatMap(Int.init) ?? 500
    static let seed = ProcessInfo.processInfo.environment["RLHF_CORRUPTION_SEED"].flatMap(UInt64.init)
        ?? UInt64.random(in: 1...UInt64(UInt32.max))

    static let job = """
        name: sweep
        seed: 11
        output: out
        model: { vocab: byte, context: 32, layers: 2, heads: 2, embedding: 32 }
        stages:
          - { name: sft, kind: sft, data: { train: \(demoData)/sft.jsonl }, steps: 2, batch: 4 }
          - { name: rm, kind: reward, init: sft, data: { train: \(demoData)/prefs.jsonl }, steps: 2, batch: 4 }
          - name: ppo
            kind: ppo
            policy: sft
            reward: rm
            data: { prompts: \(demoData)/prompts.jsonl }
            steps: 2
            batch: 4
            ppo: { response_length: 8, epochs: 1, minibatches: 2 }
        """

    enum Damage: CaseIterable { case byte, overwrite8, zeroSector, truncation }

    struct Outcome {
        var refused = 0, identical = 0, crashed = 0, hung = 0, silent = 0, badMessage = 0
        var failures: [String] = []
        var byDamage: [String: (refused: Int, identical: Int)] = [:]
    }

    /// A small seeded generator (SplitMix64), so a failing sweep can be replayed with its seed.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func damage(_ bytes: [UInt8], _ kind: Damage, _ rng: inout Generator) -> (bytes: [UInt8], what: String) {
        var copy = bytes
        switch kind {
        case .byte:
            let at = Int.random(in: 0..<copy.count, using: &rng)
            copy[at] ^= UInt8.random(in: 1...255, using: &rng)
            return (copy, "byte \(at) changed")
        case .overwrite8:
            let at = Int.random(in: 0...(copy.count - 8), using: &rng)
            for i in at..<(at + 8) { copy[i] = UInt8.random(in: 0...255, using: &rng) }
            return (copy, "8 bytes at \(at) overwritten")
        case .zeroSector:
            let sector = Int.random(in: 0..<((copy.count + 511) / 512), using: &rng)
            for i in (sector * 512)..<min(copy.count, sector * 512 + 512) { copy[i] = 0 }
            return (copy, "sector \(sector) zeroed")
        case .truncation:
            let length = Int.random(in: 0..<copy.count, using: &rng)
            return (Array(copy.prefix(length)), "truncated to \(length) bytes")
        }
    }

    @Test func everyDamagedCopyIsRefusedOrReadsBackIdentically() throws {
        let scratch = Scratch()
        scratch.write("job.yaml", Self.job)
        let run = try rlhf(["run", "job.yaml", "--threads", "1"], in: scratch.path)
        try #require(run.status == 0, "\(run.stderr)")
        let originalURL = URL(fileURLWithPath: scratch.path("out/ppo/final.h5"))
        let original = try CheckpointFile.read(from: originalURL)
        for group in ["model", "critic", "optimizer/model/m", "optimizer/critic/v", "rng", "ppo"] {
            #expect(!original[group: group].tensors.isEmpty || !original[group: group].groups.isEmpty
                    || !original[group: group].attributes.isEmpty, "the PPO checkpoint has no \(group)")
        }
        let bytes = [UInt8](try Data(contentsOf: originalURL))
        let folder = scratch.path("copies")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)

        var rng = Generator(state: Self.seed)
        let plan = (0..<Self.copies).map { index -> (file: String, what: String, kind: Damage) in
            let kind = Damage.allCases[index % Damage.allCases.count]
            let (damaged, what) = Self.damage(bytes, kind, &rng)
            let file = folder + "/copy-\(index).h5"
            FileManager.default.createFile(atPath: file, contents: Data(damaged))
            return (file, what, kind)
        }

        let outcome = Mutexed(Outcome())
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            for index in stride(from: worker, to: plan.count, by: 2) {
                let (file, what, kind) = plan[index]
                let result = Self.inspect(file, in: scratch.path)
                var verdict: (refused: Bool, problem: String?)
                switch result.status {
                case 2:
                    let lines = result.stderr.split(separator: "\n")
                    let named = lines.count == 1 && lines[0].hasPrefix("error: \(file): ")
                    verdict = (true, named ? nil : "exit 2 without one line naming the file: \(result.stderr)")
                case 0:
                    if let copy = try? CheckpointFile.read(from: URL(fileURLWithPath: file), notice: { _ in }),
                       copy.root == original.root, copy.metadata == original.metadata {
                        verdict = (false, nil)
                    } else {
                        verdict = (false, "SILENT DIFFERENCE: exit 0 but the contents differ")
                    }
                case 124: verdict = (false, "HANG: no exit in \(Int(Self.timeout)) s")
                default: verdict = (false, "CRASH or unexpected exit \(result.status): \(result.stderr)")
                }
                outcome.update { o in
                    let key = "\(kind)"
                    var counts = o.byDamage[key] ?? (0, 0)
                    if let problem = verdict.problem {
                        o.failures.append("copy-\(index) (\(what)): \(problem)")
                        if problem.hasPrefix("SILENT") { o.silent += 1 } else if problem.hasPrefix("HANG") { o.hung += 1 }
                        else if problem.hasPrefix("exit 2") { o.badMessage += 1 } else { o.crashed += 1 }
                    } else if verdict.refused {
                        o.refused += 1
                        counts.refused += 1
                    } else {
                        o.identical += 1
                        counts.identical += 1
                    }
                    o.byDamage[key] = counts
                }
            }
        }
        let o = outcome.value
        let kinds = Damage.allCases.map { k in "\(k) \(o.byDamage["\(k)"].map { "\($0.refused)/\($0.identical)" } ?? "0/0")" }
        print("corruption sweep (seed \(Self.seed)): \(Self.copies) copies of a \(bytes.count)-byte PPO checkpoint: "
              + "\(o.refused) refused (exit 2, one line), \(o.identical) read back identical (exit 0), "
              + "\(o.crashed) crashed, \(o.hung) hung, \(o.silent) silent differences, \(o.badMessage) bad messages; "
              + "refused/identical by damage: " + kinds.joined(separator: ", "))
        #expect(o.failures.isEmpty, "seed \(Self.seed):\n\(o.failures.prefix(20).joined(separator: "\n"))")
        #expect(o.refused + o.identical == Self.copies)
    }

    static let timeout = 120.0

    /// `rlhf inspect FILE`, killed after `timeout` seconds (status 124 then).
    static func inspect(_ file: String, in folder: String) -> Finished {
        guard let child = try? RLHFProcess(["inspect", file], in: folder) else { return Finished(status: -1, stdout: "", stderr: "cannot start") }
        let deadline = Date().addingTimeInterval(timeout)
        while child.process.isRunning {
            if Date() > deadline {
                child.signal(SIGKILL)
                child.wait()
                return Finished(status: 124, stdout: "", stderr: "")
            }
            usleep(2_000)
        }
        return Finished(status: child.wait(), stdout: child.stdout, stderr: child.stderr)
    }
}

/// A value shared between threads.
final class Mutexed<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    func update(_ body: (inout T) -> Void) { lock.withLock { body(&stored) } }
    var value: T { lock.withLock { stored } }
}
