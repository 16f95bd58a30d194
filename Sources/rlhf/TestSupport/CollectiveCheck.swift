// `rlhf _collective-check` (hidden): under `mpirun -np N`, checks the fixed-order sum over real MPI
// ranks against one process's sum of the same vectors, bit for bit (ci/check_mpi.sh), and reports
// the bytes this rank sent and received and the time taken.

import ArgumentParser
import Collective
import Foundation
import Launch

struct CollectiveCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_collective-check", abstract: "Check the ordered sum across ranks (for tests).", shouldDisplay: false)

    @Option(help: "Micro-batches (vectors) to sum.") var microBatches = 7
    @Option(help: "Floats per vector.") var floats = 100_003
    @Option(help: "Pipeline segment, in floats.") var segment = 4096

    func run() throws {
        let counted = CountingGroup(Launch.world)
        let (rank, size) = (counted.rank, counted.size)
        let share = Share(total: microBatches, ranks: size)
        // Vector j's element i spans ten orders of magnitude, so any other grouping of the sum differs.
        func vector(_ j: Int) -> [Float] {
            (0..<floats).map { i in
                var x = UInt64(truncatingIfNeeded: j &* 1_000_003 &+ i) &* 0x9E37_79B9_7F4A_7C15
                x ^= x >> 29
                let sign: Float = x & 1 == 0 ? 1 : -1
                return sign * Float(x % 10_000 + 1) * [1e-5, 1e-2, 1, 1e2, 1e5][Int(x >> 7 % 5)]
            }
        }
        let mine = share.range(of: rank).map { j in UnsafeMutableBufferPointer<Float>.allocate(capacity: floats).initialized(vector(j)) }
        defer { mine.forEach { $0.deallocate() } }
        let result = UnsafeMutableBufferPointer<Float>.allocate(capacity: floats)
        defer { result.deallocate() }
        result.initialize(repeating: .nan)
        let clock = Date()
        try counted.orderedSum(mine, share: share, into: result, segment: segment)
        let seconds = Date().timeIntervalSince(clock)

        var expected = vector(0)
        for j in 1..<max(1, microBatches) { let v = vector(j); for i in expected.indices { expected[i] += v[i] } }
        let same = zip(result, expected).allSatisfy { $0.bitPattern == $1.bitPattern }
        let verdict = try counted.allGather([same ? 1 : 0])
        print("rank \(rank)/\(size): \(share.range(of: rank).count) of \(microBatches) micro-batches × \(floats) floats, "
              + "sent \(counted.sentBytes) B, received \(counted.receivedBytes) B, \(String(format: "%.1f", seconds * 1e3)) ms: "
              + (same ? "identical to one process" : "DIFFERENT from one process"))
        guard verdict.allSatisfy({ $0 == [1] }) else { throw ExitCode(ExitStatus.failed) }
    }
}

extension UnsafeMutableBufferPointer where Element == Float {
    func initialized(_ values: [Float]) -> Self {
        _ = initialize(from: values)
        return self
    }
}
