// The fixed-order sum against its definition: N ranks (threads) must produce, on every rank, the
// bits of one process adding the micro-batch vectors one by one in order — for every N, every
// number of micro-batches (fewer than the ranks included) and a segment size that cuts the vectors
// into many pipeline pieces. The vectors span many magnitudes, so any other grouping of the sums
// gives other bits (checked, so that the test can fail).

import Collective
import Testing

/// M vectors of n floats with values from 1e-6 to 1e6 and both signs (seeded).
func microBatchVectors(_ m: Int, _ n: Int, seed: UInt64) -> [[Float]] {
    var state = seed
    func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    return (0..<m).map { _ in
        (0..<n).map { _ in
            let mantissa = Float(next() % 1_000_000) / 1_000_000 + 0.5
            let exponent = Float(Int(next() % 13) - 6)
            return (next() % 2 == 0 ? 1 : -1) * mantissa * Float.pow10(exponent)
        }
    }
}

extension Float {
    static func pow10(_ e: Float) -> Float { (0..<Int(abs(e))).reduce(Float(1)) { v, _ in e < 0 ? v / 10 : v * 10 } }
}

/// One process: ((g0 + g1) + g2) + …
func sequentialSum(_ vectors: [[Float]], n: Int) -> [Float] {
    guard var sum = vectors.first else { return [Float](repeating: 0, count: n) }
    for vector in vectors.dropFirst() { for i in sum.indices { sum[i] += vector[i] } }
    return sum
}

func bits(_ x: [Float]) -> [UInt32] { x.map(\.bitPattern) }

@Suite struct OrderedSumTests {
    @Test func shareCoversEveryItemOnceInOrder() {
        for ranks in 1...6 {
            for total in 0...13 {
                let share = Share(total: total, ranks: ranks)
                let ranges = (0..<ranks).map { share.range(of: $0) }
                #expect(ranges.flatMap { Array($0) } == Array(0..<total))
                #expect(ranges.map(\.count).max()! - ranges.map(\.count).min()! <= 1)
                #expect(ranges.filter { !$0.isEmpty }.count == share.activeRanks)
            }
        }
    }

    @Test func theDataIsSensitiveToTheOrderOfAdditions() {
        let vectors = microBatchVectors(4, 1000, seed: 1)
        let paired = zip(zip(vectors[0], vectors[1]).map(+), zip(vectors[2], vectors[3]).map(+)).map(+)
        #expect(bits(paired) != bits(sequentialSum(vectors, n: 1000)))
    }

    @Test(arguments: [1, 2, 3, 4, 5])
    func everyRankHoldsTheSingleProcessBits(ranks: Int) throws {
        let n = 1003
        for m in [0, 1, 2, 3, 5, 8] {
            let vectors = microBatchVectors(m, n, seed: UInt64(17 * m + 1))
            let expected = bits(sequentialSum(vectors, n: n))
            let results = try ThreadGroup.run(size: ranks) { group in
                let share = Share(total: m, ranks: ranks)
                let mine = share.range(of: group.rank).map { vectors[$0] }
                let buffers = mine.map { v in UnsafeMutableBufferPointer<Float>.allocate(capacity: n).initialized(from: v) }
                defer { buffers.forEach { $0.deallocate() } }
                let result = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
                defer { result.deallocate() }
                result.initialize(repeating: .nan)
                try group.orderedSum(buffers, share: share, into: result, segment: 100)
                return bits(Array(result))
            }
            for (rank, result) in results.enumerated() {
                #expect(result == expected, "ranks \(ranks), micro-batches \(m): rank \(rank) differs")
            }
        }
    }

    @Test func rankZeroMayFoldAsItGoesAndTheResultMayBeItsFirstVector() throws {
        let n = 257, m = 7, ranks = 3
        let vectors = microBatchVectors(m, n, seed: 99)
        let expected = bits(sequentialSum(vectors, n: n))
        let results = try ThreadGroup.run(size: ranks) { group in
            let share = Share(total: m, ranks: ranks)
            var mine = share.range(of: group.rank).map { vectors[$0] }
            if group.rank == 0 { mine = [sequentialSum(mine, n: n)] }
            let buffers = mine.map { v in UnsafeMutableBufferPointer<Float>.allocate(capacity: n).initialized(from: v) }
            defer { buffers.forEach { $0.deallocate() } }
            try group.orderedSum(buffers, share: share, into: buffers[0], segment: 64)
            return bits(Array(buffers[0]))
        }
        #expect(results.allSatisfy { $0 == expected })
    }

    @Test func gathersAndAgreements() throws {
        let results = try ThreadGroup.run(size: 3) { group -> [String] in
            let doubles = try group.allGather([Double(group.rank) + 0.5, -0.0])
            let anyTrue = try group.any(group.rank == 2)
            let noneTrue = try group.any(false)
            let text = try group.broadcast(group.rank == 1 ? "from rank 1" : "", from: 1)
            return ["\(doubles.map { $0.map(\.bitPattern) })", "\(anyTrue) \(noneTrue)", text]
        }
        let minusZero = (-0.0 as Double).bitPattern
        for result in results {
            #expect(result[0] == "\([[0.5, -0.0], [1.5, -0.0], [2.5, -0.0]].map { $0.map(\.bitPattern) })")
            #expect(result[0].contains("\(minusZero)"))
            #expect(result[1] == "true false")
            #expect(result[2] == "from rank 1")
        }
    }
}

extension UnsafeMutableBufferPointer where Element == Float {
    func initialized(from values: [Float]) -> Self {
        _ = initialize(from: values)
        return self
    }
}
