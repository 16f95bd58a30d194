// The GEMM register tile: an MR×NR block of C held in vector registers while K streams through.
//
// Per depth step p the tile loads one row of the B panel (NR floats = `vectors` SIMD loads),
// broadcasts MR values of the A panel, and does MR·vectors independent FMAs:
//     sums[i][v] += a(i, p) · b(p, v·W ..< v·W + W)          W = lanes per vector
// The FMAs of one step are independent, so with ≥ 8 accumulators the 4-cycle FMA latency is hidden
// behind the 2 FMA ports. Register budget = MR·vectors accumulators + vectors B rows + 1 broadcast.
//
// Tiles, chosen per instruction set at compile time (Package.swift defines RLHF_AVX512):
//   AVX-512 (32 zmm): 12×32 = 24 SIMD16 accumulators + 2 + 1 = 27 registers. Per step 2 B loads and
//     12 broadcasts feed 24 FMAs (12 cycles on 2 ports), so loads never limit. Measured on Zen 5
//     against 6×32 (12 accumulators), 8×32, 4×64 and 8×48: 12×32 was fastest across the standard
//     shapes; 14×32 (28 accumulators) ran at half speed (register spills).
//   AVX2 (16 ymm): 6×16 = 12 SIMD8 accumulators + 2 + 1 = 15 registers. An x86-64-v3 build ran
//     126–130 GFLOP/s on Zen 5 (90% of its 143 GFLOP/s ymm peak) and a median of 102 over the 19
//     standard shapes on Zen 4 (87% of 117; docs/performance.md has the tables).
//   NEON (32 q registers of 4 floats): 6×16 as 24 SIMD4 accumulators + 4 + 1 = 29 registers, the
//     same geometry as AVX2 in half-width vectors (per step 4 B loads and 6 broadcasts feed 24 FMAs).
//     Compiled, not measured: no ARM64 machine was at hand.
//
// The tile reads A and B through strides, so the same code serves packed panels and operands read
// in place (A of .nn, A of .tn in the first column panel, B for skinny M; see GEMMDriver.swift).

import CPrefetch

#if arch(x86_64) && RLHF_AVX512
/// The register tile of this build: 12 rows × 32 columns in zmm registers.
typealias GEMMTile = RegisterTile<12, 2, SIMD16<Float>>
/// Shorter tiles for a last row panel of ≤ 8 or ≤ 4 rows (see `tileHeight`).
typealias GEMMTwoThirdsTile = RegisterTile<8, 2, SIMD16<Float>>
typealias GEMMThirdTile = RegisterTile<4, 2, SIMD16<Float>>
#elseif arch(x86_64)
/// The register tile of this build: 6 rows × 16 columns in ymm registers.
typealias GEMMTile = RegisterTile<6, 2, SIMD8<Float>>
/// Shorter tiles for a last row panel of ≤ 4 or ≤ 2 rows (see `tileHeight`).
typealias GEMMTwoThirdsTile = RegisterTile<4, 2, SIMD8<Float>>
typealias GEMMThirdTile = RegisterTile<2, 2, SIMD8<Float>>
#else
/// The register tile of this build: 6 rows × 16 columns in NEON q registers (ARM64).
typealias GEMMTile = RegisterTile<6, 4, SIMD4<Float>>
/// Shorter tiles for a last row panel of ≤ 4 or ≤ 2 rows (see `tileHeight`).
typealias GEMMTwoThirdsTile = RegisterTile<4, 4, SIMD4<Float>>
typealias GEMMThirdTile = RegisterTile<2, 4, SIMD4<Float>>
#endif

/// The instruction set the kernels were compiled for: "avx512", "avx2" (an `x86-64-v3` build, or
/// native on an AVX2 host), "x86-64" (no FMA: a build for the baseline ISA), or "neon" (ARM64).
/// Benchmarks label their rows with it.
public let kernelInstructionSet: String = {
    #if arch(x86_64) && RLHF_AVX512
    "avx512"
    #elseif arch(x86_64) && RLHF_AVX2
    "avx2"
    #elseif arch(x86_64)
    "x86-64"
    #elseif arch(arm64)
    "neon"
    #else
    "generic"
    #endif
}()

/// Rows computed for a row panel of `rows` ≤ MR rows: MR, or two thirds or one third of it when that
/// covers the panel. Only a last row panel is short; for skinny M (decode steps have M = 8 or 16)
/// padding it to MR rows would waste up to two thirds of the FMAs.
func tileHeight(forRows rows: Int) -> Int {
    let third = GEMMTile.rowCount / 3
    return min(GEMMTile.rowCount, (rows + third - 1) / third * third)
}

