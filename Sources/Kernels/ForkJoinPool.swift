// The fork-join behind `Parallel.forEachChunk`: helper threads that answer a fork in ~1 µs.
//
// Why not only `DispatchQueue.concurrentPerform`: it wakes a parked pool thread for every fork, and
// on these VMs that wake-up took 15–400 µs (measured: a 2-chunk split of 800 µs of work started its
// second half 16–26 µs late when warm, 400 µs late — after the caller had done both — when not).
// With ~60 µs lost per fork, 2 threads ran a 0.8 ms GEMM (2048×128×384) only 1.74× faster.
//
// How: one helper thread per core beyond the caller's, started on first use. After each job a
// helper spins for `spinTime` watching for the next one (training runs kernels back to back), then
// parks on a semaphore. The caller publishes a job, wakes parked helpers and takes chunks itself;
// everybody claims chunks one at a time from one atomic word, so a helper that arrives late simply
// does fewer. The caller claims from the front and helpers from the back, so from one call to the
// next each thread tends to get the same chunks (and finds their rows in its own cache: 2 threads
// ran the .nn GEMMs 3–8% faster than with one shared front). Which thread runs a chunk never
// changes what the chunk computes, so results stay bit-identical for any thread count (DESIGN §4).
//
// One job at a time: a second caller (another task, or a chunk body that forks again) gets `false`
// from `run` and uses concurrentPerform instead.

import Dispatch
import Foundation
import Synchronization

final class ForkJoinPool: @unchecked Sendable {
    static let shared = ForkJoinPool(helpers: max(0, ProcessInfo.processInfo.activeProcessorCount - 1))

    /// How long an idle helper keeps spinning before it parks.
    static let spinTime: UInt64 = 100_000  // ns

    /// The job's bounds and claims in one word (`JobWord`), so that a claim is one compare-exchange.
    private let state = Atomic<Int>(0)
    /// The current job's body (a `Job` on the caller's stack). Read only after claiming a chunk: a
    /// claimed but unfinished chunk keeps the caller, and so the job, alive.
    private let job = Atomic<UnsafeRawPointer?>(nil)
    /// Chunks finished in the current job.
    private let finished = Atomic<Int>(0)
    /// Whether a caller is running a job.
    private let busy = Atomic<Bool>(false)
    private let helpers: [Helper]

    private struct Job {
        let body: (Int) -> Void
    }

    private final class Helper: @unchecked Sendable {
        let index: Int
        /// Set by the helper before it parks; whoever clears it owns the wake-up signal.
        let sleeping = Atomic<Bool>(false)
        let wake = DispatchSemaphore(value: 0)
        init(index: Int) { self.index = index }
    }

    /// Chunk counts, claims and helper counts packed into one Int.
    private struct JobWord {
        static let fieldBits = 18
        static let fieldMask = 1 << fieldBits - 1
        static let maxChunks = fieldMask
        static let maxHelpers = 511
        var raw: Int

        init(raw: Int) { self.raw = raw }
        init(chunks: Int, allowedHelpers: Int) { raw = allowedHelpers << (3 * Self.fieldBits) | chunks << (2 * Self.fieldBits) }

        /// Chunks claimed from the front (by the caller: 0, 1, 2, …) and from the back (by helpers:
        /// chunks−1, chunks−2, …). Meeting in the middle, the caller and a helper keep roughly the
        /// same chunks from one call to the next, and so the same rows of C and A in their caches.
        var front: Int { raw & Self.fieldMask }
        var back: Int { raw >> Self.fieldBits & Self.fieldMask }
        var chunks: Int { raw >> (2 * Self.fieldBits) & Self.fieldMask }
        var allowedHelpers: Int { raw >> (3 * Self.fieldBits) }
        var hasUnclaimed: Bool { front + back < chunks }
    }

    private init(helpers count: Int) {
        helpers = (0..<count).map { Helper(index: $0) }
        for helper in helpers {
            let thread = Thread { [unowned self] in self.helperLoop(helper) }
            thread.name = "rlhf-kernels-\(helper.index + 1)"
            thread.start()
        }
    }

    /// Runs `body` for every chunk in `0..<chunks` on the caller and up to `workers - 1` helpers.
    /// Returns false, doing nothing, if another job is running or `chunks` is too large.
    func run(chunks: Int, workers: Int, _ body: (Int) -> Void) -> Bool {
        guard chunks <= JobWord.maxChunks,
              busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else { return false }
        defer { busy.store(false, ordering: .releasing) }
        let allowedHelpers = min(workers - 1, helpers.count, JobWord.maxHelpers)
        withoutActuallyEscaping(body) { body in
            let current = Job(body: body)
            withUnsafePointer(to: current) { jobPointer in
                finished.store(0, ordering: .relaxed)
                job.store(UnsafeRawPointer(jobPointer), ordering: .releasing)
                // Sequentially consistent with the helper's park (store `sleeping`, then load `state`):
                // either it sees this job or we see it sleeping.
                state.store(JobWord(chunks: chunks, allowedHelpers: allowedHelpers).raw, ordering: .sequentiallyConsistent)
                for helper in helpers.prefix(allowedHelpers)
                where helper.sleeping.exchange(false, ordering: .sequentiallyConsistent) {
                    helper.wake.signal()
                }
                claimAndRun(helperIndex: nil)
                var spins = 0
                while finished.load(ordering: .acquiring) < chunks {
                    spins += 1
                    if spins > 10_000 { sched_yield() }  // a helper was descheduled mid-chunk
                }
            }
        }
        return true
    }

    /// Claims chunks of the current job until none is left: the caller (helperIndex nil) from the
    /// front, a helper from the back if the job allows it.
    private func claimAndRun(helperIndex: Int?) {
        var word = JobWord(raw: state.load(ordering: .relaxed))
        while word.hasUnclaimed {
            if let helperIndex, helperIndex >= word.allowedHelpers { return }
            let fromFront = helperIndex == nil
            let claimed = JobWord(raw: word.raw + (fromFront ? 1 : 1 << JobWord.fieldBits))
            let (exchanged, original) = state.compareExchange(
                expected: word.raw, desired: claimed.raw, ordering: .acquiringAndReleasing)
            guard exchanged else { word = JobWord(raw: original); continue }
            let chunk = fromFront ? word.front : word.chunks - 1 - word.back
            job.load(ordering: .acquiring)!.assumingMemoryBound(to: Job.self).pointee.body(chunk)
            finished.add(1, ordering: .releasing)
            word = JobWord(raw: state.load(ordering: .relaxed))
        }
    }

    /// Whether a job has chunks this helper may claim.
    private func hasWork(for helper: Helper) -> Bool {
        let word = JobWord(raw: state.load(ordering: .sequentiallyConsistent))
        return word.hasUnclaimed && helper.index < word.allowedHelpers
    }

    private func helperLoop(_ helper: Helper) {
        while true {
            claimAndRun(helperIndex: helper.index)
            // Spin a while for the next job (reading the clock every 64 looks), then park.
            let deadline = DispatchTime.now().uptimeNanoseconds + Self.spinTime
            var found = false
            while !found && DispatchTime.now().uptimeNanoseconds < deadline {
                for _ in 0..<64 where !found { found = hasWork(for: helper) }
            }
            if found { continue }
            helper.sleeping.store(true, ordering: .sequentiallyConsistent)
            // A job published between the spin and here would not have signalled: look once more.
            if hasWork(for: helper), helper.sleeping.exchange(false, ordering: .sequentiallyConsistent) {
                continue
            }
            helper.wake.wait()
        }
    }
}
