// The GEMM's blocking: from the shape alone, the depth blocks and the grid of chunks that threads
// share. Nothing here depends on the thread count, which is what keeps results bit-identical for any
// number of threads (legend in GEMM.swift).
//
// Why these blocks (measured on Zen 5, L1d 48 KiB, L2 1 MiB per core, and Zen 4, L1d 32 KiB):
//   kc ≤ 512: 384–512 ran 5–10% faster than 128–256 on Zen 5 (fewer round trips of C per flop; the
//     kc × NR panel streams from L2 fast enough), and beyond 512 nothing improved. On Zen 4 the
//     x86-64-v3 build ran the same with kc 256 or 512 (median 102 GFLOP/s over the 19 shapes).
//     **kc depends on K alone, on every host and instruction set**: it fixes the order in which each
//     element of C is summed (p ascending within a block, blocks in order), so a model trained on an
//     AVX2 machine and resumed on an AVX-512 one (or on ARM64) continues bit for bit. Nothing else
//     here changes a result: tiles, chunks and where panels come from only decide speed.
//   Row chunks of 8 row panels (96 rows): the chunk's A block (≤ 8·MR × kc floats, ~200 KB) stays
//     in L2 across column panels. Threads claim chunks as they go (ForkJoinPool), so the last
//     chunks are made small — a quarter of the panels left, down to 1 — and the threads finish
//     within a panel of each other: with equal 16-panel chunks, the one left over at the end cost
//     2 threads ~5% on the 0.8 ms shapes.
//   N is split too when M gives fewer than 4 row chunks.

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
    /// Where full A panels come from (GEMMDriver.swift says why).
    let aPanels: APanelSource
    /// Skinny M with B lanes contiguous: full B panels are read in place, not packed.
    let readsBInPlace: Bool

    enum APanelSource {
        /// A row-major (.nn): read in place.
        case inPlace
        /// A row-major with rows a multiple of 4 KiB apart: packed for each depth block before the tiles.
        case packedFirst
        /// A stored transposed (.tn): packed by the tiles of the first column panel as they read it.
        case packedByFirstColumnPanel
    }

    /// `lda`: A's row stride as stored. `bIsPrepacked`: B comes packed by `GEMMPackedB` (for every
    /// depth block, in this plan's panel order), so it is never read in place.
    init(_ layout: GEMMLayout, m: Int, n: Int, k: Int, lda: Int = 0, bIsPrepacked: Bool = false) {
        self.m = m; self.n = n; self.k = k
        rowPanels = (m + GEMMTile.rowCount - 1) / GEMMTile.rowCount
        readsBInPlace = !bIsPrepacked && !layout.transposesB && rowPanels <= Self.maxRowPanelsReadingBInPlace
        depthBlocks = max(1, (k + Self.maxDepthBlock - 1) / Self.maxDepthBlock)
        depthBlock = (k + depthBlocks - 1) / depthBlocks
        columnPanels = (n + GEMMTile.columnCount - 1) / GEMMTile.columnCount
        let fullChunksEnd = Self.fullRowChunks(rowPanels) * Self.maxRowPanelsPerChunk
        var tailChunks = 0, start = fullChunksEnd
        while start < rowPanels { start += Self.rowChunkSize(remaining: rowPanels - start); tailChunks += 1 }
        rowChunks = max(1, Self.fullRowChunks(rowPanels) + tailChunks)
        let wanted = (Self.targetChunks + rowChunks - 1) / rowChunks
        columnChunks = max(1, min(wanted, columnPanels / Self.minColumnPanelsPerChunk))
        aPanels = layout.transposesA ? .packedByFirstColumnPanel
            : lda % Self.aliasingRowStride == 0 ? .packedFirst : .inPlace
    }

    /// Rows of A this many floats (4 KiB) apart fall into one set of the L1 cache (and alias in
    /// the store-forwarding checks): read in place, the MR rows of a panel evict each other and the
    /// B panel. 1024³ .nn is the case (lda 1024); OpenBLAS packs A always.
    static let aliasingRowStride = 1024

    var chunks: Int { rowChunks * columnChunks }

    /// K indices of depth block `block`.
    func depths(ofBlock block: Int) -> Range<Int> {
        block * depthBlock ..< min(k, (block + 1) * depthBlock)
    }

    /// Row chunks are `maxRowPanelsPerChunk` panels while at least 4 times that many remain, then a
    /// quarter of what remains (at least one panel).
    private static func rowChunkSize(remaining: Int) -> Int {
        min(maxRowPanelsPerChunk, max(1, remaining / 4))
    }

    /// How many full-size row chunks lead.
    private static func fullRowChunks(_ rowPanels: Int) -> Int {
        let tailStart = 4 * maxRowPanelsPerChunk
        return rowPanels < tailStart ? 0 : (rowPanels - tailStart) / maxRowPanelsPerChunk + 1
    }

    /// Row panels of `chunk`.
    func rowPanels(ofChunk chunk: Int) -> Range<Int> {
        let r = chunk / columnChunks, full = Self.fullRowChunks(rowPanels), size = Self.maxRowPanelsPerChunk
        if r < full { return r * size ..< (r + 1) * size }
        var start = full * size
        for _ in full..<r { start += Self.rowChunkSize(remaining: rowPanels - start) }
        return start ..< min(rowPanels, start + Self.rowChunkSize(remaining: rowPanels - start))
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
