// The stage-kind declarations drive the manifest: its schema, its validation, the path resolver and
// the docs. These tests hold the generated docs to the declarations and check that what a declaration
// says is what a manifest gets.

import Foundation
@testable import Jobs
import Stages
import Testing

@Suite struct StageKindTests {
    static let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../docs/manifest.md").standardizedFileURL

    @Test func docsHoldExactlyTheGeneratedTables() throws {
        let text = try String(contentsOf: Self.docs, encoding: .utf8)
        let begin = try #require(text.range(of: ManifestDocs.begin + "\n"), "docs/manifest.md lacks the generated block's opening line")
        let end = try #require(text.range(of: ManifestDocs.end, range: begin.upperBound..<text.endIndex))
        #expect(String(text[begin.upperBound..<end.lowerBound]) == ManifestDocs.markdown(),
                "docs/manifest.md is out of date: regenerate its block with `rlhf kinds --markdown`")
    }

    @Test func everyKindIsInTheSchemaAndTheDocs() {
        let markdown = ManifestDocs.markdown()
        for declaration in StageKinds.all {
            #expect(markdown.contains("| `\(declaration.kind.rawValue)` |"))
            if let section = declaration.section {
                #expect(SchemaSection.stage.allowed.contains(section))
                #expect(markdown.contains("### `\(section):`"))
            }
            for use in declaration.sources { #expect(SchemaSection.stage.allowed.contains(use.role.rawValue)) }
        }
        #expect(TolerantDecoder.enumValues["kind"] == StageKinds.names)
        #expect(TolerantDecoder.enumValues["optimizer.schedule"] == ["constant", "linear", "cosine"])
        #expect(TolerantDecoder.enumValues["ppo.kl_estimator"] == ["k1", "k3"])
    }

    /// Messages name kinds with their article, read as initialisms or words, without a list of names.
    @Test func kindsTakeTheArticleTheyAreReadWith() {
        let articles = ["sft": "an sft", "reward": "a reward", "ppo": "a ppo", "dpo": "a dpo", "distill": "a distill",
                        "grpo": "a grpo", "rloo": "an rloo", "orpo": "an orpo", "kto": "a kto", "nca": "an nca"]
        for (name, expected) in articles { #expect(StageKind(name).withArticle == expected) }
    }

    /// A stage entry decodes into its kind's settings, encodes back to the same keys, and a section of
    /// another kind is kept so validation can name it.
    @Test func sectionsRoundTripThroughTheKeyTables() throws {
        let json = #"""
            {"name": "p", "kind": "ppo", "steps": 3, "policy": "sft", "reward": "rm", "data": {"prompts": "/p.jsonl"},
             "ppo": {"clip": 0.3, "kl_estimator": "k3"}, "dpo": {"beta": 0.2}}
            """#
        let spec = try JSONDecoder().decode(StageSpec.self, from: Data(json.utf8))
        #expect(spec.kind == .ppo && spec.sources[.policy] == "sft" && spec.data[.prompts] == "/p.jsonl")
        #expect(spec.settings(PPOSettings.self).clip == 0.3 && spec.settings(PPOSettings.self).klEstimator == .k3)
        #expect(spec.settings(PPOSettings.self).epochs == 4)
        #expect(spec.sections.keys.sorted() == ["dpo", "ppo"])
        let again = try JSONDecoder().decode(StageSpec.self, from: try JSONEncoder().encode(spec))
        #expect(again == spec)
        let problems = spec.problems(model: .tiny)
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test func rangesComeFromTheKeyTables() {
        var spec = StageSpec(name: "p", kind: .ppo, data: DataSpec(prompts: "/p.jsonl"), steps: 1)
        var ppo = PPOSettings()
        ppo.clip = 1.5
        ppo.responseLength = 200
        spec[section: PPOSettings.self] = ppo
        spec.optimizer.eps = 0
        let problems = spec.problems(model: .tiny).map { "\($0.key): \($0.message)" }
        #expect(problems == ["optimizer.eps: must be > 0", "ppo.clip: must be in (0, 1)",
                             "ppo.response_length: must be below the model's context (128)"])
    }
}
