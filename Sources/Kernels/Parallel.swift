// Parallel execution for kernels: a thread budget and a fork-join over a fixed number of chunks.
//
// Determinism (DESIGN §4): callers split work into chunks whose count and bounds depend only on the
// problem shape, never on the thread budget. Each chunk is computed by exactly one thread with a fixed
// loop order, and partial results are combined in chunk order. So 1, 2 or 16 threads give bit-identical
// results; the budget only decides how many chunks run at once.

import Dispatch
import Foundation

public enum Parallel {
    /// The thread budget of the current task. 0 means "every core". Scoped, not global, so that
    /// concurrent tests (or jobs) can each run with their own budget:
    /// `Parallel.$threads.withValue(2) { ... }`.
    @TaskLocal public static var threads: Int = 0

    /// The number of threads kernels may use right now (≥ 1).
    public static var effectiveThreads: Int {
        let budget = threads
        return budget > 0 ? budget : max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Below this many floating-point operations per call a fork costs more than it saves. Measured
    /// on this machine kind (Zen 5 VM, 2 cores) with the GEMM at ~250 GFLOP/s: through ForkJoinPool a
    /// fork costs ~1–2 µs while the helper spins and 2 threads ran 0.8 MFLOP (3.5 µs) 1.3×, 1 MFLOP
    /// 1.5×, 2 MFLOP 1.7×, 4 MFLOP 1.8×, 17 MFLOP 1.9× faster. (Through `concurrentPerform` alone the
    /// fork cost ~60 µs and 2 threads only paid off above ~25 MFLOP, ~100 µs of work.)
    public static let minimumParallelFlops = 1_000_000

    /// Runs `body(chunk)` once for every chunk in `0..<chunks`, on up to `effectiveThreads` threads.
    /// Threads claim chunks one at a time (ForkJoinPool.swift). `body` must write only to
    /// memory that belongs to its chunk. Pass `flops` (the total work) to stay on the calling thread
    /// when the work is too small to pay for a fork.
    public static func forEachChunk(_ chunks: Int, flops: Int = .max, _ body: (Int) -> Void) {
        guard chunks > 0 else { return }
        let workers = min(chunks, effectiveThreads)
        if workers == 1 || flops < minimumParallelFlops {
            for chunk in 0..<chunks { body(chunk) }
            return
        }
        if ForkJoinPool.shared.run(chunks: chunks, workers: workers, body) { return }
        // Another job holds the pool (a concurrent caller, or a chunk that forks again).
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let begin = worker * chunks / workers
                let end = (worker + 1) * chunks / workers
                for chunk in begin..<end { shared.value(chunk) }
            }
        }
    }
}

extension Parallel {
    /// Deterministic reduction of per-chunk vectors: `body(chunk, partial)` adds chunk's
    /// contribution into a zeroed `width`-long `partial`; the partials are then added into
    /// `result` in chunk order (`result += partial[0]; result += partial[1]; ...`). The sum is the
    /// same for every thread count because the chunks, and the order they are combined in, are.
    public static func reduceChunks(
        _ chunks: Int, width: Int, flops: Int = .max,
        into result: UnsafeMutablePointer<Float>,
        _ body: (Int, UnsafeMutablePointer<Float>) -> Void
    ) {
        guard chunks > 0, width > 0 else { return }
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: chunks * width)  // [chunks, width]
        defer { partials.deallocate() }
        partials.initialize(repeating: 0, count: chunks * width)
        forEachChunk(chunks, flops: flops) { chunk in body(chunk, partials + chunk * width) }
        for chunk in 0..<chunks { axpy(1, partials + chunk * width, result, width) }
    }
}

/// Carries a value into a `@Sendable` closure when the caller guarantees, by construction, that the
/// threads touch disjoint memory (each chunk writes only its own slice).
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}
