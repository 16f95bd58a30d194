// The fixed-order sum that makes N processes compute what one process computes, bit for bit.
//
// A training step's batch is cut into M micro-batches (the manifest's micro_batch, whatever N is);
// micro-batch j yields a gradient g_j. One process sums them in order:
//
//     S = (((g_0 + g_1) + g_2) + … ) + g_{M−1}          elementwise, in Float
//
// Float addition is not associative, so the usual all-reduce (a tree or a ring, whose grouping
// depends on N) would give other bits. Instead the ranks keep that one order:
//
//   • ranks own contiguous runs of micro-batches (Share): rank 0 the first, rank 1 the next, …
//   • rank 0 folds its run, g_0 + g_1 + …, and sends the prefix sum to rank 1; rank r receives the
//     prefix of everything before its run and adds its own g's to it one by one, in order, then
//     passes it on. The last rank holds S, formed by exactly the additions of the single process,
//     and broadcasts it (a copy: any broadcast algorithm is exact).
//   • the vectors travel in segments, so the chain is a pipeline: while rank r adds segment s,
//     rank r−1 works on segment s+1. Each link carries the gradient once and the broadcast carries
//     it once more: about 2·P floats per rank per step, as a ring all-reduce moves, but the chain's
//     latency grows with N (see docs/cluster.md for the figures).
//
// A rank computes its micro-batches before the prefix arrives, so a rank other than 0 keeps each of
// its g's until then (one vector per micro-batch it owns); rank 0, which has no prefix to wait for,
// may fold as it goes. Metrics are made exact the same way, by gathering each micro-batch's raw
// values and folding them in order on every rank (ProcessGroup.allGather).

/// Which of a step's `total` items (micro-batches) each of `ranks` ranks computes: contiguous runs
/// in order, as even as possible, the first `total % ranks` ranks taking one more. With fewer items
/// than ranks, ranks `total…` have none.
public struct Share: Equatable, Sendable {
    public let total: Int
    public let ranks: Int

    public init(total: Int, ranks: Int) {
        precondition(total >= 0 && ranks > 0, "a share of \(total) items over \(ranks) ranks")
        self.total = total
        self.ranks = ranks
    }

    /// The items `rank` computes.
    public func range(of rank: Int) -> Range<Int> {
        let base = total / ranks, extra = total % ranks
        let start = rank * base + min(rank, extra)
        return start..<start + base + (rank < extra ? 1 : 0)
    }

    /// Ranks that own at least one item: 0..<activeRanks.
    public var activeRanks: Int { min(total, ranks) }
}

extension ProcessGroup {
    /// Sums every rank's micro-batch vectors into `result` on every rank, in global micro-batch order
    /// (see the top of this file). `local` holds this rank's vectors for `share.range(of: rank)`, in
    /// order; rank 0 may instead pass one vector holding the fold of its run. `result` may be
    /// `local[0]`. All vectors have `result.count` elements. `segment` is the pipeline's unit (floats).
    public func orderedSum(_ local: [UnsafeMutableBufferPointer<Float>], share: Share, into result: UnsafeMutableBufferPointer<Float>,
                           segment: Int = 1 << 18) throws(CollectiveError) {
        precondition(share.ranks == size, "a share over \(share.ranks) ranks in a group of \(size)")
        let owned = share.range(of: rank).count, n = result.count
        precondition(local.count == owned || (rank == 0 && owned > 0 && local.count == 1),
                     "rank \(rank) owns \(owned) micro-batches but passed \(local.count) vectors")
        precondition(local.allSatisfy { $0.count == n }, "vectors of different lengths")
        let active = share.activeRanks
        guard active > 0 else {
            result.update(repeating: 0)
            return
        }
        if rank < active {
            let prefix = UnsafeMutableBufferPointer<Float>.allocate(capacity: rank > 0 ? min(segment, n) : 0)
            defer { prefix.deallocate() }
            for start in stride(from: 0, to: n, by: segment) {
                let count = min(segment, n - start)
                let out = result.baseAddress! + start
                let first = local[0].baseAddress! + start
                if rank == 0 {
                    if out != first { out.update(from: first, count: count) }
                } else {
                    try receive(into: UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(start: prefix.baseAddress!, count: count)),
                                from: rank - 1)
                    for i in 0..<count { out[i] = prefix[i] + first[i] }
                }
                for vector in local.dropFirst() {
                    let g = vector.baseAddress! + start
                    for i in 0..<count { out[i] += g[i] }
                }
                if rank < active - 1 {
                    try send(UnsafeRawBufferPointer(UnsafeBufferPointer(start: out, count: count)), to: rank + 1)
                }
            }
        }
        if size > 1 { try broadcast(UnsafeMutableRawBufferPointer(result), from: active - 1) }
    }
}
