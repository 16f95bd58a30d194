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
//     shapes; 14×32 (28 accumulators) spilled and ran at half speed.
//   AVX2 / NEON (16 ymm / 32 q): 6×16 = 12 SIMD8 accumulators + 2 + 1 = 15 registers.
//
// The tile reads A and B through strides, so the same code serves packed panels (contiguous, the
// usual case) and operands read in place (A row-major, B for skinny M; see GEMMDriver.swift).

#if arch(x86_64) && RLHF_AVX512
/// The register tile of this build: 12 rows × 32 columns of SIMD16.
typealias GEMMTile = RegisterTile<12, 2, SIMD16<Float>>
#else
/// The register tile of this build: 6 rows × 16 columns of SIMD8.
typealias GEMMTile = RegisterTile<6, 2, SIMD8<Float>>
#endif

/// C tile = A panel · B panel (+ C) (+ bias): one register tile, start to finish. The driver's one
/// entry point into this file. Being non-generic, it is compiled here, where the generic tile is
/// visible: a debug build (no whole-module optimisation) cannot specialise a generic across files.
/// Operand strides as in `RegisterTile.accumulate`; the C corner and flags as in `RegisterTile.store`.
@inline(__always)
func multiplyTile(depth: Int,
                  a: UnsafePointer<Float>, aLaneStride: Int, aDepthStride: Int,
                  b: UnsafePointer<Float>, bDepthStride: Int,
                  c: UnsafeMutablePointer<Float>, ldc: Int, rowLimit: Int, columnLimit: Int,
                  addingToC: Bool, bias: UnsafePointer<Float>?) {
    var tile = GEMMTile()
    tile.accumulate(depth: depth, a: a, aLaneStride: aLaneStride, aDepthStride: aDepthStride,
                    b: b, bDepthStride: bDepthStride)
    tile.store(to: c, ldc: ldc, rowLimit: rowLimit, columnLimit: columnLimit, addingToC: addingToC, bias: bias)
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

    /// sums[i][j] += Σ_{p < depth} a(i, p) · b(p, j), p ascending.
    ///
    /// a(i, p) = a[i·aLaneStride + p·aDepthStride] (packed panel: 1, MR; row-major A in place: lda, 1).
    /// b(p, j) = b[p·bDepthStride + j], its NR floats of one p contiguous (packed panel: NR; B in place: ldb).
    @inline(__always)
    mutating func accumulate(depth: Int,
                             a: UnsafePointer<Float>, aLaneStride: Int, aDepthStride: Int,
                             b: UnsafePointer<Float>, bDepthStride: Int) {
        let width = Vector.scalarCount
        var a = a, b = b
        for _ in 0..<depth {
            var bRow = InlineArray<vectors, Vector>(repeating: .zero)
            for v in 0..<vectors { bRow[v] = UnsafeRawPointer(b + v &* width).loadUnaligned(as: Vector.self) }
            for i in 0..<rows {
                // Wrapping multiply: an overflow check here would keep the accumulators in memory.
                let ai = Vector(repeating: a[i &* aLaneStride])
                for v in 0..<vectors { sums[i][v] = sums[i][v].addingProduct(ai, bRow[v]) }
            }
            a += aDepthStride
            b += bDepthStride
        }
    }

    /// Writes the tile's top-left `rowLimit`×`columnLimit` corner to C: C = sums (+ C if `addingToC`)
    /// (+ bias[j] if `bias` is given). Folding the accumulate and the bias into this store saves a
    /// separate pass over C.
    @inline(__always)
    func store(to c: UnsafeMutablePointer<Float>, ldc: Int, rowLimit: Int, columnLimit: Int,
               addingToC: Bool, bias: UnsafePointer<Float>?) {
        let width = Vector.scalarCount
        for i in 0..<rows where i < rowLimit {
            let ci = c + i * ldc
            if columnLimit == Self.columnCount {
                for v in 0..<vectors {
                    let cv = UnsafeMutableRawPointer(ci + v * width)
                    var x = sums[i][v]
                    if addingToC { x += cv.loadUnaligned(as: Vector.self) }
                    if let bias { x += UnsafeRawPointer(bias + v * width).loadUnaligned(as: Vector.self) }
                    cv.storeBytes(of: x, as: Vector.self)
                }
            } else {
                // Right edge of C: lane by lane, the same arithmetic as the vector path.
                for j in 0..<columnLimit {
                    var x = sums[i][j / width][j % width]
                    if addingToC { x += ci[j] }
                    if let bias { x += bias[j] }
                    ci[j] = x
                }
            }
        }
    }
}
