// The BPE model of a byte-level tokenizer: a vocabulary of byte strings and the ranked merges that
// build them, applied to one piece of pre-tokenized text.
//
// A piece starts as one symbol per byte (the token spelling that byte). Then, repeatedly, of all
// adjacent pairs that have a merge, the one with the lowest rank is merged (the leftmost of equal
// ranks), until no adjacent pair has a merge. This is Hugging Face's `Word::merge_all` with its
// priority queue; for the short pieces of real text, re-scanning an array of pair ranks is faster,
// and long pieces (a run of 10 000 spaces) use the queue. Both give the same tokens (tested).
//
// `ignore_merges` (Llama 3): a piece that is itself in the vocabulary is that one token.
// A byte whose token is missing from the vocabulary becomes `unk_token` (consecutive ones fused with
// `fuse_unk`), or is dropped when there is no `unk_token` — as Hugging Face does.

struct BPEModel: Sendable {
    /// Vocabulary entries whose spelling is in the byte-level alphabet, by the bytes they spell.
    var tokensByBytes: ByteStringTable
    /// Each byte's own token, -1 when the vocabulary lacks it.
    var byteTokens: [Int32]  // [256]
    var merges: PairTable
    var ignoreMerges: Bool
    var unknown: Int32?
    var fuseUnknown: Bool

    /// Pieces at least this long merge with the priority queue.
    static let queueThreshold = 128

    /// Appends the tokens of `piece` to `out`. `scratch` is reused between calls.
    func encode(_ piece: UnsafeBufferPointer<UInt8>, into out: inout [Int32], scratch: inout BPEScratch) {
        if ignoreMerges, let whole = tokensByBytes.value(for: piece) {
            out.append(whole)
            return
        }
        var symbols = scratch.symbols
        symbols.removeAll(keepingCapacity: true)
        var unknownRun = false
        for byte in piece {
            let token = byteTokens[Int(byte)]
            if token >= 0 {
                symbols.append(token)
                unknownRun = false
            } else if let unknown {
                if !(fuseUnknown && unknownRun) { symbols.append(unknown) }
                unknownRun = true
            }
        }
        if symbols.count >= Self.queueThreshold {
            mergeWithQueue(&symbols, scratch: &scratch)
        } else {
            mergeByScanning(&symbols, ranks: &scratch.ranks, mergedTokens: &scratch.mergedTokens)
        }
        out.append(contentsOf: symbols)
        scratch.symbols = symbols
    }

    /// The rank-ordered merge loop over an array: `ranks[i]` is the rank of the pair (i, i+1) and
    /// `mergedTokens[i]` the token it merges into.
    func mergeByScanning(_ symbols: inout [Int32], ranks: inout [UInt32], mergedTokens: inout [Int32]) {
        guard symbols.count > 1 else { return }
        ranks.removeAll(keepingCapacity: true)
        mergedTokens.removeAll(keepingCapacity: true)
        for i in 0..<(symbols.count - 1) {
            let merge = merges.merge(symbols[i], symbols[i + 1])
            ranks.append(merge?.rank ?? .max)
            mergedTokens.append(merge?.merged ?? -1)
        }
        while true {
            var best = 0
            for i in 1..<ranks.count where ranks[i] < ranks[best] { best = i }
            guard ranks[best] != .max else { return }
            symbols[best] = mergedTokens[best]
            symbols.remove(at: best + 1)
            ranks.remove(at: best)
            mergedTokens.remove(at: best)
            if ranks.isEmpty { return }
            // The pairs that changed: (best − 1, best) and (best, best + 1).
            for i in [best - 1, best] where i >= 0 && i < ranks.count {
                let merge = merges.merge(symbols[i], symbols[i + 1])
                ranks[i] = merge?.rank ?? .max
                mergedTokens[i] = merge?.merged ?? -1
            }
        }
    }

    /// Hugging Face's algorithm: a min-queue of (rank, position) over a linked list of symbols; an entry
    /// whose pair has changed since it was queued is skipped when it comes out.
    func mergeWithQueue(_ symbols: inout [Int32], scratch: inout BPEScratch) {
        let n = symbols.count
        var previous = Array(-1..<(n - 1))
        var next = Array(1...n)
        next[n - 1] = -1
        var alive = [Bool](repeating: true, count: n)
        var queue = MergeQueue()
        for i in 0..<(n - 1) {
            if let merge = merges.merge(symbols[i], symbols[i + 1]) {
                queue.push(.init(rank: merge.rank, position: i, merged: merge.merged))
            }
        }
        while let top = queue.pop() {
            let i = top.position
            guard alive[i], next[i] >= 0 else { continue }
            let j = next[i]
            guard let current = merges.merge(symbols[i], symbols[j]), current.merged == top.merged else { continue }
            symbols[i] = top.merged
            alive[j] = false
            next[i] = next[j]
            if next[j] >= 0 { previous[next[j]] = i }
            if previous[i] >= 0, let merge = merges.merge(symbols[previous[i]], symbols[i]) {
                queue.push(.init(rank: merge.rank, position: previous[i], merged: merge.merged))
            }
            if next[i] >= 0, let merge = merges.merge(symbols[i], symbols[next[i]]) {
                queue.push(.init(rank: merge.rank, position: i, merged: merge.merged))
            }
        }
        var kept = 0
        for i in 0..<n where alive[i] {
            symbols[kept] = symbols[i]
            kept += 1
        }
        symbols.removeLast(n - kept)
    }
}

/// Buffers one encode reuses across pieces.
struct BPEScratch {
    var symbols: [Int32] = []
    var ranks: [UInt32] = []
    var mergedTokens: [Int32] = []
}

/// A binary min-heap of pending merges ordered by (rank, position).
struct MergeQueue {
    struct Entry {
        var rank: UInt32
        var position: Int
        var merged: Int32

        func before(_ other: Entry) -> Bool {
            rank != other.rank ? rank < other.rank : position < other.position
        }
    }

    private var heap: [Entry] = []

    mutating func push(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].before(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < heap.count && heap[left].before(heap[smallest]) { smallest = left }
                if right < heap.count && heap[right].before(heap[smallest]) { smallest = right }
                guard smallest != parent else { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}
