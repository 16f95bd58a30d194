import Kernels
import Testing


/// One GEMM problem with its operands stored as `layout` says, each row `padding` floats longer than
/// dense (a strided view, like a head's slice of a wider buffer). The padding of C is filled with a
/// sentinel that gemm must leave alone.
struct GEMMProblem {
    static let sentinel: Float = 12345

    let layout: GEMMLayout
    let m: Int, n: Int, k: Int
    let lda: Int, ldb: Int, ldc: Int
    let a: [Float], b: [Float], c: [Float], bias: [Float]

    init(_ layout: GEMMLayout, m: Int, n: Int, k: Int, padding: Int = 0, seed: UInt64) {
        self.layout = layout
        self.m = m; self.n = n; self.k = k
        let (aRows, aColumns) = layout.transposesA ? (k, m) : (m, k)
        let (bRows, bColumns) = layout.transposesB ? (n, k) : (k, n)
        let ldc = n + padding
        lda = aColumns + padding; ldb = bColumns + padding; self.ldc = ldc
        a = randomArray(aRows * lda, seed: seed)
        b = randomArray(bRows * ldb, seed: seed + 1)
        bias = randomArray(n, seed: seed + 2)
        let start = randomArray(m * ldc, seed: seed + 3)
        c = start.indices.map { $0 % ldc < n ? start[$0] : Self.sentinel }
    }

    /// C after the gemm with B packed beforehand (`GEMMPackedB`; .nn and .nt only).
    func runPrepacked(bias withBias: Bool = false, accumulate: Bool = false) -> [Float] {
        var c = self.c
        let bias: [Float]? = withBias ? self.bias : nil
        var panels = [Float](repeating: .nan, count: GEMMPackedB.floatCount(k: k, n: n))
        panels.withUnsafeMutableBufferPointer { panels in
            let packed = GEMMPackedB(layout, k: k, n: n, b: b, ldb: ldb, into: panels.baseAddress!)
            bias.withOptionalPointer { bias in
                gemm(layout, m: m, a: a, lda: lda, b: packed, c: &c, ldc: ldc, bias: bias, accumulate: accumulate)
            }
        }
        return c
    }

    /// C summed in the order every host's `gemm` must use (docs/performance.md, "The same result on
    /// every machine"): K cut into ⌈K/512⌉ blocks of equal depth (the last may be shorter); within a
    /// block one fused multiply-add chain from zero, p ascending; then C = chain + C (the C from
    /// `accumulate` or from earlier blocks; the first block without `accumulate` stores the chain
    /// itself); the bias added last. Independent of tiles, vector width, packing and threads.
    func runInHostIndependentOrder(bias withBias: Bool = false, accumulate: Bool = false) -> [Float] {
        var c = self.c
        let blocks = max(1, (k + 511) / 512), depth = (k + blocks - 1) / blocks
        for i in 0..<m {
            for j in 0..<n {
                var value = c[i * ldc + j]
                for block in 0..<blocks {
                    var chain: Float = 0
                    for p in block * depth..<min(k, (block + 1) * depth) {
                        let aip = layout.transposesA ? a[p * lda + i] : a[i * lda + p]
                        let bpj = layout.transposesB ? b[j * ldb + p] : b[p * ldb + j]
                        chain = chain.addingProduct(aip, bpj)
                    }
                    value = accumulate || block > 0 ? chain + value : chain
                }
                if withBias { value += bias[j] }
                c[i * ldc + j] = value
            }
        }
        return c
    }

    /// C after the fast gemm, or after the naive one.
    func run(naive: Bool = false, bias withBias: Bool = false, accumulate: Bool = false) -> [Float] {
        var c = self.c
        let bias: [Float]? = withBias ? self.bias : nil
        bias.withOptionalPointer { bias in
            if naive {
                gemmNaive(layout, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: &c, ldc: ldc,
                          bias: bias, accumulate: accumulate)
            } else {
                gemm(layout, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: &c, ldc: ldc,
                     bias: bias, accumulate: accumulate)
            }
        }
        return c
    }
}

extension Optional where Wrapped == [Float] {
    func withOptionalPointer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        switch self {
        case .some(let array): array.withUnsafeBufferPointer { body($0.baseAddress) }
        case .none: body(nil)
        }
    }
}

@Suite struct GEMMTests {
    /// (M, K, N) that exercise the tile edges (1, primes, one past powers of two), K = 1, skinny M
    /// (B read in place, with a partial last column panel), several depth blocks (K > 512), row
    /// chunks (M > 192) and column chunks (small M, wide N).
    static let shapes: [(m: Int, k: Int, n: Int)] = [
        (1, 1, 1), (1, 7, 1), (7, 1, 5), (3, 17, 129), (129, 65, 33), (31, 128, 384), (64, 257, 17),
        (8, 384, 259), (16, 129, 64), (13, 1031, 37), (197, 1, 33), (389, 131, 97), (50, 61, 300),
    ]

