// `rlhf report` on a job folder written here line by line (so the expected page follows from the
// lines, not from the code under test): a chart per changing metric with a train and an eval series
// of the right lengths, PPO's target KL as a reference line, constants listed, the summary's exact
// values, samples before and after with their scores, text escaped, and --compare's one line per job.
// CI opens the demo-like job's page in Chromium too (ci/check_report.py).

import Foundation
import Stages
import Testing
@testable import Jobs
@testable import Report

struct ReportTests {
    /// A PPO job at step 4 of 6: train lines 1...4, evaluations at 0 and 4, samples at 0 and 4.
    static func ppoJob(_ scratch: Scratch, name: String = "sweep-a", klScale: Double = 1) throws -> JobManifest {
        var spec = StageSpec(name: "ppo", kind: StageKind("ppo"), data: DataSpec(prompts: "p.jsonl", evalPrompts: "e.jsonl"), steps: 6)
        var ppo = PPOSettings()
        ppo.targetKL = 6
        spec.sections["ppo"] = ppo
        let job = JobManifest(name: name, output: scratch.path(name), model: .tiny, stages: [spec])
        let folder = JobFolder(job.output)
        try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
        try folder.store(job)
        let log = folder.metricsLog("ppo"), samples = folder.sampleLog("ppo")
        try log.append(MetricsEntry(step: 0, split: "eval", elapsedSeconds: 0, metrics: Metrics([("eval_kl", 0), ("eval_prompts", 8)])))
        for step in 1...4 {
            try log.append(MetricsEntry(step: step, split: "train", elapsedSeconds: Double(step),
                                        metrics: Metrics([("kl", klScale * Double(step)), ("beta", 0.1 + 0.01 * Double(step)), ("lr", 1e-5)])))
        }
        try log.append(MetricsEntry(step: 4, split: "eval", elapsedSeconds: 4, metrics: Metrics([("eval_kl", 3.25), ("eval_prompts", 8)])))
        for step in [0, 4] {
            for index in 0..<2 {
                let sample = Sample(index: index, seed: 9, prompt: "Review <b>\(index)</b> & more", response: "reply \(index) at \(step)",
                                    scores: Metrics([("reward", Double(step) + 0.5), ("kl", Double(step) / 2)]))
                try samples.append(SampleEntry(step: step, sample: sample))
            }
        }
        return job
    }

    @Test func aRunningPPOJobsPageHasItsChartsSummaryAndSamples() throws {
        let scratch = Scratch()
        let html = try HTMLReport.render([ReportedJob(job: try Self.ppoJob(scratch))])
        // Charts: kl (train 4 points, eval 2) with the target line, and beta; lr and eval_prompts are constant.
        #expect(html.components(separatedBy: "<figure class=\"chart\"").count - 1 == 2)
        #expect(html.contains(#"<figure class="chart" data-metric="kl">"#))
        #expect(html.contains(#"<g class="series" data-series="train" data-points="4">"#))
        #expect(html.contains(#"<g class="series" data-series="eval" data-points="2">"#))
        #expect(html.contains(#"<g class="reference" data-reference="target KL 6" data-value="6.0">"#))
        #expect(html.contains(#"data-metric="beta""#))
        #expect(html.contains(#"<span data-metric="lr" data-split="train" data-value="1e-05">"#))
        #expect(html.contains(#"<span data-metric="eval_prompts" data-split="eval" data-value="8.0">"#))
        // Summary: eval_kl 0 → 3.25 (steps 0 and 4), kl 1 → 4 (first and last training step).
        #expect(html.contains(#"data-step="0" data-value="0.0">0</td>"#))
        #expect(html.contains(#"data-step="4" data-value="3.25">3.2500</td>"#))
        #expect(html.contains(#"data-step="1" data-value="1.0">1</td>"#))
        // Samples: two rows, before (step 0) and after (step 4), text escaped.
        #expect(html.contains("before: step 0") && html.contains("after: step 4"))
        #expect(html.contains("Review &lt;b&gt;1&lt;/b&gt; &amp; more"))
        #expect(!html.contains("<b>1</b>"))
        #expect(html.contains(#"reward <b data-score="reward" data-value="4.5">4.5000</b>"#))
        // Self-contained: no script, no external reference.
        for external in ["<script", "<link", "src=", "url(", "@import", "https://"] { #expect(!html.contains(external)) }
        #expect(html.contains("running") || html.contains("pending") || html.contains("interrupted"))
    }

    @Test func compareDrawsOneLinePerJobAndHighlightsDifferingSettings() throws {
        let scratch = Scratch()
        let a = try Self.ppoJob(scratch, name: "sweep-a")
        var b = try Self.ppoJob(scratch, name: "sweep-b", klScale: 2)
        b.seed = 99
        try JobFolder(b.output).store(b)
        let html = try HTMLReport.render([ReportedJob(job: a), ReportedJob(job: b)])
        #expect(html.contains(#"data-series="sweep-a" data-points="4""#))
        #expect(html.contains(#"data-series="sweep-b" data-points="4""#))
        #expect(html.contains(#"data-series="sweep-b eval" data-points="2""#))
        #expect(html.contains(#"<tr class="differs"><th>seed</th><td>0</td><td>99</td></tr>"#))
        #expect(html.contains("after: step 4"))
    }

    @Test func theCommandsWriteThePageAndWatchStopsWhenTheJobIsDone() throws {
        let scratch = Scratch()
        let job = try Self.ppoJob(scratch)
        let report = try rlhf(["report", job.output, "--out", scratch.path("page.html")], in: scratch.path)
        #expect(report.status == 0 && report.stdout == scratch.path("page.html") + "\n", "\(report.stderr)")
        #expect(FileManager.default.fileExists(atPath: scratch.path("page.html")))
        // Without a terminal, --watch prints plain blocks; on a job that is not running it prints one and exits.
        try JobFolder(job.output).store(JobState(.done))
        let watch = try rlhf(["status", job.output, "--watch", "--interval", "0.1"], in: scratch.path)
        #expect(watch.status == 0 && watch.stdout.components(separatedBy: "sweep-a  done").count == 2, "\(watch.stdout)")
        #expect(!watch.stdout.contains("\u{1B}["))
    }

    @Test func ticksAreRoundNumbersCoveringTheRange() {
        #expect(LineChart.ticks(0...10, count: 5, integers: true) == [0, 2, 4, 6, 8, 10])
        #expect(LineChart.ticks(0.13...0.87, count: 5, integers: false).map { ($0 * 10).rounded() / 10 } == [0.2, 0.4, 0.6, 0.8])
        #expect(LineChart.tickLabel(0.0015, step: 0.0005) == "0.0015")
        #expect(LineChart.tickLabel(2e-5, step: 1e-5) == "2e-05")
        #expect(LineChart.thinned((0..<5000).map { (Double($0), Double($0 % 7)) }).count <= LineChart.maxPoints + 1)
    }
}

struct SampleLogTests {
    @Test func samplesAreCutBackWithTheMetricsOnResume() throws {
        let scratch = Scratch()
        let log = SampleLog(folder: scratch.url)
        for step in [0, 10, 20] {
            try log.append(SampleEntry(step: step, sample: Sample(index: 0, seed: 1, prompt: "p", response: "r\(step)", scores: Metrics([("kl", 1)]))))
        }
        #expect(try log.truncate(throughStep: 10) == 1)
        #expect(log.entries().map(\.response) == ["r0", "r10"])
    }
}
