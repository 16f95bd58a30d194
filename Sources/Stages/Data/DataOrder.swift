// The order in which training visits a dataset: a fresh seeded permutation every epoch, read by a
// cursor. Its whole state is four integers (DESIGN §4): a run resumed from a checkpoint that saved
// them draws exactly the batches the uninterrupted run would have drawn.
//
// Epoch e's permutation is a Fisher–Yates shuffle driven by xoshiro256** seeded from (seed, e), so it
// can be rebuilt from the state alone and never depends on how many draws came before. Batches run
// across epoch ends: the last batch of an epoch is completed with the first rows of the next one, so
// every row is seen once per epoch and no row is dropped. (A batch can repeat a row only when it is
// larger than the dataset.)

import Kernels

public struct DataOrder: Equatable, Sendable {
    /// What a checkpoint saves (`/data/<name>`): plain integers.
    public struct State: Codable, Equatable, Sendable {
        /// The shuffle seed.
        public var seed: UInt64
        /// Epochs completed; rows of epoch `epoch` are being drawn.
        public var epoch: Int
        /// How many rows of this epoch's permutation have been drawn.
        public var cursor: Int
        /// The dataset's row count, checked on restore: a changed dataset cannot resume exactly.
        public var count: Int

        public init(seed: UInt64, epoch: Int, cursor: Int, count: Int) {
            self.seed = seed
            self.epoch = epoch
            self.cursor = cursor
            self.count = count
        }
    }

    /// Why a saved state cannot be restored.
    public struct RestoreError: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    public private(set) var state: State
    private var permutation: [Int]  // [count] this epoch's order of row indices

    /// Starts at epoch 0, cursor 0.
    public init(count: Int, seed: UInt64) {
        precondition(count > 0, "a data order needs at least one row")
        state = State(seed: seed, epoch: 0, cursor: 0, count: count)
        permutation = Self.permutation(count: count, seed: seed, epoch: 0)
    }

    /// Resumes from a saved state, for a dataset that now has `datasetCount` rows.
    public init(restoring saved: State, datasetCount: Int) throws(RestoreError) {
        guard saved.count == datasetCount else {
            throw RestoreError(description: "the data order was saved for \(saved.count) rows but the dataset "
                               + "now has \(datasetCount): the data changed since the checkpoint")
        }
        guard saved.count > 0, saved.epoch >= 0, (0...saved.count).contains(saved.cursor) else {
            throw RestoreError(description: "invalid saved data order: epoch \(saved.epoch), cursor "
                               + "\(saved.cursor) of \(saved.count) rows")
        }
        state = saved
        permutation = Self.permutation(count: saved.count, seed: saved.seed, epoch: saved.epoch)
    }

    /// Epochs completed plus the fraction of this one, for progress reports.
    public var epochs: Double { Double(state.epoch) + Double(state.cursor) / Double(state.count) }

    /// The next `batchSize` row indices, moving into the next epoch (and its permutation) when this one
    /// runs out.
    public mutating func next(_ batchSize: Int) -> [Int] {
        precondition(batchSize > 0, "batch size must be positive")
        var indices: [Int] = []
        indices.reserveCapacity(batchSize)
        while indices.count < batchSize {
            if state.cursor == state.count {
                state.epoch += 1
                state.cursor = 0
                permutation = Self.permutation(count: state.count, seed: state.seed, epoch: state.epoch)
            }
            let take = min(batchSize - indices.count, state.count - state.cursor)
            indices += permutation[state.cursor..<(state.cursor + take)]
            state.cursor += take
        }
        return indices
    }

    /// Epoch `epoch`'s order: 0..<count shuffled by Fisher–Yates.
    static func permutation(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        // The epoch is hashed before mixing so that nearby (seed, epoch) pairs give unrelated streams.
        var epochHash = SplitMix64(seed: UInt64(epoch))
        var mixer = SplitMix64(seed: seed ^ epochHash.next())
        var generator = Xoshiro256(seed: mixer.next())
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) {
            order.swapAt(i, generator.uniformIndex(below: i + 1))
        }
        return order
    }
}

extension RandomNumberGenerator {
    /// Uniform in 0..<bound without bias (Lemire 2019: multiply, reject the few low products that would
    /// favour some values). Written out rather than `Int.random(in:using:)`, whose algorithm the
    /// standard library may change: data orders and the demo corpus must not change with the compiler.
    mutating func uniformIndex(below bound: Int) -> Int {
        precondition(bound > 0, "empty range")
        let bound = UInt64(bound)
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = next().multipliedFullWidth(by: bound) }
        }
        return Int(product.high)
    }
}
