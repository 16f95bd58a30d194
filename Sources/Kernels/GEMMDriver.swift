// The GEMM driver: the loop nest around the register tile, where each panel comes from, and the
// threads (legend in GEMM.swift; blocks and chunks in GEMMPlan.swift).
//
// Loop nest of one chunk (GEMMChunk.run):
//   for each depth block (kc deep), in K order:
//     for each column panel:        the B panel (kc × NR) is reused by every row panel of the chunk
//       for each row panel:         the A panel (MR × kc) comes from L2 (the chunk's A block, ≤ 8
//                                   panels × kc ≈ 200 KB, stays there across column panels)
//         tile = A panel · B panel, stored into C: + C if an earlier block (or `accumulate`) wrote
//         it, + bias on the last block.
//
// Where the panels come from (decided by layout and shape, never by the thread count):
//   B is packed once per call for all depth blocks, shared read-only by the chunks, or beforehand
//     once for many calls (`GEMMPackedB`; those tiles also prefetch it). Except for
//     skinny M (≤ 4 row panels) with B lanes contiguous (.nn, .tn): each B value then feeds so few
//     tiles that copying it would cost as much as the product; full panels are read in place.
//   A row-major (.nn): full row panels are read in place (the broadcasts read MR row streams, which
//     the prefetcher follows). Packing them first was a separate pass over A: 10% of the time when
//     N is small (2048×512×128). Except when A's rows are a multiple of 4 KiB apart (1024³): then
//     the MR rows share one L1 set and evict each other, so the chunk's panels are packed first.
//   A stored transposed (.tn): in place each K step is MR contiguous floats, but the panel spans kc
//     rows lda apart, which conflict in the caches on reuse. So the first column panel's tiles read
//     it in place and write the packed copy as they go; the other column panels read that copy.
//     (A separate packing pass before the tiles cost 15% at 2048×512×128.)
//   A short last row panel (M not a multiple of MR; see tileHeight) is packed, zero-padded.
//
// Threads: B is packed, then the chunks computed, each step split into chunks for
// `Parallel.forEachChunk`. Every C element is summed in one fixed order — p ascending within a depth
// block, depth blocks in order, then bias — that depends only on the shape; threads only decide which
// chunk runs where, so 1, 2 or 16 threads give bit-identical C.

/// The fast GEMM behind `gemm(_:m:n:k:a:lda:b:ldb:c:ldc:bias:accumulate:)`; m, n > 0.
func gemmBlocked(
    _ layout: GEMMLayout, m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    bias: UnsafePointer<Float>?, accumulate: Bool
) {
    let plan = GEMMPlan(layout, m: m, n: n, k: k, lda: lda)
    let b = GEMMOperand(b: b, ldb: ldb, layout)
    ScratchPool.withFloats(plan.readsBInPlace ? 0 : plan.packedBCount) { scratch in
        if !plan.readsBInPlace { packAllPanels(of: b, plan: plan, into: scratch, flops: 2 * m * n * k) }
        GEMMChunk<0>.computeAll(layout, plan: plan, a: a, lda: lda, b: b,
                                packedB: plan.readsBInPlace ? nil : UnsafePointer(scratch),
                                c: c, ldc: ldc, bias: bias, accumulate: accumulate)
    }
}

/// The product with B packed beforehand by `GEMMPackedB` (plan built with `bIsPrepacked`).
func gemmBlocked(
    _ layout: GEMMLayout, m: Int, a: UnsafePointer<Float>, lda: Int, packedB: GEMMPackedB,
    c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?, accumulate: Bool
) {
    let plan = GEMMPlan(layout, m: m, n: packedB.n, k: packedB.k, lda: lda, bIsPrepacked: true)
    // The operand B is never read when packed panels are given; it only fills the parameter.
    StreamingGEMMChunk.computeAll(layout, plan: plan, a: a, lda: lda, b: GEMMOperand(b: packedB.panels, ldb: 0, layout),
                                  packedB: packedB.panels, c: c, ldc: ldc, bias: bias, accumulate: accumulate)
}

