// `rlhf report`: one self-contained HTML page (inline CSS and SVG; no script, font or request) per
// job, or per sweep with `--compare`. Per stage: state and progress; the before → after summary
// (evaluation at step 0 vs the last one; first vs last training step); a line chart of every logged
// metric that changes, train and eval series together (PPO: the target KL as a reference line);
// the metrics that stayed constant; the policy's samples on fixed held-out prompts before and after;
// the stage's settings (with --compare, which differ). The page layout is a Mustache template
// (ReportTemplate.swift); the values it shows are built here; the charts are SVGChart.swift's.
//
// Exact values ride along in data-* attributes (data-value, data-step, data-points) so that a test
// can compare the page with metrics.jsonl in the browser's DOM.

import Foundation
import Jobs
import Mustache
import Stages

public enum HTMLReport {
    /// The page for `jobs` (the first is the main one; the others are compared with it).
    public static func render(_ jobs: [ReportedJob], generated: Date = Date()) throws -> String {
        let template = try MustacheTemplate(string: ReportTemplate.page)
        return template.render(page(jobs, generated: generated))
    }

    /// Renders and writes the page atomically (a reader never sees half of it).
    public static func write(_ jobs: [ReportedJob], to url: URL) throws {
        try Data(try render(jobs).utf8).write(to: url, options: .atomic)
    }

    // MARK: - View values

    struct Page {
        var title: String
        var generated: String
        var comparing: Bool
        var jobs: [JobView]
        var jobSettings: [SettingRow]
        var stages: [StageView]
    }

    struct JobView {
        var name: String
        var output: String
        var state: String
        var message: String?
        var color: String
        var stages: String
    }

    struct StageView {
        var name: String
        var kind: String
        var progress: [ProgressView]
        var summaryJobs: [String]
        var summary: [SummaryRow]
        var hasSummary: Bool
        var charts: [ChartView]
        var constants: [ConstantView]
        var hasConstants: Bool
        var samples: SamplesView?
        var settings: [SettingRow]
    }

    struct ProgressView { var job: String; var state: String; var text: String }
    struct SummaryRow { var metric: String; var split: String; var label: String; var cells: [SummaryCell] }
    struct SummaryCell {
        var job: String
        var before: String?
        var beforeValue: String
        var beforeStep: Int
        var after: String
        var afterValue: String
        var afterStep: Int
        var change: String
    }
    struct ChartView { var metric: String; var title: String; var svg: String; var caption: String? }
    struct ConstantView { var metric: String; var split: String; var value: String; var exact: String }
    struct SamplesView { var beforeStep: Int; var afterHeaders: [String]; var rows: [SampleRow]; var hasAfter: Bool }
    struct SampleRow { var index: Int; var prompt: String; var before: SampleCell?; var afters: [SampleCell] }
    struct SampleCell { var response: String; var scores: [ScoreView] }
    struct ScoreView { var name: String; var value: String; var exact: String }
    struct SettingRow { var key: String; var values: [String]; var differs: Bool }

    static func page(_ jobs: [ReportedJob], generated: Date) -> Page {
        let main = jobs[0]
        let comparing = jobs.count > 1
        let stages = main.job.stages.map { spec in
            stageView(spec.name, jobs: jobs.compactMap { job in job.stages[spec.name].map { (job, $0) } }, comparing: comparing)
        }
        let jobViews = jobs.enumerated().map { i, job in
            JobView(name: job.job.name, output: job.status.output, state: job.status.state,
                    message: job.status.state == "done" ? nil : job.status.message,
                    color: LineChart.palette[i % LineChart.palette.count],
                    stages: job.status.stages.map { "\($0.name) \($0.state) \($0.step)/\($0.totalSteps)" }.joined(separator: " · "))
        }
        return Page(title: comparing ? "rlhf report: " + jobs.map(\.job.name).joined(separator: " vs ") : "rlhf report: \(main.job.name)",
                    generated: utc(generated), comparing: comparing, jobs: jobViews,
                    jobSettings: settingRows(jobs.map { jobLevelSettings($0.job) }), stages: stages)
    }

