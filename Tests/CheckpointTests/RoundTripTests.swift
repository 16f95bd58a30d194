// Writing then reading gives back exactly what was written: every tensor rank, every attribute type,
// the GPT-2 layout of DESIGN §3.3, and the helpers that build the tree.

@testable import Checkpoint
import Foundation
import Testing

@Suite struct RoundTripTests {
    @Test func everyRankAndAttributeType() throws {
        let scratch = ScratchFolder()
        var checkpoint = CheckpointFile(metadata: CheckpointMetadata(
            stageKind: "ppo", stageName: "ppo-1", step: 400, totalSteps: 600, createdUTC: "2025-11-25T12:00:00Z",
            configJSON: #"{"vocab":259,"layers":2}"#, manifestJSON: #"{"ppo":{"clip":0.2}}"#, codeVersion: "abc123"))
        let shapes: [String: [Int]] = ["r0": [], "r1": [7], "r2": [3, 5], "r3": [2, 3, 4], "r4": [2, 1, 3, 2], "empty": [4, 0]]
        for (name, shape) in shapes {
            checkpoint[tensor: "/extra/" + name] = Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { Float($0) * 0.5 - 3 })
        }
        checkpoint[tensor: "/extra/special"] = Tensor(shape: [4], values: [.infinity, -.infinity, -0.0, .leastNonzeroMagnitude])
        checkpoint[group: "metrics"].attributes = [
            "text": .string("héllo ✓"), "blank": .string(""), "config_json": .json(#"{"a":[1,2]}"#),
            "count": .int64(-42), "rate": .double(3e-4),
            "ints": .int64s([.min, 0, .max]), "words": .uint64s([0, 1, .max, 0x9E37_79B9_7F4A_7C15]),
            "floats": .floats([1.5, -2, .greatestFiniteMagnitude]), "doubles": .doubles([0.1, .pi]), "none": .doubles([]),
        ]
        checkpoint.root.attributes["seed"] = .int64(1234)
        checkpoint[group: "empty/nested"] = CheckpointGroup()

        try save(checkpoint, scratch.file("a.h5"))
        let loaded = try CheckpointFile.read(from: scratch.file("a.h5"))
        #expect(loaded == checkpoint)
        #expect(loaded[tensor: "/extra/r0"]?.shape == [])
        #expect(loaded[tensor: "/extra/special"]!.values[2].sign == .minus)
        let metrics = loaded[group: "metrics"].attributes
        #expect(metrics["text"]?.stringValue == "héllo ✓")
        #expect(metrics["config_json"]?.stringValue == #"{"a":[1,2]}"#)
        #expect(metrics["count"]?.int64Value == -42)
        #expect(metrics["count"]?.doubleValue == -42)
        #expect(metrics["rate"]?.doubleValue == 3e-4)
        #expect(metrics["rate"]?.int64Value == nil)
    }

    /// DESIGN §3.3 names and shapes, written out by hand for one layer as the oracle.
    @Test func gpt2LayoutAsHuggingFaceNamesIt() throws {
        let (V, T, C) = (259, 16, 8)
        let expected: [String: [Int]] = [
            "wte": [V, C], "wpe": [T, C],
            "h.0.ln_1.weight": [C], "h.0.ln_1.bias": [C],
            "h.0.attn.c_attn.weight": [C, 3 * C], "h.0.attn.c_attn.bias": [3 * C],
            "h.0.attn.c_proj.weight": [C, C], "h.0.attn.c_proj.bias": [C],
            "h.0.ln_2.weight": [C], "h.0.ln_2.bias": [C],
            "h.0.mlp.c_fc.weight": [C, 4 * C], "h.0.mlp.c_fc.bias": [4 * C],
            "h.0.mlp.c_proj.weight": [4 * C, C], "h.0.mlp.c_proj.bias": [C],
            "ln_f.weight": [C], "ln_f.bias": [C], "score.weight": [C], "score.bias": [1],
        ]
        var checkpoint = CheckpointFile(metadata: CheckpointMetadata(stageKind: "reward", stageName: "rm", step: 1, totalSteps: 1))
        var expectation = CheckpointExpectation(stageKind: "reward")
        for (name, shape) in expected {
            for network in ["/model/", "/critic/", "/optimizer/policy/m/", "/optimizer/policy/v/"] {
                checkpoint[tensor: network + name] = Tensor(shape: shape, values: [Float](repeating: 0.25, count: shape.reduce(1, *)))
                expectation.tensors[network + name] = shape
            }
        }
        let scratch = ScratchFolder()
        try save(checkpoint, scratch.file("rm.h5"))
        let loaded = try CheckpointFile.read(from: scratch.file("rm.h5"), expect: expectation)
        // Dots stay inside one dataset name: /model holds 18 datasets and no subgroups.
        #expect(loaded[group: "model"].tensors.count == expected.count)
        #expect(loaded[group: "model"].groups.isEmpty)
        #expect(loaded == checkpoint)
    }

    /// HDF5 serialises all calls; our lock keeps each file operation and its error capture together.
    @Test func concurrentWritersAndReaders() throws {
        let scratch = ScratchFolder()
        let failures = Mutexed([String]())
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            let url = scratch.file("c\(index % 4).h5")
            do {
                try save(smallCheckpoint(step: index), url)
                _ = try CheckpointFile.read(from: url)
                _ = try? CheckpointFile.read(from: scratch.file("absent-\(index).h5"))
            } catch {
                failures.update { $0.append("\(error)") }
            }
        }
        #expect(failures.value.isEmpty)
    }

    @Test func pathsAndGroups() {
        var group = CheckpointGroup()
        group[tensor: "optimizer/policy/m/h.0.ln_1.weight"] = Tensor(scalar: 1)
        group[group: "optimizer/policy"].attributes["step"] = .int64(3)
        #expect(group.groups["optimizer"]?.groups["policy"]?.groups["m"]?.tensors["h.0.ln_1.weight"] == Tensor(scalar: 1))
        #expect(group[group: "/optimizer/policy/"].attributes["step"] == .int64(3))
        #expect(group.allTensors.map(\.path) == ["/optimizer/policy/m/h.0.ln_1.weight"])
        #expect(group[tensor: "nothing/here"] == nil)
    }

    @Test func chunksAreAtMost64KiBOfWholeRows() {
        #expect(CheckpointFile.chunkShape([]) == nil)
        #expect(CheckpointFile.chunkShape([5, 0]) == nil)
        #expect(CheckpointFile.chunkShape([384]) == [384])
        #expect(CheckpointFile.chunkShape([384, 1152]) == [14, 1152])
        #expect(CheckpointFile.chunkShape([1 << 20]) == [1 << 14])
        #expect(CheckpointFile.chunkShape([3, 1 << 15]) == [1, 1 << 14])
        #expect(CheckpointFile.chunkShape([2, 3, 1 << 14]) == [1, 1, 1 << 14])
    }

    @Test func invalidNamesAndValuesAreRefusedBeforeWriting() throws {
        let scratch = ScratchFolder()
        let target = scratch.file("bad.h5")
        func refused(_ edit: (inout CheckpointFile) -> Void) -> String? {
            var checkpoint = smallCheckpoint()
            edit(&checkpoint)
            let error = expectCheckpointError { try save(checkpoint, target) }
            #expect(error?.isInvalidFile == false)
            #expect(!FileManager.default.fileExists(atPath: target.path))
            return error?.description
        }
        #expect(refused { $0.root.attributes["step"] = .int64(1) }?.contains("/@step: invalid name: reserved") == true)
        #expect(refused { $0[group: "metrics"].attributes["x_json"] = .json("{nope") }?.contains("/metrics@x_json: invalid value: not valid JSON") == true)
        #expect(refused { $0[group: "metrics"].attributes["x"] = .json("{}") }?.contains("must end in _json") == true)
        #expect(refused { $0[group: "metrics"].attributes["x_json"] = .string("{}") }?.contains("for .json values") == true)
        #expect(refused { $0.metadata.configJSON = "" }?.contains("/@config_json: invalid value") == true)
        #expect(refused { $0[group: "model"].tensors["a/b"] = Tensor(scalar: 0) }?.contains("contains '/'") == true)
        #expect(refused { $0[group: "model"].tensors[".."] = Tensor(scalar: 0) }?.contains("reserved by HDF5") == true)
        #expect(refused { $0[group: "model/wte"] = CheckpointGroup() }?.contains("both a group and a tensor") == true)
    }
}
