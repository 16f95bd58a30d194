// `rlhf inspect` end to end, against the built binary: the listing, --json, exit codes, and the one
// line a bad file gets.

@testable import Checkpoint
import Foundation
import Testing

@Suite struct InspectCommandTests {
    let scratch = ScratchFolder()

    func sample() throws -> URL {
        let url = scratch.file("sample.h5")
        let result = try rlhf("_checkpoint-sample", url.path)
        #expect(result.status == 0, "\(result.stderr)")
        return url
    }

    @Test func listsMetadataAttributesAndEveryTensor() throws {
        let url = try sample()
        let result = try rlhf("inspect", url.path)
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("format    swift-rlhf-checkpoint, version 1"))
        #expect(lines.contains { $0.hasPrefix("stamp     CRC-32C ") && $0.hasSuffix(" bytes verified") }, "\(lines)")
        #expect(lines.contains("stage     sample (kind reward), step 7 of 10"))
        #expect(lines.contains(#"config    {"vocab":259,"context":8,"layers":2,"heads":2,"embedding":8}"#))
        #expect(lines.contains("  /rng/init@state = [1, 11400714819323198485, 18446744073709551615, 42]"))
        #expect(lines.contains { $0.hasPrefix("  /model/h.1.attn.c_attn.weight") && $0.contains(" [8, 24] ") && $0.hasSuffix("fletcher32 verified") })
        #expect(lines.contains { $0.hasPrefix("  /extra/scalar") && $0.hasSuffix("none (scalar or empty)") })
        // 2 + 2×12 + 4 model tensors, ×3 (model, m, v), + 6 extra
        #expect(lines.filter { $0.hasPrefix("  /") && !$0.contains("@") }.count == 96)
    }

    @Test func jsonReport() throws {
        let url = try sample()
        let result = try rlhf("inspect", url.path, "--json")
        #expect(result.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["format"] as? String == "swift-rlhf-checkpoint")
        #expect(object["step"] as? Int == 7)
        #expect((object["config"] as? [String: Any])?["layers"] as? Int == 2)
        let tensors = try #require(object["tensors"] as? [[String: Any]])
        #expect(tensors.count == 96)
        let wte = try #require(tensors.first { $0["name"] as? String == "/model/wte" })
        #expect(wte["shape"] as? [Int] == [259, 8])
        #expect(wte["checksum"] as? String == "fletcher32 verified")
        let stamp = try #require(object["stamp"] as? [String: Any])
        #expect(stamp["verified"] as? Bool == true)
        #expect(stamp["bytes"] as? Int == (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int))
    }

    @Test func corruptFileExitsTwoWithOneLine() throws {
        let url = try sample()
        var checkpoint = try CheckpointFile.read(from: url)
        checkpoint[tensor: "/model/wte"] = Tensor(shape: [259, 8], values: [Float](repeating: 1234.5678, count: 259 * 8))
        try save(checkpoint, url)
        try flipByteInside(marker: 1234.5678, of: url)
        let result = try rlhf("inspect", url.path)
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("error: \(url.path): file checksum mismatch: CRC-32C "), "\(result.stderr)")
        #expect(result.stderr.contains("; /model/wte: Fletcher-32 checksum mismatch: the data is corrupt"), "\(result.stderr)")
        #expect(!result.stderr.contains("HDF5-DIAG"))
    }

    @Test func otherBadInputsExitTwo() throws {
        let text = scratch.file("notes.h5")
        try Data("hello\n".utf8).write(to: text)
        let notHDF5 = try rlhf("inspect", text.path)
        #expect(notHDF5.status == 2)
        #expect(notHDF5.stderr == "error: \(text.path): not an HDF5 file (no HDF5 signature)\n")

        let missing = try rlhf("inspect", scratch.file("absent.h5").path)
        #expect(missing.status == 2)
        #expect(missing.stderr == "error: \(scratch.file("absent.h5").path): no such file\n")

        let usage = try rlhf("inspect")
        #expect(usage.status == 2)
        #expect(usage.stderr.contains("Missing expected argument '<file>'"))

        let help = try rlhf("inspect", "--help")
        #expect(help.status == 0)
        #expect(help.stdout.contains("exits with code 2"))
    }
}