/// Packs every panel of B, for all depth blocks, in the order of `plan.packedBOffset`.
func packAllPanels(of b: GEMMOperand, plan: GEMMPlan, into packed: UnsafeMutablePointer<Float>, flops: Int) {
    // O(K·N) work, but no tile can start before it: split it too (2 column panels a chunk).
    let groups = (plan.columnPanels + 1) / 2
    Parallel.forEachChunk(plan.depthBlocks * groups, flops: flops) { chunk in
        let block = chunk / groups, firstPanel = chunk % groups * 2
        b.pack(panels: firstPanel..<min(plan.columnPanels, firstPanel + 2), width: GEMMTile.columnCount,
               laneLimit: plan.n, depths: plan.depths(ofBlock: block),
               into: packed + plan.packedBOffset(block: block, columnPanel: firstPanel))
    }
}

/// Chunks whose tiles prefetch B 16 KB ahead: products with B packed beforehand (decode steps: the
/// weights stream from memory and each value feeds only M ≤ 16 rows). In a C replica of the tile
/// loop over the small model's 43 MB of weights, the hardware prefetchers alone reached 32 GB/s and
/// this 60 GB/s (distances 1–64 KB tried, 16 KB best); `rlhf bench gemm --shapes decode-step`
/// measures the whole path (1 thread: 52.7 GB/s, vs 11.7 with B read in place). A separate type,
/// not a runtime flag: with a prefetching call site beside the others in one function, LLVM kept
/// the other tiles' accumulators in memory and the training step ran 2× slower.
private typealias StreamingGEMMChunk = GEMMChunk<4096>

/// One chunk: its row panels × column panels of C, through every depth block. Tiles prefetch B
/// `bPrefetchDistance` floats ahead if that is > 0.
private struct GEMMChunk<let bPrefetchDistance: Int> {
    let plan: GEMMPlan
    let a: GEMMOperand, b: GEMMOperand
    /// All B panels, packed (nil when B is read in place).
    let packedB: UnsafePointer<Float>?
    let c: UnsafeMutablePointer<Float>, ldc: Int
    let bias: UnsafePointer<Float>?, accumulate: Bool
    let rowPanels: Range<Int>, columnPanels: Range<Int>
    /// Scratch: this chunk's packed A panels for the current depth block, MR × kc each, in row panel order.
    let packedA: UnsafeMutablePointer<Float>
    /// Scratch: the right-edge B panel when B is read in place.
    let bEdgePanel: UnsafeMutablePointer<Float>

    var mr: Int { GEMMTile.rowCount }
    var nr: Int { GEMMTile.columnCount }

    /// The tiles of every chunk, B either packed (`packedB`) or read in place (`plan.readsBInPlace`).
    @inline(__always)
    static func computeAll(
        _ layout: GEMMLayout, plan: GEMMPlan, a: UnsafePointer<Float>, lda: Int,
        b: GEMMOperand, packedB: UnsafePointer<Float>?,
        c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?, accumulate: Bool
    ) {
        let a = GEMMOperand(a: a, lda: lda, layout)
        Parallel.forEachChunk(plan.chunks, flops: 2 * plan.m * plan.n * plan.k) { chunk in
            let rowPanels = plan.rowPanels(ofChunk: chunk)
            // Scratch of this chunk only: its packed A panels for one depth block, then one B panel
            // for the right edge when B is read in place (that panel would read past column N).
            let packedACount = rowPanels.count * GEMMTile.rowCount * plan.depthBlock
            let bEdgeCount = plan.readsBInPlace ? plan.depthBlock * GEMMTile.columnCount : 0
            ScratchPool.withFloats(packedACount + bEdgeCount) { chunkScratch in
                Self(plan: plan, a: a, b: b, packedB: packedB, c: c, ldc: ldc, bias: bias, accumulate: accumulate,
                     rowPanels: rowPanels, columnPanels: plan.columnPanels(ofChunk: chunk),
                     packedA: chunkScratch, bEdgePanel: chunkScratch + packedACount).run()
            }
        }
    }

