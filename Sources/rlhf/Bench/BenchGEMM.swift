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
    }

    @OptionGroup var threading: ThreadOptions
    @Option(help: "Shape set: standard or decode.") var shapes: ShapeSet = .standard
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

    func run() throws {
        Parallel.$threads.withValue(threading.threads) {
            let threads = Parallel.effectiveThreads
            if !json { print("threads \(threads)   M×K×N  layout  median ms  GFLOP/s") }
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
}
