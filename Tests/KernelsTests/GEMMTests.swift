import Kernels
import Testing


@Suite struct GEMMTests {
    /// Shapes that exercise tile edges: 1, primes, one past powers of two, and the model's own.
    static let shapes: [(m: Int, k: Int, n: Int)] = [
        (1, 1, 1), (1, 7, 1), (7, 1, 5), (3, 17, 129), (129, 65, 33), (31, 128, 384), (64, 257, 17),
    ]

    @Test(arguments: GEMMLayout.allCases)
    func matchesNaive(layout: GEMMLayout) {
        for (index, s) in Self.shapes.enumerated() {
            for accumulate in [false, true] {
                let a = randomArray(s.m * s.k, seed: UInt64(index))
                let b = randomArray(s.k * s.n, seed: UInt64(index + 100))
                let bias = randomArray(s.n, seed: UInt64(index + 200))
                let start = randomArray(s.m * s.n, seed: UInt64(index + 300))
                var fast = start, slow = start
                gemm(layout, m: s.m, n: s.n, k: s.k, a: a, b: b, c: &fast, bias: bias, accumulate: accumulate)
                gemmNaive(layout, m: s.m, n: s.n, k: s.k,
                          a: a, lda: layout.transposesA ? s.m : s.k,
                          b: b, ldb: layout.transposesB ? s.k : s.n,
                          c: &slow, ldc: s.n, bias: bias, accumulate: accumulate)
                let tolerance = Float(s.k).squareRoot() * 1e-5 + 1e-6
                let worst = zip(fast, slow).map { abs($0 - $1) }.max() ?? 0
                #expect(worst <= tolerance, "\(layout) \(s) accumulate=\(accumulate): max error \(worst)")
            }
        }
    }

    @Test(arguments: GEMMLayout.allCases)
    func identicalAcrossThreadCounts(layout: GEMMLayout) {
        let (m, k, n) = (300, 200, 100)
        let a = randomArray(m * k, seed: 1), b = randomArray(k * n, seed: 2)
        func run(threads: Int) -> [Float] {
            var c = [Float](repeating: 0, count: m * n)
            Parallel.$threads.withValue(threads) { gemm(layout, m: m, n: n, k: k, a: a, b: b, c: &c) }
            return c
        }
        #expect(run(threads: 1) == run(threads: 2))
        #expect(run(threads: 1) == run(threads: 5))
    }
}
