// The checkpointable data order: coverage per epoch, exact resume from a saved state, seeds.

import Foundation
import Stages
import Testing

@Suite struct DataOrderTests {
    @Test func everyEpochIsAPermutation() {
        var order = DataOrder(count: 10, seed: 7)
        let drawn = (0..<10).flatMap { _ in order.next(3) }  // 30 indices = 3 epochs, batches straddling ends
        for epoch in 0..<3 {
            #expect(drawn[(epoch * 10)..<(epoch * 10 + 10)].sorted() == Array(0..<10))
        }
        #expect(order.state == DataOrder.State(seed: 7, epoch: 2, cursor: 10, count: 10))
        #expect(drawn[0..<10] != drawn[10..<20])  // a new shuffle each epoch
    }

    @Test func batchLargerThanTheDataset() {
        var order = DataOrder(count: 3, seed: 1)
        let batch = order.next(7)
        #expect(batch.count == 7)
        #expect(batch[0..<3].sorted() == [0, 1, 2] && batch[3..<6].sorted() == [0, 1, 2])
        #expect(order.state.epoch == 2 && order.state.cursor == 1)
    }

    @Test(arguments: [0, 5, 20, 34])  // batches drawn before saving: mid-epoch, at its end, later
    func resumesExactlyFromASavedState(drawnBeforeSave: Int) throws {
        var uninterrupted = DataOrder(count: 100, seed: 1234)
        for _ in 0..<drawnBeforeSave { _ = uninterrupted.next(5) }
        let saved = try JSONEncoder().encode(uninterrupted.state)  // as a checkpoint would store it
        let state = try JSONDecoder().decode(DataOrder.State.self, from: saved)
        var resumed = try DataOrder(restoring: state, datasetCount: 100)
        #expect(resumed == uninterrupted)
        for _ in 0..<50 { #expect(resumed.next(5) == uninterrupted.next(5)) }
    }

    @Test func seedsGiveDifferentOrders() {
        var a = DataOrder(count: 50, seed: 1), b = DataOrder(count: 50, seed: 2), c = DataOrder(count: 50, seed: 1)
        let first = a.next(50)
        #expect(first != b.next(50))
        #expect(first == c.next(50))
        #expect(first != Array(0..<50))
    }

    /// The order for a seed must not change between versions of the code or compiler: a resumed run
    /// built with a newer toolchain must still draw the same batches. (Values checked against an
    /// independent Python transcription of SplitMix64, xoshiro256**, Lemire's bound and Fisher–Yates.)
    @Test func orderIsStableAcrossVersions() {
        var order = DataOrder(count: 10, seed: 42)
        #expect(order.next(10) == [3, 2, 7, 4, 5, 6, 8, 9, 1, 0])
        #expect(order.next(10) == [3, 2, 4, 1, 6, 0, 5, 8, 7, 9])
    }

    @Test func restoreRefusesAChangedDataset() {
        let state = DataOrder.State(seed: 3, epoch: 1, cursor: 4, count: 10)
        #expect(errorMessage { try DataOrder(restoring: state, datasetCount: 11) }
                == "the data order was saved for 10 rows but the dataset now has 11: the data changed since the checkpoint")
        let broken = DataOrder.State(seed: 3, epoch: 1, cursor: 12, count: 10)
        #expect(errorMessage { try DataOrder(restoring: broken, datasetCount: 10) }
                == "invalid saved data order: epoch 1, cursor 12 of 10 rows")
    }

    @Test func epochsReportProgress() {
        var order = DataOrder(count: 8, seed: 0)
        _ = order.next(12)
        #expect(order.epochs == 1.5)
    }
}