    static func stageView(_ name: String, jobs: [(job: ReportedJob, stage: ReportedStage)], comparing: Bool) -> StageView {
        let main = jobs[0].stage
        let progress = jobs.map { job, stage -> ProgressView in
            let status = job.status.stages.first { $0.name == name }
            let elapsed = stage.metrics.last?.elapsedSeconds ?? 0
            return ProgressView(job: job.job.name, state: status?.state ?? "pending",
                                text: "step \(status?.step ?? 0) of \(stage.spec.steps) · \(ProgressText.duration(elapsed)) of training")
        }

        // Summary: evaluation metrics (step 0 → last evaluation), then training metrics (first → last step).
        var summary: [SummaryRow] = []
        for split in ["eval", "train"] {
            let names = orderedUnion(jobs.map { $0.stage.names(split: split) })
            for metric in names {
                let cells = jobs.compactMap { job, stage -> SummaryCell? in
                    let points = stage.series(metric, split: split)
                    guard let last = points.last else { return nil }
                    let first = points.count > 1 ? points.first : nil
                    let before = split == "eval" ? first.flatMap { $0.x == 0 ? $0 : nil } : first
                    return SummaryCell(job: job.job.name, before: before.map { number($0.y) }, beforeValue: before.map { exact($0.y) } ?? "",
                                       beforeStep: Int(before?.x ?? -1), after: number(last.y), afterValue: exact(last.y),
                                       afterStep: Int(last.x), change: before.map { change(from: $0.y, to: last.y) } ?? "")
                }
                guard !cells.isEmpty else { continue }
                summary.append(SummaryRow(metric: metric, split: split, label: MetricCatalog.label(MetricCatalog.base(metric)).title, cells: cells))
            }
        }

        // Charts: one per metric base name (X with eval_X); metrics that never change are listed instead.
        var charts: [ChartView] = [], constants: [ConstantView] = []
        var metrics: [(split: String, name: String)] = []
        for split in ["train", "eval"] {
            metrics += orderedUnion(jobs.map { $0.stage.names(split: split) }).map { (split, $0) }
        }
        let bases = orderedUnion([metrics.map { MetricCatalog.base($0.name) }]).enumerated()
            .sorted { (ReportedStage.priority($0.element), $0.offset) < (ReportedStage.priority($1.element), $1.offset) }.map(\.element)
        for base in bases {
            var series: [ChartSeries] = []
            for (j, (job, stage)) in jobs.enumerated() {
                for (split, metric) in metrics where MetricCatalog.base(metric) == base {
                    let points = stage.series(metric, split: split)
                    guard !points.isEmpty else { continue }
                    series.append(ChartSeries(label: comparing ? job.job.name + (split == "eval" ? " eval" : "") : split, points: points,
                                              color: comparing ? j : (split == "eval" ? 1 : 0),
                                              dashed: comparing && split == "eval", markers: split == "eval" || points.count <= 2))
                }
            }
            // A series is constant when it has several points, all the same.
            let isConstant = { (s: ChartSeries) in s.points.count > 1 && Set(s.points.map { $0.y.bitPattern }).count == 1 }
            if series.isEmpty { continue }
            if series.allSatisfy(isConstant) {
                for (split, metric) in metrics where MetricCatalog.base(metric) == base {
                    if let value = main.series(metric, split: split).first?.y {
                        constants.append(ConstantView(metric: metric, split: split, value: number(value), exact: exact(value)))
                    }
                }
                continue
            }
            let (title, unit) = MetricCatalog.label(base)
            let chart = LineChart(metric: base, title: title, yLabel: unit.isEmpty ? title : "\(title) (\(unit))",
                                  series: series, references: referenceLines(base, spec: main.spec))
            charts.append(ChartView(metric: base, title: title, svg: chart.svg(), caption: caption(base, spec: main.spec)))
        }

        return StageView(name: name, kind: main.spec.kind.rawValue, progress: progress,
                         summaryJobs: comparing ? jobs.map(\.job.job.name) : [], summary: summary, hasSummary: !summary.isEmpty,
                         charts: charts, constants: constants, hasConstants: !constants.isEmpty,
                         samples: samplesView(jobs), settings: settingRows(jobs.map { stageSettings($0.stage.spec) }))
    }

    /// A number among the stage's settings, by its key in any section (`ppo.target_kl` → "target_kl").
    static func setting(_ key: String, of spec: StageSpec) -> Double? {
        leaves(encoded(spec), "").first { $0.0 == key || $0.0.hasSuffix("." + key) }.flatMap { ($0.1 as? NSNumber)?.doubleValue }
    }

    /// Horizontal reference lines a stage's settings give a chart: the target KL of adaptive β control.
    static func referenceLines(_ base: String, spec: StageSpec) -> [ReferenceLine] {
        if base == "kl", let target = setting("target_kl", of: spec) { return [ReferenceLine(label: "target KL \(number(target))", y: target)] }
        return []
    }

    static func caption(_ base: String, spec: StageSpec) -> String? {
        let target = setting("target_kl", of: spec)
        switch base {
        case "beta" where target != nil:
            return "Adaptive KL control: β is raised when the sequence KL exceeds target_kl = \(number(target!)) and lowered below it"
                + (setting("horizon", of: spec).map { " (horizon \(number($0)) rollouts)" } ?? "") + "."
        case "beta":
            return "Fixed β = kl_coef (no target_kl)."
        case "kl" where target != nil:
            return "Dashed: target_kl = \(number(target!))."
        default: return nil
        }
    }

