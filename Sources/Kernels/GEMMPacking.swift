// Packing: copying a slab of A or B into the contiguous panel order the register tile reads.
//
// A panel is `depth` rows of `width` floats: panel[d·width + l] = source(l, d), where l is a lane
// (a row of C for A panels, width = MR; a column of C for B panels, width = NR) and d the K index.
// Lanes past the matrix edge are zero, so the tile always computes a full MR×NR block and only its
// store is clipped.
//
// Why pack: the tile then reads an operand as one sequential stream whatever the layout (.nn, .nt,
// .tn) and leading dimension, with no cache-set conflicts (a 1024-float leading dimension puts every
// row of an unpacked B in the same L1 set) and no page-crossing strides. B is packed this way; A
// mostly is not (GEMMDriver.swift says when and why). The layouts differ only in which stride is 1:
//   lanes contiguous (B of .nn/.tn, A of .tn):  each depth row of the panel is a short memcpy;
//   depth contiguous (B of .nt, A of .nn):      a transpose, done 16×16 in registers.

/// A or B as stored: element (lane, depth) at base[lane·laneStride + depth·depthStride].
struct GEMMOperand {
    let base: UnsafePointer<Float>
    let laneStride: Int
    let depthStride: Int

    /// op(A) [M,K] of `layout`: lanes are rows of C.
    init(a: UnsafePointer<Float>, lda: Int, _ layout: GEMMLayout) {
        base = a
        (laneStride, depthStride) = layout.transposesA ? (1, lda) : (lda, 1)
    }

    /// op(B) [K,N] of `layout`: lanes are columns of C.
    init(b: UnsafePointer<Float>, ldb: Int, _ layout: GEMMLayout) {
        base = b
        (laneStride, depthStride) = layout.transposesB ? (ldb, 1) : (1, ldb)
    }

    func at(lane: Int, depth: Int) -> UnsafePointer<Float> { base + lane * laneStride + depth * depthStride }

    /// Packs panels `panels` (each `width` lanes; lanes past `laneLimit` zero) over `depths`, one after
    /// the other from `into`.
    @inline(__always)
    func pack(panels: Range<Int>, width: Int, laneLimit: Int, depths: Range<Int>, into: UnsafeMutablePointer<Float>) {
        let firstLane = panels.lowerBound * width
        packPanels(panels.count, from: at(lane: firstLane, depth: depths.lowerBound), laneStride: laneStride,
                   depthStride: depthStride, lanes: laneLimit - firstLane, depth: depths.count, width: width, into: into)
    }
}

/// Packs `panels` consecutive panels of a strided source, panel q (lanes q·width ..< (q+1)·width)
/// at `into + q·width·depth` (layout above). source(l, d) = source[l·laneStride + d·depthStride];
/// lanes ≥ `lanes` are written as zero. One of the two strides must be 1 (true of every GEMM operand).
@inline(__always)
func packPanels(_ panels: Int, from source: UnsafePointer<Float>, laneStride: Int, depthStride: Int,
                lanes: Int, depth: Int, width: Int, into: UnsafeMutablePointer<Float>) {
    let panelSize = width * depth
    if laneStride == 1 {
        // Depth outermost: each source row is read once, front to back, into every panel.
        for d in 0..<depth {
            let from = source + d * depthStride
            for q in 0..<panels {
                packLaneRun(from: from + q * width, lanes: lanes - q * width, width: width,
                            into: into + q * panelSize + d * width)
            }
        }
    } else {
        precondition(depthStride == 1, "packPanels: one stride must be 1")
        for q in 0..<panels {
            packDepthContiguous(from: source + q * width * laneStride, laneStride: laneStride,
                                lanes: lanes - q * width, depth: depth, width: width, into: into + q * panelSize)
        }
    }
}

