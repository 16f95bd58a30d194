// `rlhf bench gemm`: GFLOP/s of the GEMM kernel on the transformer shapes of DESIGN §5.

import ArgumentParser
import Kernels

struct BenchGEMM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "GEMM GFLOP/s on the standard transformer shapes, in the layouts training uses.")

    /// Which shapes to time (the same sets as `shared/bench/gemm.py --shapes`).
    enum ShapeSet: String, ExpressibleByArgument, CaseIterable {
        /// DESIGN §5: training-time shapes, in all three layouts (1024³ only .nn).
        case standard
        /// One KV-cache decode step: M = batch rows (16 tiny, 8 small), .nn only.
        case decode
        /// Every weight product of one decode step of tiny and of small, each layer with its own
        /// weights (small: 43 MB, more than the caches), B read in place or packed beforehand as the
        /// decoder does: ms per step and GB/s of weights streamed.
        case decodeStep = "decode-step"
    }

    @OptionGroup var threading: ThreadOptions
    @Option(help: "Shape set: standard, decode (one product at a time) or decode-step (a whole step's weights).")
    var shapes: ShapeSet = .standard
    @Flag(help: "One JSON object per measurement.") var json = false

    /// (M, K, N) of DESIGN §5.
    static let standardShapes: [(m: Int, k: Int, n: Int)] = [
        (1024, 1024, 1024), (2048, 128, 384), (2048, 128, 512), (2048, 512, 128),
        (2048, 384, 1152), (2048, 384, 1536), (2048, 1536, 384),
    ]

    /// (M, K, N) of one decode step: qkv, proj, fc, mlp and logits (V = 259) GEMMs of tiny and small.
    static let decodeShapes: [(m: Int, k: Int, n: Int)] = [
        (16, 128, 384), (16, 128, 512), (16, 512, 128), (16, 128, 259),
        (8, 384, 1152), (8, 384, 1536), (8, 1536, 384), (8, 384, 259),
    ]

    struct Row: Codable {
        var peer = "swift-rlhf", workload = "gemm"
        var m: Int, k: Int, n: Int, layout: String, threads: Int
        var median_ms: Double, gflops: Double
    }

    struct StepRow: Codable {
        var peer = "swift-rlhf", workload = "gemm_decode_step"
        var config: String, rows: Int, weights_mb: Double, b: String, threads: Int
        var median_ms: Double, weight_gb_per_s: Double
    }

    func run() throws {
        Parallel.$threads.withValue(threading.threads) {
            let threads = Parallel.effectiveThreads
            if shapes == .decodeStep {
                for row in Self.measureDecodeSteps(threads: threads) {
                    if json { printJSONLine(row) } else {
                        print("\(row.config) decode step, \(row.rows) rows, \(String(format: "%.1f", row.weights_mb)) MB of weights, "
                              + "B \(row.b), threads \(threads): \(String(format: "%.3f", row.median_ms)) ms, "
                              + "\(String(format: "%.1f", row.weight_gb_per_s)) GB/s")
                    }
                }
                return
            }
            if !json {
                print("instruction set \(kernelInstructionSet)")
                print("threads \(threads)   M×K×N  layout  median ms  GFLOP/s")
            }
            for shape in shapes == .standard ? Self.standardShapes : Self.decodeShapes {
                let square = shape.m == shape.n && shape.n == shape.k
                let layouts: [GEMMLayout] = square || shapes == .decode ? [.nn] : GEMMLayout.allCases
                for layout in layouts {
                    let row = Self.measureShape(shape, layout, threads: threads)
                    if json { printJSONLine(row) } else {
                        print("\(shape.m)×\(shape.k)×\(shape.n)  \(layout.rawValue)  "
                              + "\(String(format: "%.3f", row.median_ms))  \(String(format: "%.1f", row.gflops))")
                    }
                }
            }
        }
    }

    static func measureShape(_ s: (m: Int, k: Int, n: Int), _ layout: GEMMLayout, threads: Int) -> Row {
        var rng = SplitMix64(seed: 42)
        let a = (0..<(s.m * s.k)).map { _ in rng.nextFloat() - 0.5 }
        let b = (0..<(s.k * s.n)).map { _ in rng.nextFloat() - 0.5 }
        var c = [Float](repeating: 0, count: s.m * s.n)
        let timing = a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    measure {
                        gemm(layout, m: s.m, n: s.n, k: s.k, a: a.baseAddress!, b: b.baseAddress!, c: c.baseAddress!)
                    }
                }
            }
        }
        let flops = 2.0 * Double(s.m * s.k * s.n)
        return Row(m: s.m, k: s.k, n: s.n, layout: layout.rawValue, threads: threads,
                   median_ms: timing.median * 1e3, gflops: flops / timing.median / 1e9)
    }

    /// The weight products of one decode step (per layer qkv, proj, fc, mlp; then the logits against
    /// wte), each layer with its own random weights, timed with B read in place and packed beforehand.
    static func measureDecodeSteps(threads: Int) -> [StepRow] {
        // (name, rows, layers, C, V): the decode workloads of DESIGN §5.
        let configs = [("tiny", 16, 4, 128, 259), ("small", 8, 6, 384, 259)]
        var rows: [StepRow] = []
        for (name, m, layers, c, vocab) in configs {
            // (K, N, layout) of every product, in step order.
            let block: [(Int, Int, GEMMLayout)] = [(c, 3 * c, .nn), (c, c, .nn), (c, 4 * c, .nn), (4 * c, c, .nn)]
            let products = Array(repeating: block, count: layers).flatMap { $0 } + [(c, vocab, .nt)]
            var rng = SplitMix64(seed: 7)
            let weights = products.map { k, n, _ in (0..<(k * n)).map { _ in rng.nextFloat() - 0.5 } }
            let packed = zip(products, weights).map { product, w in
                let (k, n, layout) = product
                let panels = UnsafeMutablePointer<Float>.allocate(capacity: GEMMPackedB.floatCount(k: k, n: n))
                return (panels, GEMMPackedB(layout, k: k, n: n, b: w, into: panels))
            }
            defer { for (panels, _) in packed { panels.deallocate() } }
            let a = (0..<(m * 4 * c)).map { _ in rng.nextFloat() - 0.5 }
            var out = [Float](repeating: 0, count: m * max(4 * c, vocab))
            let bytes = Double(weights.reduce(0) { $0 + $1.count } * MemoryLayout<Float>.size)
            for prepacked in [false, true] {
                let timing = measure {
                    for (index, (k, n, layout)) in products.enumerated() {
                        if prepacked {
                            gemm(layout, m: m, a: a, lda: k, b: packed[index].1, c: &out, ldc: n)
                        } else {
                            gemm(layout, m: m, n: n, k: k, a: a, b: weights[index], c: &out)
                        }
                    }
                }
                rows.append(StepRow(config: name, rows: m, weights_mb: bytes / 1e6, b: prepacked ? "packed" : "in place",
                                    threads: threads, median_ms: timing.median * 1e3,
                                    weight_gb_per_s: bytes / timing.median / 1e9))
            }
        }
        return rows
    }
}
