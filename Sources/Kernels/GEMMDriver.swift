// The GEMM driver: cache blocking, packing and threads around the register tile.
//
// Legend:
//   M, N, K        C is M×N; the product runs over K (the depth).
//   MR × NR        the register tile (GEMMMicroKernel.swift): 12×32 with AVX-512, 6×16 otherwise.
//   row panel      MR rows of C and of op(A); column panel: NR columns of C and of op(B).
//   kc             a depth block: K is cut into ⌈K / 512⌉ blocks of equal size.
//   chunk          the unit of parallel work: a run of ≤ 16 row panels × a run of column panels.
//   lane / depth   an operand's index along C (row of A, column of B) / along K.
//
// Loop nest of one chunk:
//   for each depth block (kc deep), in K order:
//     pack the chunk's A panels for this block (A block ≤ 16·MR × kc floats, ~400 KB: stays in L2)
//     for each column panel:        the B panel (kc × NR) is reused by every row panel of the chunk
//       for each row panel:         the A panel (MR × kc) streams from L2
//         tile = A panel · B panel, stored into C: + C if an earlier block (or `accumulate`) wrote
//         it, + bias on the last block.
//
// Why these blocks (measured on Zen 5, L1d 48 KiB, L2 1 MiB): kc 384–512 ran 5–10% faster than
// 128–256 (fewer C round trips per flop; the kc × 32 B panel is streamed from L2 fast enough), and
// beyond 512 nothing improved. 16 row panels (192 rows) per chunk keeps the A block in L2 and gives
// M = 2048 eleven chunks, enough to split evenly over 2 threads.
//
// Packing decisions (shape and layout only, never the thread count):
//   B is packed once per call for all depth blocks and shared read-only by the chunks — except for
//     skinny M (≤ 4 row panels) with B lanes contiguous (.nn, .tn): each B value is then used by so
//     few tiles that copying it would cost as much as the product, so full panels are read in place.
//   A is packed per chunk and depth block — except with A row-major (.nn): full row panels are read
//     in place (the tile's broadcasts read MR row streams), which saves a pass over A; for small N
//     (2048×512×128) that pass was 10% of the time.
//
// Determinism: every C element is summed in one fixed order — p ascending within a depth block,
// depth blocks in order, then bias — that depends only on the shape. Threads only decide which
// chunk runs where, so 1, 2 or 16 threads give bit-identical C.

/// The cache blocking and chunk grid of one GEMM shape.
struct GEMMPlan {
    static let maxDepthBlock = 512
    static let maxRowPanelsPerChunk = 16
    /// Column chunks are at least this many panels wide (128 or 64 columns).
    static let minColumnPanelsPerChunk = 4
    /// Split N too when M gives fewer row chunks than this, so that 2 threads still balance.
    static let targetChunks = 4
    /// At most this many row panels read B in place instead of packing it.
    static let maxRowPanelsReadingBInPlace = 4

    let m: Int, n: Int, k: Int
    /// kc, the depth of every block but possibly the last.
    let depthBlock: Int
    let depthBlocks: Int
    let rowPanels: Int, columnPanels: Int
    let rowChunks: Int, columnChunks: Int
    let readsAInPlace: Bool
    let readsBInPlace: Bool

    init(_ layout: GEMMLayout, m: Int, n: Int, k: Int) {
        self.m = m; self.n = n; self.k = k
        depthBlocks = max(1, (k + Self.maxDepthBlock - 1) / Self.maxDepthBlock)
        depthBlock = (k + depthBlocks - 1) / depthBlocks
        rowPanels = (m + GEMMTile.rowCount - 1) / GEMMTile.rowCount
        columnPanels = (n + GEMMTile.columnCount - 1) / GEMMTile.columnCount
        rowChunks = (rowPanels + Self.maxRowPanelsPerChunk - 1) / Self.maxRowPanelsPerChunk
        let wanted = (Self.targetChunks + rowChunks - 1) / rowChunks
        columnChunks = max(1, min(wanted, columnPanels / Self.minColumnPanelsPerChunk))
        readsAInPlace = !layout.transposesA
        readsBInPlace = !layout.transposesB && rowPanels <= Self.maxRowPanelsReadingBInPlace
    }

    var chunks: Int { rowChunks * columnChunks }

    /// K indices of depth block `block`.
    func depths(ofBlock block: Int) -> Range<Int> {
        block * depthBlock ..< min(k, (block + 1) * depthBlock)
    }

    /// Row panels of `chunk`: an even share of all row panels.
    func rowPanels(ofChunk chunk: Int) -> Range<Int> {
        let r = chunk / columnChunks
        return r * rowPanels / rowChunks ..< (r + 1) * rowPanels / rowChunks
    }

    /// Column panels of `chunk`: an even share of all column panels.
    func columnPanels(ofChunk chunk: Int) -> Range<Int> {
        let c = chunk % columnChunks
        return c * columnPanels / columnChunks ..< (c + 1) * columnPanels / columnChunks
    }

    /// Floats of all packed B panels: K × N rounded up to whole panels.
    var packedBCount: Int { k * columnPanels * GEMMTile.columnCount }

    /// Where the packed B panel (depth block, column panel) starts: blocks in K order, panels in N
    /// order within a block, each panel `depth × NR` floats.
    func packedBOffset(block: Int, columnPanel: Int) -> Int {
        let depths = depths(ofBlock: block)
        return (depths.lowerBound * columnPanels + columnPanel * depths.count) * GEMMTile.columnCount
    }
}

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