    @inline(__always)
    func run() {
        for block in 0..<plan.depthBlocks {
            let depths = plan.depths(ofBlock: block)
            if plan.aPanels == .packedFirst {
                a.pack(panels: rowPanels, width: mr, laneLimit: plan.m, depths: depths,
                       into: packedAPanel(rowPanels.lowerBound, depths: depths))
            } else if let last = rowPanels.last, !isFull(rowPanel: last) {
                // Only the last row panel can be short; it cannot be read in place.
                a.pack(panels: last..<last + 1, width: mr, laneLimit: plan.m, depths: depths,
                       into: packedAPanel(last, depths: depths))
            }
            for columnPanel in columnPanels {
                let (bPanel, bDepthStride) = bPanel(columnPanel, block: block, depths: depths)
                for rowPanel in rowPanels {
                    multiply(rowPanel, columnPanel, block: block, depths: depths, bPanel: bPanel, bDepthStride: bDepthStride)
                }
            }
        }
    }

    /// Whether the tile for this row panel covers exactly its rows, so that it can read A in place
    /// (see `tileHeight`; only a last panel can fail).
    @inline(__always)
    func isFull(rowPanel: Int) -> Bool {
        let rows = min(mr, plan.m - rowPanel * mr)
        return tileHeight(forRows: rows) == rows
    }

    @inline(__always)
    func packedAPanel(_ rowPanel: Int, depths: Range<Int>) -> UnsafeMutablePointer<Float> {
        packedA + (rowPanel - rowPanels.lowerBound) * mr * depths.count
    }

    /// The B panel of one column panel and depth block, and its depth stride.
    @inline(__always)
    func bPanel(_ columnPanel: Int, block: Int, depths: Range<Int>) -> (UnsafePointer<Float>, Int) {
        let j0 = columnPanel * nr
        if let packedB { return (packedB + plan.packedBOffset(block: block, columnPanel: columnPanel), nr) }
        if plan.n - j0 >= nr { return (b.at(lane: j0, depth: depths.lowerBound), b.depthStride) }
        b.pack(panels: columnPanel..<columnPanel + 1, width: nr, laneLimit: plan.n, depths: depths, into: bEdgePanel)
        return (UnsafePointer(bEdgePanel), nr)
    }

    /// One tile: rows of `rowPanel` × columns of `columnPanel`, over `depths`, into C.
    @inline(__always)
    func multiply(_ rowPanel: Int, _ columnPanel: Int, block: Int, depths: Range<Int>,
                  bPanel: UnsafePointer<Float>, bDepthStride: Int) {
        let i0 = rowPanel * mr, j0 = columnPanel * nr
        func product(a: UnsafePointer<Float>, aLaneStride: Int, aDepthStride: Int) -> TileProduct {
            TileProduct(depth: depths.count, a: a, aLaneStride: aLaneStride, aDepthStride: aDepthStride,
                        b: bPanel, bDepthStride: bDepthStride,
                        c: c + i0 * ldc + j0, ldc: ldc, rowLimit: min(mr, plan.m - i0), columnLimit: min(nr, plan.n - j0),
                        addingToC: accumulate || block > 0, bias: block == plan.depthBlocks - 1 ? bias.map { $0 + j0 } : nil)
        }
        let packed = packedAPanel(rowPanel, depths: depths)
        let inPlace = a.at(lane: i0, depth: depths.lowerBound)
        // One call site per way of reading A, so that each is compiled with its A strides as constants.
        let readsPacked = switch plan.aPanels {
        case .inPlace: !isFull(rowPanel: rowPanel)
        case .packedFirst: true
        case .packedByFirstColumnPanel: !isFull(rowPanel: rowPanel) || columnPanel != columnPanels.lowerBound
        }
        if readsPacked {
            multiplyTile(product(a: packed, aLaneStride: 1, aDepthStride: mr), bPrefetchDistance: bPrefetchDistance)
        } else if plan.aPanels == .inPlace {
            multiplyTile(product(a: inPlace, aLaneStride: a.laneStride, aDepthStride: 1), bPrefetchDistance: bPrefetchDistance)
        } else {
            // A stored transposed, first column panel: read in place, leave the packed panel behind.
            var first = product(a: inPlace, aLaneStride: 1, aDepthStride: a.depthStride)
            first.packingA = packed
            multiplyTile(first, bPrefetchDistance: bPrefetchDistance)
        }
    }
}
