// A job refused for bad input leaves no trace (docs/jobs.md): every malformed JSONL file of the corpus
// (Manifests/data/bad-jsonl/), given to `rlhf run` and `rlhf submit`, exits 2 naming the file, and
// leaves the job's output folder and the queue byte-identical. The malformed manifests get the same
// check in BadManifestTests. "Byte-identical" is a listing of every file and folder with its bytes.

import Foundation
import Testing

/// Every file and folder below `root` (hidden ones included) by relative path, with a file's bytes
/// (nil for a folder). Two equal listings are two byte-identical trees; a missing root lists as [:].
func treeListing(_ root: String, skipping skip: (String) -> Bool = { _ in false }) -> [String: Data?] {
    var listing: [String: Data?] = [:]
    guard let walk = FileManager.default.enumerator(atPath: root) else { return listing }
    while let relative = walk.nextObject() as? String {
        if skip(relative) { continue }
        let path = (root as NSString).appendingPathComponent(relative)
        var isFolder: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
        listing[relative] = isFolder.boolValue ? Data?.none : FileManager.default.contents(atPath: path)
    }
    return listing
}

/// The output files `RLHFProcess` writes into the folder it runs in: not the job's.
func isCapturedOutput(_ relative: String) -> Bool {
    let name = (relative as NSString).lastPathComponent
    return name.hasPrefix(".stdout-") || name.hasPrefix(".stderr-")
}

@Suite struct NoTraceTests {
    static let badJSONL = BadManifestTests.corpus.appendingPathComponent("data/bad-jsonl")

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: badJSONL.path)) ?? []).filter { $0.hasSuffix(".jsonl") }.sorted()
    }

    static func job(output: String) -> String {
        """
        name: no-trace
        seed: 3
        output: \(output)
        model: { vocab: byte, context: 32, layers: 1, heads: 2, embedding: 16 }
        stages:
          - { name: sft, kind: sft, data: { train: data/sft.jsonl }, steps: 2, batch: 2, checkpoint_every: 1 }
        """
    }

    @Test func theCorpusHasFifteenBadJSONLFiles() {
        #expect(Self.cases.count >= 15, "\(Self.cases)")
    }

    /// A finished job whose training data then goes bad, one corpus file at a time.
    @Test func badDataLeavesTheJobFolderAndTheQueueByteIdentical() throws {
        let scratch = Scratch()
        try FileManager.default.createDirectory(atPath: scratch.path("data"), withIntermediateDirectories: true)
        let data = scratch.path("data/sft.jsonl")
        try FileManager.default.copyItem(atPath: demoData + "/sft.jsonl", toPath: data)
        scratch.write("job.yaml", Self.job(output: "out"))
        scratch.write("fresh.yaml", Self.job(output: "fresh"))
        let first = try rlhf(["run", "job.yaml", "--threads", "1"], in: scratch.path)
        #expect(first.status == 0, "\(first.stderr)")
        let queued = try rlhf(["submit", "job.yaml", "--queue", "q"], in: scratch.path)
        #expect(queued.status == 0, "\(queued.stderr)")
        func outputs() -> [String: [String: Data?]] {
            ["out": treeListing(scratch.path("out")), "q": treeListing(scratch.path("q")), "fresh": treeListing(scratch.path("fresh"))]
        }
        let before = outputs()
        #expect(before["out"]?["sft/final.h5"] != nil && before["q"]?.isEmpty == false)

        for name in Self.cases {
            try FileManager.default.removeItem(atPath: data)
            try FileManager.default.copyItem(atPath: Self.badJSONL.appendingPathComponent(name).path, toPath: data)
            for arguments in [["run", "job.yaml"], ["run", "fresh.yaml"], ["submit", "job.yaml", "--queue", "q"]] {
                let run = try rlhf(arguments, in: scratch.path)
                #expect(run.status == 2, "\(name), \(arguments): exit \(run.status)\n\(run.stderr)")
                #expect(run.stderr.contains("stages[0].data.train: \(data)"), "\(name), \(arguments):\n\(run.stderr)")
            }
            #expect(outputs() == before, "\(name): the output folder or the queue changed")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.path("fresh")))
    }
}