/// The fast GEMM behind `gemm(_:m:n:k:a:lda:b:ldb:c:ldc:bias:accumulate:)`; m, n > 0.
func gemmBlocked(
    _ layout: GEMMLayout, m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    bias: UnsafePointer<Float>?, accumulate: Bool
) {
    let plan = GEMMPlan(layout, m: m, n: n, k: k)
    let a = GEMMOperand(a: a, lda: lda, layout)
    let b = GEMMOperand(b: b, ldb: ldb, layout)
    ScratchPool.withFloats(plan.readsBInPlace ? 0 : plan.packedBCount) { scratch in
        let packedB: UnsafePointer<Float>? = plan.readsBInPlace ? nil : UnsafePointer(scratch)
        if packedB != nil {
            for block in 0..<plan.depthBlocks {
                b.pack(panels: 0..<plan.columnPanels, width: GEMMTile.columnCount, laneLimit: n,
                       depths: plan.depths(ofBlock: block), into: scratch + plan.packedBOffset(block: block, columnPanel: 0))
            }
        }
        Parallel.forEachChunk(plan.chunks, flops: 2 * m * n * k) { chunk in
            computeChunk(chunk, plan, a: a, b: b, packedB: packedB, c: c, ldc: ldc, bias: bias, accumulate: accumulate)
        }
    }
}

/// One chunk of C: the loop nest at the top of this file.
private func computeChunk(
    _ chunk: Int, _ plan: GEMMPlan, a: GEMMOperand, b: GEMMOperand, packedB: UnsafePointer<Float>?,
    c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?, accumulate: Bool
) {
    let mr = GEMMTile.rowCount, nr = GEMMTile.columnCount
    let rowPanels = plan.rowPanels(ofChunk: chunk), columnPanels = plan.columnPanels(ofChunk: chunk)
    // Scratch of this chunk only: one B panel for the right edge when B is read in place (the edge
    // panel would read past column N), then its A panels for one depth block.
    let bEdgeCount = plan.readsBInPlace ? plan.depthBlock * nr : 0
    ScratchPool.withFloats(bEdgeCount + rowPanels.count * mr * plan.depthBlock) { scratch in
        let bEdgePanel = scratch, packedA = scratch + bEdgeCount
        for block in 0..<plan.depthBlocks {
            let depths = plan.depths(ofBlock: block)
            let isFirstBlock = block == 0, isLastBlock = block == plan.depthBlocks - 1
            /// A panels the tile can read in place: full ones (a short last panel would read past M).
            func aPanelIsFull(_ panel: Int) -> Bool {
                let rows = min(mr, plan.m - panel * mr)
                return tileHeight(forRows: rows) == rows
            }
            func packedAPanel(_ panel: Int) -> UnsafeMutablePointer<Float> {
                packedA + (panel - rowPanels.lowerBound) * mr * depths.count
            }
            // Only the last panel can be short, so a packed-up-front panel is the chunk's last.
            if let last = rowPanels.last, !aPanelIsFull(last) {
                a.pack(panels: last..<last + 1, width: mr, laneLimit: plan.m, depths: depths, into: packedAPanel(last))
            }
            for columnPanel in columnPanels {
                let isFirstColumnPanel = columnPanel == columnPanels.lowerBound
                let j0 = columnPanel * nr, columns = min(nr, plan.n - j0)
                let bPanel: UnsafePointer<Float>, bDepthStride: Int
                if let packedB {
                    (bPanel, bDepthStride) = (packedB + plan.packedBOffset(block: block, columnPanel: columnPanel), nr)
                } else if columns == nr {
                    (bPanel, bDepthStride) = (b.at(lane: j0, depth: depths.lowerBound), b.depthStride)
                } else {
                    b.pack(panels: columnPanel..<columnPanel + 1, width: nr, laneLimit: plan.n, depths: depths,
                           into: bEdgePanel)
                    (bPanel, bDepthStride) = (UnsafePointer(bEdgePanel), nr)
                }
                for panel in rowPanels {
                    let i0 = panel * mr
                    func product(a: UnsafePointer<Float>, aLaneStride: Int, aDepthStride: Int) -> TileProduct {
                        TileProduct(depth: depths.count, a: a, aLaneStride: aLaneStride, aDepthStride: aDepthStride,
                                    b: bPanel, bDepthStride: bDepthStride,
                                    c: c + i0 * ldc + j0, ldc: ldc, rowLimit: min(mr, plan.m - i0), columnLimit: columns,
                                    addingToC: accumulate || !isFirstBlock, bias: isLastBlock ? bias.map { $0 + j0 } : nil)
                    }
                    // One call site per A access, so that each is compiled with its A strides as constants.
                    if !aPanelIsFull(panel) || (!plan.readsAInPlace && !isFirstColumnPanel) {
                        multiplyTile(product(a: packedAPanel(panel), aLaneStride: 1, aDepthStride: mr))
                    } else if plan.readsAInPlace {
                        multiplyTile(product(a: a.at(lane: i0, depth: depths.lowerBound), aLaneStride: a.laneStride, aDepthStride: 1))
                    } else {
                        // .tn: read the panel in place once and pack it on the way for the other column panels.
                        var first = product(a: a.at(lane: i0, depth: depths.lowerBound), aLaneStride: 1, aDepthStride: a.depthStride)
                        first.packingA = packedAPanel(panel)
                        multiplyTile(first)
                    }
                }
            }
        }
    }
}
