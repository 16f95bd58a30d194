// A stage's checkpoint folder: stale temporaries, retention, and the newest good checkpoint.

@testable import Checkpoint
import Foundation
import Testing

@Suite struct FolderTests {
    let scratch = ScratchFolder()
    var folder: CheckpointFolder { CheckpointFolder(scratch.url) }

    @Test func namesSortByStep() {
        #expect(folder.stepFile(400).lastPathComponent == "step-000400.h5")
        #expect(folder.stepFile(12_345_678).lastPathComponent == "step-12345678.h5")
        #expect(CheckpointFolder.step(ofFileName: "step-000400.h5") == 400)
        for name in ["step-000400.h5.tmp", "step-.h5", "step-12a.h5", "final.h5", "step-1.h5x"] {
            #expect(CheckpointFolder.step(ofFileName: name) == nil, "\(name)")
        }
    }

    @Test func leftoverTemporariesAreNeverCheckpointsAndAreRemoved() throws {
        try save(smallCheckpoint(step: 1), folder.stepFile(1))
        try Data("half a checkpoint".utf8).write(to: scratch.file("step-000002.h5.tmp"))
        try Data().write(to: scratch.file("final.h5.tmp"))
        try Data("keep me".utf8).write(to: scratch.file("notes.txt"))

        #expect(try folder.checkpoints() == [folder.stepFile(1)])
        #expect(try folder.latestGood()?.url == folder.stepFile(1))
        let removed = try folder.removeStaleTemporaries().map(\.lastPathComponent).sorted()
        #expect(removed == ["final.h5.tmp", "step-000002.h5.tmp"])
        let left = try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).sorted()
        #expect(left == ["notes.txt", "step-000001.h5"])
    }

    @Test func commitReplacesAStaleTemporaryAndLeavesNone() throws {
        try Data("stale".utf8).write(to: scratch.file("final.h5.tmp"))
        try save(smallCheckpoint(step: 3), folder.finalFile)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path) == ["final.h5"])
        #expect(try CheckpointFile.read(from: folder.finalFile).metadata.step == 3)
    }

    @Test func commitCreatesTheFolderAndSyncs() throws {
        let nested = CheckpointFolder(scratch.url.appendingPathComponent("job/sft"))
        try smallCheckpoint(step: 5).write(to: nested.stepFile(5))  // the default: full fsync protocol
        #expect(try CheckpointFile.read(from: nested.stepFile(5)).metadata.step == 5)
    }

    @Test func retentionKeepsTheNewestStepFilesAndFinal() throws {
        for step in [1, 2, 3, 10, 20] { try save(smallCheckpoint(step: step), folder.stepFile(step)) }
        try save(smallCheckpoint(step: 20), folder.finalFile)
        try Data().write(to: scratch.file("other.h5"))
        #expect(try folder.prune(keep: 0).isEmpty)
        let removed = try folder.prune(keep: 2).map(\.lastPathComponent).sorted()
        #expect(removed == ["step-000001.h5", "step-000002.h5", "step-000003.h5"])
        let left = try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).sorted()
        #expect(left == ["final.h5", "other.h5", "step-000010.h5", "step-000020.h5"])
    }

    @Test func latestGoodSkipsBadFilesWithAWarningEach() throws {
        try save(smallCheckpoint(step: 2), folder.stepFile(2))
        try save(smallCheckpoint(step: 3), folder.stepFile(3))
        try save(smallCheckpoint(step: 4), folder.finalFile)
        try flipByteInside(marker: 1234.5678, of: folder.finalFile)
        let data = try Data(contentsOf: folder.stepFile(3))
        try data.prefix(data.count / 3).write(to: folder.stepFile(3))

        var warnings: [String] = []
        let found = try folder.latestGood { warnings.append($0.description) }
        #expect(found?.url == folder.stepFile(2))
        #expect(found?.checkpoint.metadata.step == 2)
        #expect(warnings.count == 2)
        #expect(warnings.first?.hasPrefix(folder.finalFile.path + ": file checksum mismatch: CRC-32C ") == true, "\(warnings)")
        #expect(warnings.first?.contains("; /model/wte: Fletcher-32 checksum mismatch") == true, "\(warnings)")
        #expect(warnings.last?.hasPrefix(folder.stepFile(3).path + ": file checksum mismatch: it is ") == true, "\(warnings)")
        #expect(warnings.last?.contains("; truncated file") == true, "\(warnings)")
    }

    @Test func emptyOrAbsentFolderHasNoCheckpoint() throws {
        #expect(try folder.latestGood() == nil)
        #expect(try CheckpointFolder(scratch.url.appendingPathComponent("absent")).latestGood() == nil)
    }
}