    @Test(arguments: GEMMLayout.allCases)
    func matchesNaive(layout: GEMMLayout) {
        for (index, s) in Self.shapes.enumerated() {
            for padding in [0, 3] {
                let problem = GEMMProblem(layout, m: s.m, n: s.n, k: s.k, padding: padding, seed: UInt64(10 * index))
                for (bias, accumulate) in [(false, false), (true, false), (false, true), (true, true)] {
                    let fast = problem.run(bias: bias, accumulate: accumulate)
                    let slow = problem.run(naive: true, bias: bias, accumulate: accumulate)
                    let tolerance = Float(s.k).squareRoot() * 1e-5 + 1e-6
                    let worst = zip(fast, slow).map { abs($0 - $1) }.max() ?? 0
                    #expect(worst <= tolerance,
                            "\(layout) \(s) padding \(padding) bias \(bias) accumulate \(accumulate): max error \(worst)")
                    #expect(fast.indices.allSatisfy { $0 % problem.ldc < s.n || fast[$0] == GEMMProblem.sentinel },
                            "\(layout) \(s): wrote outside C")
                }
            }
        }
    }

    /// The fast GEMM sums in the host-independent order, bit for bit, so results do not depend on
    /// the instruction set, register tile, cache sizes or thread count of the machine: a run resumed
    /// on another machine continues exactly. Shapes cover K of one, two and three depth blocks,
    /// skinny M (B read in place), A rows 4 KiB apart (A packed first), and tile edges.
    @Test(arguments: GEMMLayout.allCases)
    func sumsInTheHostIndependentOrder(layout: GEMMLayout) {
        let shapes = Self.shapes + [(m: 32, k: 256, n: 64), (m: 40, k: 1024, n: 48), (m: 70, k: 1100, n: 33), (m: 13, k: 1536, n: 20)]
        for (index, s) in shapes.enumerated() {
            let problem = GEMMProblem(layout, m: s.m, n: s.n, k: s.k, seed: UInt64(300 + index))
            for (bias, accumulate) in [(false, false), (true, true)] {
                let expected = problem.runInHostIndependentOrder(bias: bias, accumulate: accumulate)
                #expect(problem.run(bias: bias, accumulate: accumulate) == expected, "\(layout) \(s)")
                if layout != .tn {
                    #expect(problem.runPrepacked(bias: bias, accumulate: accumulate) == expected, "\(layout) \(s) prepacked")
                }
            }
        }
    }

    @Test func zeroDepthGivesBiasOrKeepsC() {
        let problem = GEMMProblem(.nn, m: 5, n: 7, k: 0, seed: 7)
        #expect(problem.run(bias: true) == problem.run(naive: true, bias: true))
        #expect(problem.run(accumulate: true) == problem.c)
    }

    /// Bit-identical C for every thread budget, on shapes big enough to run in parallel: square-ish,
    /// odd with several depth blocks, skinny M (column chunks), strided.
    @Test(arguments: GEMMLayout.allCases)
    func identicalAcrossThreadCounts(layout: GEMMLayout) {
        let cases: [(m: Int, k: Int, n: Int, padding: Int)] = [
            (300, 200, 100, 0), (389, 1031, 97, 5), (16, 512, 1000, 0), (211, 383, 263, 17),
        ]
        for (index, s) in cases.enumerated() {
            let problem = GEMMProblem(layout, m: s.m, n: s.n, k: s.k, padding: s.padding, seed: UInt64(100 + index))
            let serial = Parallel.$threads.withValue(1) { problem.run(bias: true, accumulate: true) }
            for threads in [2, 5, 16] {
                let parallel = Parallel.$threads.withValue(threads) { problem.run(bias: true, accumulate: true) }
                #expect(parallel == serial, "\(layout) \(s) threads \(threads)")
            }
        }
    }

    /// B packed once (the decoder's weights): the naive result on the same edge shapes (M from 1 to
    /// several row chunks, partial column panels, several depth blocks), strided, C's padding untouched.
    @Test(arguments: [GEMMLayout.nn, .nt])
    func prepackedMatchesNaive(layout: GEMMLayout) {
        for (index, s) in Self.shapes.enumerated() where s.k > 0 {
            for padding in [0, 3] {
                let problem = GEMMProblem(layout, m: s.m, n: s.n, k: s.k, padding: padding, seed: UInt64(10 * index + 1))
                for (bias, accumulate) in [(false, false), (true, true)] {
                    let fast = problem.runPrepacked(bias: bias, accumulate: accumulate)
                    let slow = problem.run(naive: true, bias: bias, accumulate: accumulate)
                    let tolerance = Float(s.k).squareRoot() * 1e-5 + 1e-6
                    let worst = zip(fast, slow).map { abs($0 - $1) }.max() ?? 0
                    #expect(worst <= tolerance, "\(layout) \(s) padding \(padding): max error \(worst)")
                    #expect(fast.indices.allSatisfy { $0 % problem.ldc < s.n || fast[$0] == GEMMProblem.sentinel },
                            "\(layout) \(s): wrote outside C")
                }
            }
        }
    }

    /// Packing B beforehand changes nothing: the same panels, summed in the same order. And the
    /// packed product is the same for any threads.
    @Test(arguments: [GEMMLayout.nn, .nt])
    func prepackedIsBitIdentical(layout: GEMMLayout) {
        let problem = GEMMProblem(layout, m: 61, n: 300, k: 1031, padding: 5, seed: 77)
        #expect(problem.runPrepacked(bias: true, accumulate: true) == problem.run(bias: true, accumulate: true))
        let skinny = GEMMProblem(layout, m: 8, n: 1152, k: 384, seed: 78)
        let serial = Parallel.$threads.withValue(1) { skinny.runPrepacked(bias: true) }
        for threads in [2, 5] {
            #expect(Parallel.$threads.withValue(threads) { skinny.runPrepacked(bias: true) } == serial, "threads \(threads)")
        }
    }
}
