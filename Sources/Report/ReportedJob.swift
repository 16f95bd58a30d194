// What a report reads of a job: its resolved manifest (job.json or the manifest), its status, and
// per stage the lines of metrics.jsonl and samples.jsonl — whatever is there, so a running job's
// report shows the steps done so far.

import Foundation
import Jobs
import Stages

public struct ReportedJob {
    public var job: JobManifest
    public var status: JobStatus
    public var stages: [String: ReportedStage]

    public init(job: JobManifest, status: JobStatus? = nil) {
        self.job = job
        self.status = status ?? JobStatus(job: job)
        let folder = JobFolder(job.output)
        stages = Dictionary(uniqueKeysWithValues: job.stages.map { spec in
            (spec.name, ReportedStage(spec: spec, metrics: folder.metricsLog(spec.name).entries(),
                                      samples: folder.sampleLog(spec.name).entries()))
        })
    }
}

public struct ReportedStage {
    public var spec: StageSpec
    public var metrics: [MetricsEntry]
    public var samples: [SampleEntry]

    /// (step, value) of a metric in one split, in file order, one value per step (the last logged).
    func series(_ name: String, split: String) -> [(x: Double, y: Double)] {
        var byStep: [Int: Double] = [:], order: [Int] = []
        for entry in metrics where entry.split == split {
            guard let value = entry.metrics[name] else { continue }
            if byStep[entry.step] == nil { order.append(entry.step) }
            byStep[entry.step] = value
        }
        return order.map { (Double($0), byStep[$0]!) }
    }

    /// Metric names per split in a reading order: the key ones first, then alphabetical.
    func names(split: String) -> [String] {
        let all = Set(metrics.filter { $0.split == split }.flatMap { $0.metrics.keys })
        return all.sorted { a, b in
            let ra = Self.priority(MetricCatalog.base(a)), rb = Self.priority(MetricCatalog.base(b))
            return ra != rb ? ra < rb : a < b
        }
    }

    static func priority(_ base: String) -> Int {
        ProgressText.keyMetricNames.firstIndex(of: base) ?? ProgressText.keyMetricNames.count
    }
}