    static func samplesView(_ jobs: [(job: ReportedJob, stage: ReportedStage)]) -> SamplesView? {
        let main = jobs[0].stage.samples
        guard let firstStep = main.map(\.step).min() else { return nil }
        let before = main.filter { $0.step == firstStep }
        var afters: [(header: String, entries: [SampleEntry])] = []
        for (job, stage) in jobs {
            guard let last = stage.samples.map(\.step).max(), last > firstStep || jobs.count > 1 else { continue }
            afters.append(((jobs.count > 1 ? job.job.name + ", " : "") + "after: step \(last)", stage.samples.filter { $0.step == last }))
        }
        let indices = Array(Set(before.map(\.index) + afters.flatMap { $0.entries.map(\.index) })).sorted()
        let rows = indices.map { index -> SampleRow in
            let b = before.first { $0.index == index }
            return SampleRow(index: index, prompt: (b ?? afters.lazy.compactMap { $0.entries.first { $0.index == index } }.first)?.prompt ?? "",
                             before: b.map(sampleCell),
                             afters: afters.map { after in after.entries.first { $0.index == index }.map(sampleCell) ?? SampleCell(response: "", scores: []) })
        }
        return SamplesView(beforeStep: firstStep, afterHeaders: afters.map(\.header), rows: rows, hasAfter: !afters.isEmpty)
    }

    static func sampleCell(_ entry: SampleEntry) -> SampleCell {
        let order = ["reward", "kl"]
        let names = entry.scores.keys.sorted { (order.firstIndex(of: $0) ?? 9, $0) < (order.firstIndex(of: $1) ?? 9, $1) }
        return SampleCell(response: entry.response, scores: names.map { ScoreView(name: $0, value: number(entry.scores[$0]!), exact: exact(entry.scores[$0]!)) })
    }

    // MARK: - Settings

    static func settingRows(_ perJob: [[(String, String)]]) -> [SettingRow] {
        let keys = orderedUnion(perJob.map { $0.map(\.0) })
        return keys.map { key in
            let values = perJob.map { pairs in pairs.first { $0.0 == key }?.1 ?? "—" }
            return SettingRow(key: key, values: values, differs: Set(values).count > 1)
        }
    }

    static func stageSettings(_ spec: StageSpec) -> [(String, String)] {
        leaves(encoded(spec), "").filter { $0.0 != "name" }.map { ($0.0, text($0.1)) }
    }

    static func jobLevelSettings(_ job: JobManifest) -> [(String, String)] {
        var object = (try? JSONSerialization.jsonObject(with: job.json())) as? [String: Any] ?? [:]
        object["stages"] = nil
        return leaves(object, "").map { ($0.0, text($0.1)) }
    }

    /// A value as the manifest's JSON has it.
    static func encoded<T: Encodable>(_ value: T) -> Any {
        (try? JSONEncoder().encode(value)).flatMap { try? JSONSerialization.jsonObject(with: $0) } ?? [:]
    }

    /// The leaf values of decoded JSON by key path (`ppo.target_kl`, `model.layers`).
    static func leaves(_ value: Any, _ path: String) -> [(String, Any)] {
        switch value {
        case let object as [String: Any]:
            return object.keys.sorted().flatMap { leaves(object[$0]!, path.isEmpty ? $0 : path + "." + $0) }
        case let array as [Any]:
            return array.enumerated().flatMap { leaves($1, path + "[\($0)]") }
        default:
            return [(path, value)]
        }
    }

    static func text(_ value: Any) -> String {
        switch value {
        case let number as NSNumber where String(cString: number.objCType) == "c":   // JSON true/false
            return number.boolValue ? "true" : "false"
        case let number as NSNumber: return ProgressText.number(number.doubleValue)
        case is NSNull: return "—"
        default: return "\(value)"
        }
    }

    // MARK: - Numbers

    static func number(_ x: Double) -> String { x.isFinite ? ProgressText.number(x) : "\(x)" }
    /// The shortest text that reads back as exactly `x` (what JSON holds).
    static func exact(_ x: Double) -> String { "\(x)" }

    static func change(from a: Double, to b: Double) -> String {
        guard a.isFinite, b.isFinite, a != b else { return a == b ? "=" : "" }
        let d = b - a
        return (d > 0 ? "+" : "−") + number(abs(d))
    }

    static func utc(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    static func orderedUnion(_ lists: [[String]]) -> [String] {
        var seen = Set<String>(), out: [String] = []
        for list in lists { for x in list where seen.insert(x).inserted { out.append(x) } }
        return out
    }
}