/// One depth row of a panel from contiguous lanes: `lanes` floats (all `width` if more), then zeros.
@inline(__always)
private func packLaneRun(from: UnsafePointer<Float>, lanes: Int, width: Int, into to: UnsafeMutablePointer<Float>) {
    if lanes >= width {
        copyFloats(from: from, to: to, count: width)
    } else {
        for l in 0..<width { to[l] = l < lanes ? from[l] : 0 }
    }
}

/// The panel is the transpose of the source: lanes are source rows, depth runs along each row.
/// Blocks of 16 lanes × 16 depths are loaded as 16 vectors (one per lane), transposed in registers
/// and stored as 16 panel rows; missing lanes are zero vectors. The depth tail goes lane by lane.
@inline(__always)
private func packDepthContiguous(from source: UnsafePointer<Float>, laneStride: Int, lanes: Int,
                                 depth: Int, width: Int, into panel: UnsafeMutablePointer<Float>) {
    let block = 16
    var d0 = 0
    while d0 + block <= depth {
        var l0 = 0
        while l0 < width {
            let blockLanes = min(block, width - l0)
            var vectors = InlineArray<16, SIMD16<Float>>(repeating: .zero)
            for l in 0..<block where l < blockLanes && l0 + l < lanes {
                vectors[l] = UnsafeRawPointer(source + (l0 + l) * laneStride + d0).loadUnaligned(as: SIMD16<Float>.self)
            }
            transpose16x16(&vectors)
            for d in 0..<block {
                storePrefix(vectors[d], count: blockLanes, to: panel + (d0 + d) * width + l0)
            }
            l0 += block
        }
        d0 += block
    }
    for d in d0..<depth {
        for l in 0..<width { panel[d * width + l] = l < lanes ? source[l * laneStride + d] : 0 }
    }
}

/// Transposes a 16×16 block held as 16 row vectors. Four rounds of a perfect unshuffle: each round
/// rotates the 8-bit element index (row, column) right by one bit, so four rounds swap row and
/// column. Each output vector comes from two inputs, which LLVM emits as one `vpermt2ps` (AVX-512):
/// 64 shuffles for 256 floats.
@inline(__always)
func transpose16x16(_ rows: inout InlineArray<16, SIMD16<Float>>) {
    for _ in 0..<4 {
        var next = InlineArray<16, SIMD16<Float>>(repeating: .zero)
        for t in 0..<8 {
            let pair = SIMD32<Float>(lowHalf: rows[2 * t], highHalf: rows[2 * t + 1])
            next[t] = pair.evenHalf
            next[8 + t] = pair.oddHalf
        }
        rows = next
    }
}

/// to[0..<count] = from[0..<count], in the widest vectors that fit (`count` is a constant after
/// inlining, so the branches fold away).
@inline(__always)
func copyFloats(from: UnsafePointer<Float>, to: UnsafeMutablePointer<Float>, count: Int) {
    var j = 0
    while j + 16 <= count { copyVector(SIMD16<Float>.self, from: from + j, to: to + j); j += 16 }
    if j + 8 <= count { copyVector(SIMD8<Float>.self, from: from + j, to: to + j); j += 8 }
    if j + 4 <= count { copyVector(SIMD4<Float>.self, from: from + j, to: to + j); j += 4 }
    while j < count { to[j] = from[j]; j += 1 }
}

@inline(__always)
private func copyVector<V: SIMD>(_: V.Type, from: UnsafePointer<Float>, to: UnsafeMutablePointer<Float>)
where V.Scalar == Float {
    UnsafeMutableRawPointer(to).storeBytes(of: UnsafeRawPointer(from).loadUnaligned(as: V.self), as: V.self)
}

/// to[0..<count] = vector[0..<count] for count ≤ 16, without writing past `count`.
@inline(__always)
private func storePrefix(_ vector: SIMD16<Float>, count: Int, to: UnsafeMutablePointer<Float>) {
    if count == 16 {
        UnsafeMutableRawPointer(to).storeBytes(of: vector, as: SIMD16<Float>.self)
    } else {
        for l in 0..<count { to[l] = vector[l] }
    }
}
