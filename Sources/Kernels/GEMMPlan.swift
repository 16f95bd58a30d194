// The GEMM's blocking: from the shape alone, the depth blocks and the grid of chunks that threads
// share. Nothing here depends on the thread count, which is what keeps results bit-identical for any
// number of threads (legend in GEMM.swift).
//
// Why these blocks (measured on Zen 5, L1d 48 KiB, L2 1 MiB per core):
//   kc ≤ 512: 384–512 ran 5–10% faster than 128–256 (fewer round trips of C per flop; the kc × 32 B
//     panel streams from L2 fast enough), and beyond 512 nothing improved.
//   ≤ 8 row panels (96 rows) per chunk: the chunk's A block (≤ 8·MR × kc floats, ~200 KB) stays in
//     L2 across column panels, and M = 2048 gives 22 chunks. Threads claim chunks as they go; with
//     16-panel chunks the chunk left over at the end cost 2 threads ~5% on the 0.8 ms shapes.
//   An even chunk count, and N split too when M is small, so that 2 threads get equal shares.

/// The cache blocking and chunk grid of one GEMM shape.
struct GEMMPlan {
    static let maxDepthBlock = 512
    static let maxRowPanelsPerChunk = 8
    /// Column chunks are at least this many panels wide (64 or 32 columns).
    static let minColumnPanelsPerChunk = 2
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
    /// A row-major: full A panels are read in place. Otherwise they are packed by the first column panel.
    let readsAInPlace: Bool
    /// Skinny M with B lanes contiguous: full B panels are read in place, not packed.
    let readsBInPlace: Bool

    init(_ layout: GEMMLayout, m: Int, n: Int, k: Int) {
        self.m = m; self.n = n; self.k = k
        depthBlocks = max(1, (k + Self.maxDepthBlock - 1) / Self.maxDepthBlock)
        depthBlock = (k + depthBlocks - 1) / depthBlocks
        rowPanels = (m + GEMMTile.rowCount - 1) / GEMMTile.rowCount
        columnPanels = (n + GEMMTile.columnCount - 1) / GEMMTile.columnCount
        // An even count when there is more than one: with equal chunks, 2 threads finish together
        // (an odd count leaves one thread a whole chunk longer).
        let rowChunksNeeded = (rowPanels + Self.maxRowPanelsPerChunk - 1) / Self.maxRowPanelsPerChunk
        rowChunks = rowChunksNeeded <= 1 ? 1 : min(rowPanels, (rowChunksNeeded + 1) / 2 * 2)
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