/// One tile's work: C corner = A panel · B panel (+ C) (+ bias).
struct TileProduct {
    /// K steps.
    var depth: Int
    /// a(i, p) = a[i·aLaneStride + p·aDepthStride] (packed panel: 1, MR; A in place: lda, 1 or 1, lda).
    var a: UnsafePointer<Float>, aLaneStride: Int, aDepthStride: Int
    /// If set, the tile also writes the A values it reads there as a packed panel, for the next
    /// column panels (needs aLaneStride = 1 and rowLimit rows that exist: each step copies them).
    var packingA: UnsafeMutablePointer<Float>? = nil
    /// b(p, j) = b[p·bDepthStride + j]: NR contiguous floats per p (packed panel: NR; in place: ldb).
    var b: UnsafePointer<Float>, bDepthStride: Int
    /// The tile's corner of C, clipped to `rowLimit` × `columnLimit` at the matrix edges.
    var c: UnsafeMutablePointer<Float>, ldc: Int, rowLimit: Int, columnLimit: Int
    /// C = sums + C (earlier depth blocks, or `accumulate`) + bias (last depth block).
    var addingToC: Bool, bias: UnsafePointer<Float>?
}

/// Computes one tile with the register tile of height `tileHeight(forRows: rowLimit)`. The driver's
/// one entry point into this file. Being non-generic, it is compiled here, where the generic tile is
/// visible: a debug build (no whole-module optimisation) cannot specialise a generic across files.
/// `bPrefetchDistance` > 0: each step also prefetches B this many floats ahead (B packed beforehand
/// and streamed from memory: see GEMMPackedB.swift).
@inline(__always)
func multiplyTile(_ product: TileProduct, bPrefetchDistance: Int) {
    switch tileHeight(forRows: product.rowLimit) {
    case GEMMTile.rowCount: GEMMTile.multiply(product, bPrefetchDistance: bPrefetchDistance)
    case GEMMTwoThirdsTile.rowCount: GEMMTwoThirdsTile.multiply(product, bPrefetchDistance: bPrefetchDistance)
    default: GEMMThirdTile.multiply(product, bPrefetchDistance: bPrefetchDistance)
    }
}

/// An MR×NR block of C (`rows` × `vectors`·W) accumulated in registers.
struct RegisterTile<let rows: Int, let vectors: Int, Vector: SIMD> where Vector.Scalar == Float {
    /// MR: rows of C per tile.
    static var rowCount: Int { rows }
    /// NR: columns of C per tile.
    static var columnCount: Int { vectors * Vector.scalarCount }

    /// sums[i][v] holds C[i, v·W ..< v·W + W] of the tile.
    var sums = InlineArray<rows, InlineArray<vectors, Vector>>(repeating: .init(repeating: .zero))

    init() {}

    @inline(__always)
    static func multiply(_ product: TileProduct, bPrefetchDistance: Int) {
        var tile = Self()
        tile.accumulate(product, bPrefetchDistance: bPrefetchDistance)
        tile.store(product)
    }

    /// sums[i][j] += Σ_{p < depth} a(i, p) · b(p, j), p ascending.
    @inline(__always)
    mutating func accumulate(_ product: TileProduct, bPrefetchDistance: Int) {
        let width = Vector.scalarCount
        var a = product.a, b = product.b
        for p in 0..<product.depth {
            if bPrefetchDistance > 0 {
                // One prefetch per 64-byte line of the B row.
                for line in 0..<Self.columnCount / 16 { rlhf_prefetch(b + bPrefetchDistance + line &* 16) }
            }
            var bRow = InlineArray<vectors, Vector>(repeating: .zero)
            for v in 0..<vectors { bRow[v] = UnsafeRawPointer(b + v &* width).loadUnaligned(as: Vector.self) }
            if let packed = product.packingA {
                // Packed panels are MR wide whatever this tile's height (a short last panel too).
                copyFloats(from: a, to: packed + p &* GEMMTile.rowCount, count: rows)
            }
            for i in 0..<rows {
                // Wrapping multiply: an overflow check here would keep the accumulators in memory.
                let ai = Vector(repeating: a[i &* product.aLaneStride])
                for v in 0..<vectors { sums[i][v] = sums[i][v].addingProduct(ai, bRow[v]) }
            }
            a += product.aDepthStride
            b += product.bDepthStride
        }
    }

    /// Writes the tile's top-left `rowLimit`×`columnLimit` corner to C: C = sums (+ C if `addingToC`)
    /// (+ bias[j] if `bias` is given). Folding the accumulate and the bias into this store saves a
    /// separate pass over C.
    @inline(__always)
    func store(_ product: TileProduct) {
        let width = Vector.scalarCount, addingToC = product.addingToC, bias = product.bias
        for i in 0..<rows where i < product.rowLimit {
            let ci = product.c + i * product.ldc
            if product.columnLimit == Self.columnCount {
                for v in 0..<vectors {
                    let cv = UnsafeMutableRawPointer(ci + v * width)
                    var x = sums[i][v]
                    if addingToC { x += cv.loadUnaligned(as: Vector.self) }
                    if let bias { x += UnsafeRawPointer(bias + v * width).loadUnaligned(as: Vector.self) }
                    cv.storeBytes(of: x, as: Vector.self)
                }
            } else {
                // Right edge of C: lane by lane, the same arithmetic as the vector path.
                for j in 0..<product.columnLimit {
                    var x = sums[i][j / width][j % width]
                    if addingToC { x += ci[j] }
                    if let bias { x += bias[j] }
                    ci[j] = x
                }
            }
        }
    }
}
