// Bad files are refused with an error that names the file, the object and the reason: a flipped
// byte, truncation, a deleted dataset, another format or version, empty and non-HDF5 files, and
// shapes that do not match what the caller expects.

@testable import Checkpoint
import Foundation
import Testing

@Suite struct ValidationTests {
    let scratch = ScratchFolder()

    func goodFile(_ name: String = "good.h5") throws -> URL {
        let url = scratch.file(name)
        try save(smallCheckpoint(), url)
        return url
    }

    /// Reads `url`, expecting failure; checks the one-line description and returns the error.
    @discardableResult
    func refused(_ url: URL, expect: CheckpointExpectation = CheckpointExpectation(), says text: String,
                 sourceLocation: SourceLocation = #_sourceLocation) -> CheckpointError? {
        let error = expectCheckpointError({ _ = try CheckpointFile.read(from: url, expect: expect) }, sourceLocation: sourceLocation)
        #expect(error?.description.hasPrefix(url.path + ": ") == true, "\(String(describing: error))", sourceLocation: sourceLocation)
        #expect(error?.description.contains(text) == true, "\(String(describing: error)) lacks \(text)", sourceLocation: sourceLocation)
        #expect(error?.description.contains("\n") == false, sourceLocation: sourceLocation)
        #expect(error?.isInvalidFile == true, sourceLocation: sourceLocation)
        return error
    }

    @Test func flippedByteInsideDataIsNamedByDataset() throws {
        let url = try goodFile()
        try flipByteInside(marker: 1234.5678, of: url)
        let error = refused(url, says: "/model/wte: Fletcher-32 checksum mismatch: the data is corrupt")
        #expect(error?.reason == .checksumMismatch)
        #expect(error?.detail?.contains("Fletcher32") == true)  // HDF5's own words ride along
    }

    @Test func truncatedFile() throws {
        let url = try goodFile()
        let data = try Data(contentsOf: url)
        try data.prefix(data.count / 2).write(to: url)
        refused(url, says: "truncated file")
        try data.prefix(100).write(to: url)  // cut just after the superblock
        refused(url, says: "truncated file")
    }

    @Test func deletedDataset() throws {
        let url = try goodFile()
        try editWithHDF5(url) { try $0.unlink("/model/h.0.ln_1.weight") }
        refused(url, says: "/model/h.0.ln_1.weight: missing, but the file's tensor index lists it")
    }

    @Test func datasetNotInTheIndex() throws {
        let url = try goodFile()
        try editWithHDF5(url) { file in
            try [Float](repeating: 0, count: 4).withUnsafeBufferPointer {
                try file.writeFloats("/model/stray", shape: [4], chunk: [4], values: $0)
            }
        }
        refused(url, says: "/model/stray: present in the file but not listed in its tensor index")
    }

    @Test func datasetWithoutChecksum() throws {
        let url = try goodFile()
        try editWithHDF5(url) { file in
            try file.unlink("/model/h.0.ln_1.weight")
            try [Float](repeating: 0, count: 16).withUnsafeBufferPointer {
                try file.writeFloats("/model/h.0.ln_1.weight", shape: [16], chunk: nil, values: $0)  // contiguous: no filter
            }
        }
        refused(url, says: "/model/h.0.ln_1.weight: dataset has no Fletcher-32 checksum filter")
    }

    @Test func wrongFormatAndVersion() throws {
        let url = try goodFile()
        try editWithHDF5(url) { file in
            try file.deleteAttribute("format", on: "/")
            try file.writeAttribute("format", on: "/", .string("other-tool"))
        }
        refused(url, says: #"/@format: not a swift-rlhf checkpoint (format = "other-tool")"#)
        try editWithHDF5(url) { try $0.deleteAttribute("format", on: "/") }
        refused(url, says: "/@format: not a swift-rlhf checkpoint (no format attribute)")

        let versioned = try goodFile("versioned.h5")
        try editWithHDF5(versioned) { file in
            try file.deleteAttribute("format_version", on: "/")
            try file.writeAttribute("format_version", on: "/", .int64(2))
        }
        refused(versioned, says: "/@format_version: format_version 2 is not supported (this build reads version 1)")
    }

    @Test func emptyNonHDF5AndMissingFiles() throws {
        let empty = scratch.file("empty.h5")
        _ = FileManager.default.createFile(atPath: empty.path, contents: Data())
        refused(empty, says: "empty file (0 bytes)")
        let text = scratch.file("text.h5")
        try Data("not a checkpoint\n".utf8).write(to: text)
        refused(text, says: "not an HDF5 file")
        refused(scratch.file("absent.h5"), says: "no such file")
    }

    @Test func expectationsFromTheModelConfig() throws {
        let url = try goodFile()
        refused(url, expect: CheckpointExpectation(tensors: ["/model/wte": [65, 16]]),
                says: "/model/wte: shape [64, 16] does not match the expected [65, 16]")
        refused(url, expect: CheckpointExpectation(tensors: ["model/wpe": [8, 16]]),
                says: "/model/wpe: missing, but the caller's expectation lists it")
        refused(url, expect: CheckpointExpectation(stageKind: "ppo"), says: "/@stage_kind: wrong type: expected stage kind ppo, found sft")
        _ = try CheckpointFile.read(from: url, expect: CheckpointExpectation(stageKind: "sft", tensors: ["/model/wte": [64, 16]]))
    }

    @Test func hdf5MessagesNeverReachStderr() throws {
        // HDF5 prints its error stack per thread unless silenced on that thread: fail on a fresh
        // thread, with this process's stderr sent to a file, and find no HDF5 text there.
        let url = try goodFile()
        try flipByteInside(marker: 1234.5678, of: url)
        let captured = scratch.file("stderr.txt")
        _ = FileManager.default.createFile(atPath: captured.path, contents: nil)
        let savedStderr = dup(2)
        let capture = open(captured.path, O_WRONLY)
        dup2(capture, 2)
        let failed = Mutexed(false)
        let done = DispatchSemaphore(value: 0)
        Thread {
            failed.set((try? CheckpointFile.read(from: url)) == nil)
            done.signal()
        }.start()
        done.wait()
        dup2(savedStderr, 2)
        close(capture)
        close(savedStderr)
        #expect(failed.value)
        let text = try String(contentsOf: captured, encoding: .utf8)
        #expect(!text.contains("HDF5"), "HDF5 printed: \(text)")
    }
}
