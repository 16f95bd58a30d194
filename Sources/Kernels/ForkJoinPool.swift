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
// does fewer. Which thread runs a chunk never changes what the chunk computes, so results stay
// bit-identical for any thread count (DESIGN §4).
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

    /// The job's bounds and claims in one word, so that a claim is one compare-exchange:
    /// bits 0..<24 next unclaimed chunk, 24..<48 chunk count, 48..<56 helpers allowed to join.
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

    static let maxChunks = 1 << 24 - 1
    private static let chunkBits = 24

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
        guard chunks <= Self.maxChunks,
              busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else { return false }
        defer { busy.store(false, ordering: .releasing) }
        let allowedHelpers = min(workers - 1, helpers.count, 255)
        withoutActuallyEscaping(body) { body in
            let current = Job(body: body)
            withUnsafePointer(to: current) { jobPointer in
                finished.store(0, ordering: .relaxed)
                job.store(UnsafeRawPointer(jobPointer), ordering: .releasing)
                // Sequentially consistent with the helper's park (store `sleeping`, then load `state`):
                // either it sees this job or we see it sleeping.
                state.store(allowedHelpers << (2 * Self.chunkBits) | chunks << Self.chunkBits,
                            ordering: .sequentiallyConsistent)
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

    /// Claims chunks of the current job until none is left; a helper only if the job allows it.
    private func claimAndRun(helperIndex: Int?) {
        let mask = 1 << Self.chunkBits - 1
        var word = state.load(ordering: .relaxed)
        while true {
            let next = word & mask, chunks = word >> Self.chunkBits & mask
            let allowed = word >> (2 * Self.chunkBits)
            if next >= chunks { return }
            if let helperIndex, helperIndex >= allowed { return }
            let (exchanged, original) = state.compareExchange(
                expected: word, desired: word + 1, ordering: .acquiringAndReleasing)
            guard exchanged else { word = original; continue }
            job.load(ordering: .acquiring)!.assumingMemoryBound(to: Job.self).pointee.body(next)
            finished.add(1, ordering: .releasing)
            word = state.load(ordering: .relaxed)
        }
    }

    /// Whether a job has chunks this helper may claim.
    private func hasWork(for helper: Helper) -> Bool {
        let mask = 1 << Self.chunkBits - 1
        let word = state.load(ordering: .sequentiallyConsistent)
        return word & mask < word >> Self.chunkBits & mask && helper.index < word >> (2 * Self.chunkBits)
    }

    private func helperLoop(_ helper: Helper) {
        while true {
            claimAndRun(helperIndex: helper.index)
            // Spin a while for the next job, then park.
            let deadline = DispatchTime.now().uptimeNanoseconds + Self.spinTime
            var found = false
            while !found && DispatchTime.now().uptimeNanoseconds < deadline {
                for _ in 0..<64 where hasWork(for: helper) { found = true; break }
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
