// The corpus of malformed manifests (Tests/JobsTests/Manifests/bad-*.yaml): each one is run with the
// built binary and must exit 2 with every `# expect:` line of its header on stderr, and `rlhf run`
// and `rlhf submit` must leave no trace: the whole folder (an earlier run's output folder included)
// byte-identical. The corpus refers to a few small files under Manifests/data/; two checkpoint files
// (a model of another shape, a corrupt file) are made here.

import Checkpoint
import Foundation
import Testing
import Transformer

@Suite struct BadManifestTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Manifests")

    static var files: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: corpus.path)) ?? []).filter { $0.hasPrefix("bad-") }.sorted()
    }

    /// The corpus copied into a scratch folder, with its checkpoint files.
    static func prepare() throws -> Scratch {
        let scratch = Scratch("corpus")
        try FileManager.default.removeItem(at: scratch.url)
        try FileManager.default.copyItem(at: corpus, to: scratch.url)
        let other = ModelConfig(context: 64, layers: 2, heads: 2, embedding: 32)
        let configJSON = String(decoding: try JSONEncoder().encode(other), as: UTF8.self)
        var file = CheckpointFile(metadata: CheckpointMetadata(stageKind: "sft", stageName: "sft", step: 1, totalSteps: 1,
                                                               configJSON: configJSON))
        file[tensor: "/model/wte"] = Tensor(shape: [2, 2], values: [1, 2, 3, 4])
        try file.write(to: scratch.url.appendingPathComponent("data/context64.h5"), durability: .pageCache)
        try Data("not a checkpoint".utf8).write(to: scratch.url.appendingPathComponent("data/corrupt.h5"))
        return scratch
    }

    @Test func theCorpusHasAtLeastTwentyManifests() {
        #expect(Self.files.count >= 20, "\(Self.files)")
    }

    @Test(arguments: files) func isRejectedWithItsMessages(_ name: String) throws {
        let scratch = try Self.prepare()
        let text = try String(contentsOfFile: scratch.path(name), encoding: .utf8)
        let expected = text.split(separator: "\n").filter { $0.hasPrefix("# expect: ") }.map { String($0.dropFirst(10)) }
        #expect(!expected.isEmpty, "\(name) has no '# expect:' line")
        // What an earlier run of the job would have left in its default output folder.
        let earlier = "Checkpoints/" + (name as NSString).deletingPathExtension
        scratch.write(earlier + "/state.json", #"{"state": "interrupted", "stage": "sft", "step": 1}"#)
        scratch.write(earlier + "/job.log", "job: 1 stage\n")
        scratch.write(earlier + "/sft/metrics.jsonl", #"{"step": 1, "split": "train", "loss": 5.5}"# + "\n")
        let before = treeListing(scratch.path, skipping: isCapturedOutput)

        let run = try rlhf(["run", name], in: scratch.path)
        #expect(run.status == 2, "\(name): exit \(run.status)\n\(run.stderr)")
        for line in expected {
            #expect(run.stderr.contains(line), "\(name): stderr lacks \"\(line)\":\n\(run.stderr)")
        }
        let submit = try rlhf(["submit", name, "--queue", "queue"], in: scratch.path)
        #expect(submit.status == 2, "\(name): submit exit \(submit.status)\n\(submit.stderr)")
        #expect(treeListing(scratch.path, skipping: isCapturedOutput) == before, "\(name): a file was created or changed")
    }
}
