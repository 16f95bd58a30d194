// Line charts as inline SVG: a metric against the optimizer step, one line per series (train and
// eval; or one per job when comparing), optional horizontal reference lines (PPO's target KL), axes
// with "nice" ticks (1, 2, 5 × 10ᵏ), axis titles with units, and a legend. Every point carries a
// <title> (the browser's tooltip: step and exact value), and the series groups carry data-series /
// data-points attributes so a test can check the page in the DOM.

import Foundation

struct ChartSeries {
    var label: String
    var points: [(x: Double, y: Double)]
    /// Index into the palette.
    var color: Int
    var dashed = false
    /// Draw a dot at every point (sparse series, e.g. evaluations).
    var markers = false
}

struct ReferenceLine {
    var label: String
    var y: Double
}

struct LineChart {
    var metric: String
    var title: String
    var xLabel = "step"
    var yLabel: String
    var series: [ChartSeries]
    var references: [ReferenceLine] = []

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
    static let width = 520.0, height = 280.0
    static let left = 62.0, right = 14.0, top = 30.0, bottom = 42.0
    /// Series longer than this are thinned to the min and max of each of this many buckets.
    static let maxPoints = 1200

    func svg() -> String {
        let all = series.flatMap(\.points).filter { $0.y.isFinite }
        let xs = all.map(\.x), ys = all.map(\.y) + references.map(\.y)
        let xRange = Self.range(xs.min() ?? 0, xs.max() ?? 1, pad: false)
        let yRange = Self.range(ys.min() ?? 0, ys.max() ?? 1, pad: true)
        let xTicks = Self.ticks(xRange, count: 6, integers: true), yTicks = Self.ticks(yRange, count: 5, integers: false)
        let (x0, x1) = (min(xRange.lowerBound, xTicks.first ?? xRange.lowerBound), max(xRange.upperBound, xTicks.last ?? xRange.upperBound))
        let (y0, y1) = (min(yRange.lowerBound, yTicks.first ?? yRange.lowerBound), max(yRange.upperBound, yTicks.last ?? yRange.upperBound))
        let plotW = Self.width - Self.left - Self.right, plotH = Self.height - Self.top - Self.bottom
        func px(_ x: Double) -> Double { Self.left + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * plotW }
        func py(_ y: Double) -> Double { Self.top + plotH - (y1 > y0 ? (y - y0) / (y1 - y0) : 0.5) * plotH }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }

        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(Self.width)) \(Int(Self.height))\" role=\"img\" "
            + "aria-label=\"\(xml(title))\" data-metric=\"\(xml(metric))\">\n"
        // Grid, ticks and tick labels.
        out += "<g class=\"grid\">"
        for t in yTicks {
            out += "<line x1=\"\(f(Self.left))\" x2=\"\(f(Self.width - Self.right))\" y1=\"\(f(py(t)))\" y2=\"\(f(py(t)))\"/>"
            out += "<text class=\"tick\" x=\"\(f(Self.left - 6))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(xml(Self.tickLabel(t, step: yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1)))</text>"
        }
        for t in xTicks {
            out += "<line x1=\"\(f(px(t)))\" x2=\"\(f(px(t)))\" y1=\"\(f(Self.top))\" y2=\"\(f(Self.top + plotH))\"/>"
            out += "<text class=\"tick\" x=\"\(f(px(t)))\" y=\"\(f(Self.top + plotH + 16))\" text-anchor=\"middle\">\(xml(Self.tickLabel(t, step: 1)))</text>"
        }
        out += "</g>\n"
        out += "<rect class=\"frame\" x=\"\(f(Self.left))\" y=\"\(f(Self.top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\"/>\n"
        // Axis titles.
        out += "<text class=\"axis\" x=\"\(f(Self.left + plotW / 2))\" y=\"\(f(Self.height - 6))\" text-anchor=\"middle\">\(xml(xLabel))</text>"
        out += "<text class=\"axis\" transform=\"translate(14 \(f(Self.top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">\(xml(yLabel))</text>\n"
        // Reference lines.
        for line in references where line.y.isFinite {
            out += "<g class=\"reference\" data-reference=\"\(xml(line.label))\" data-value=\"\(line.y)\">"
            out += "<line x1=\"\(f(Self.left))\" x2=\"\(f(Self.width - Self.right))\" y1=\"\(f(py(line.y)))\" y2=\"\(f(py(line.y)))\"/>"
            out += "<text x=\"\(f(Self.width - Self.right - 4))\" y=\"\(f(py(line.y) - 4))\" text-anchor=\"end\">\(xml(line.label))</text></g>\n"
        }
        // Series.
        for s in series {
            let color = Self.palette[s.color % Self.palette.count]
            let finite = s.points.filter { $0.y.isFinite }
            out += "<g class=\"series\" data-series=\"\(xml(s.label))\" data-points=\"\(s.points.count)\">"
            let drawn = Self.thinned(finite)
            if drawn.count > 1 {
                let d = drawn.enumerated().map { ($0.offset == 0 ? "M" : "L") + f(px($0.element.x)) + " " + f(py($0.element.y)) }.joined()
                out += "<path d=\"\(d)\" stroke=\"\(color)\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "")/>"
            }
            if s.markers || drawn.count == 1 {
                for p in finite {
                    out += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3\" fill=\"\(color)\">"
                        + "<title>\(xml(s.label)) step \(Int(p.x)): \(p.y)</title></circle>"
                }
            }
            out += "</g>\n"
        }
        // Legend, above the plot.
        var x = Self.left
        for s in series {
            let color = Self.palette[s.color % Self.palette.count]
            out += "<g class=\"legend\"><line x1=\"\(f(x))\" x2=\"\(f(x + 18))\" y1=\"14\" y2=\"14\" stroke=\"\(color)\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "")/>"
            out += "<text x=\"\(f(x + 22))\" y=\"18\">\(xml(s.label))</text></g>"
            x += 30 + 7 * Double(s.label.count)
        }
        out += "\n</svg>"
        return out
    }

    // MARK: - Scales

    static func range(_ lo: Double, _ hi: Double, pad: Bool) -> ClosedRange<Double> {
        if lo == hi {
            let d = lo == 0 ? 1 : abs(lo) * 0.1
            return (lo - d)...(hi + d)
        }
        let d = pad ? (hi - lo) * 0.05 : 0
        return (lo - d)...(hi + d)
    }

    /// About `count` ticks at multiples of 1, 2 or 5 × 10ᵏ covering `range`.
    static func ticks(_ range: ClosedRange<Double>, count: Int, integers: Bool) -> [Double] {
        let raw = (range.upperBound - range.lowerBound) / Double(max(1, count))
        let magnitude = pow(10, floor(log10(raw)))
        var step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        if integers { step = max(1, step.rounded()) }
        let first = (range.lowerBound / step).rounded(.down) * step
        var ticks: [Double] = [], t = first
        while t <= range.upperBound + step * 1e-9 {
            if t >= range.lowerBound - step * 1e-9 { ticks.append(abs(t) < step * 1e-9 ? 0 : t) }
            t += step
        }
        return ticks
    }

    /// A tick label with just the digits its spacing needs: 0.0015, 2.5e-05, 1200, 3.5.
    static func tickLabel(_ v: Double, step: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1e5 || abs(v) < 1e-3 { return String(format: "%.2g", v) }
        let decimals = max(0, Int(-floor(log10(abs(step)) + 1e-9)))
        return String(format: "%.\(min(decimals, 6))f", v)
    }

    /// At most `maxPoints` points: each bucket keeps its min and max, in step order.
    static func thinned(_ points: [(x: Double, y: Double)]) -> [(x: Double, y: Double)] {
        guard points.count > maxPoints else { return points }
        let buckets = maxPoints / 2, size = Double(points.count) / Double(buckets)
        var out: [(x: Double, y: Double)] = []
        for b in 0..<buckets {
            let slice = points[Int(Double(b) * size)..<min(points.count, Int(Double(b + 1) * size))]
            guard let lo = slice.indices.min(by: { points[$0].y < points[$1].y }),
                  let hi = slice.indices.max(by: { points[$0].y < points[$1].y }) else { continue }
            for i in Set([lo, hi]).sorted() { out.append(points[i]) }
        }
        if let last = points.last, out.last?.x != last.x { out.append(last) }
        return out
    }
}

/// Escapes text for XML/HTML content and attribute values.
func xml(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for c in text {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(c)
        }
    }
    return out
}
