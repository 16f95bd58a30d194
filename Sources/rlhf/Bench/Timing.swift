// Timing for benchmarks: warm up, then repeat until both a minimum count and a minimum time are
// reached, and report the median (robust to the noise of shared machines).

import Foundation
import Kernels

struct Timing: Codable {
    /// Median seconds per run.
    var median: Double
    /// Fastest run, seconds.
    var best: Double
    /// Number of timed runs.
    var runs: Int
}

/// Times `body` after `warmups` untimed runs: at least `minRuns` timed runs and `minSeconds` in all.
func measure(warmups: Int = 3, minRuns: Int = 10, minSeconds: Double = 0.3, maxRuns: Int = 1000,
             _ body: () -> Void) -> Timing {
    for _ in 0..<warmups { body() }
    var samples: [Double] = []
    let start = DispatchTime.now().uptimeNanoseconds
    while samples.count < minRuns
        || (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < minSeconds && samples.count < maxRuns) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    samples.sort()
    let mid = samples.count / 2
    let median = samples.count % 2 == 1 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2
    return Timing(median: median, best: samples[0], runs: samples.count)
}

/// Prints one JSON object on a line (for `--json`), keys sorted so lines diff cleanly, labelled with
/// the instruction set the kernels were compiled for (`"isa": "avx2"`, …): ci/bench.sh runs every
/// workload for two builds and docs/performance.md has a table per instruction set.
func printJSONLine<T: Encodable>(_ value: T) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(LabelledRow(row: value)), let line = String(data: data, encoding: .utf8) else { return }
    print(line)
}

/// A benchmark row with the `isa` key added beside its own keys.
private struct LabelledRow<Row: Encodable>: Encodable {
    let row: Row
    private enum Key: String, CodingKey { case isa }
    func encode(to encoder: Encoder) throws {
        try row.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(kernelInstructionSet, forKey: .isa)
    }
}
