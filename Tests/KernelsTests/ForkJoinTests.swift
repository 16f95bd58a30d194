import Kernels
import Synchronization
import Testing

/// `Parallel.forEachChunk` runs on `ForkJoinPool` (helpers that spin, then park): every chunk must
/// run exactly once, whatever the timing — back-to-back forks (helper spinning), forks after a pause
/// (helper parked), concurrent callers (one falls back to concurrentPerform) and nested forks.
@Suite struct ForkJoinTests {
    /// Forks `rounds` times with varying chunk counts; returns how often each (round, chunk) ran.
    static func countRuns(rounds: Int, threads: Int, pauseEvery: Int = 0) -> [Int] {
        let maxChunks = 17
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: rounds * maxChunks)
        defer { counts.deallocate() }
        counts.initialize(repeating: 0, count: rounds * maxChunks)
        Parallel.$threads.withValue(threads) {
            for round in 0..<rounds {
                let chunks = 1 + round % maxChunks
                Parallel.forEachChunk(chunks) { chunk in counts[round * maxChunks + chunk] += 1 }
                if pauseEvery > 0 && round % pauseEvery == 0 {
                    // Long enough for the helper to stop spinning and park.
                    let until = ContinuousClock.now + .microseconds(300)
                    while ContinuousClock.now < until {}
                }
            }
        }
        return (0..<rounds).flatMap { round in (0..<(1 + round % maxChunks)).map { counts[round * maxChunks + $0] } }
    }

    @Test func everyChunkRunsOnce() {
        #expect(Self.countRuns(rounds: 3000, threads: 2).allSatisfy { $0 == 1 })
        #expect(Self.countRuns(rounds: 300, threads: 2, pauseEvery: 7).allSatisfy { $0 == 1 })
        #expect(Self.countRuns(rounds: 1000, threads: 16).allSatisfy { $0 == 1 })
    }

    final class Counter: Sendable { let value = Atomic<Int>(0) }

    @Test func concurrentCallersAndNestedForks() async {
        let total = Counter()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<200 {
                        Parallel.forEachChunk(6) { _ in
                            Parallel.forEachChunk(3) { _ in total.value.add(1, ordering: .relaxed) }
                        }
                    }
                }
            }
        }
        #expect(total.value.load(ordering: .relaxed) == 4 * 200 * 6 * 3)
    }
}
