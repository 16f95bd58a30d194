// Prints a job's progress: on a terminal, one live line per stage (step/total, rate, ETA, key metrics)
// redrawn in place, with events on their own lines above it; otherwise the plain lines of
// `ProgressText` (the same as job.log). Answers `.stop` once SIGINT/SIGTERM has arrived.

import Foundation
import Jobs
import Stages

final class ProgressPrinter {
    let isTerminal = isatty(STDOUT_FILENO) != 0
    let text = ProgressText()
    /// Stop also when this returns true (a cancel request, for workers).
    let shouldStop: () -> Bool
    private var barShown = false
    private var lastDraw = Date.distantPast

    init(shouldStop: @escaping () -> Bool = { false }) { self.shouldStop = shouldStop }

    func handle(_ event: JobProgress) -> ProgressAction {
        if isTerminal, case let .step(stage, step, total, metrics, rate, _) = event {
            if step == total || Date().timeIntervalSince(lastDraw) > 0.2 {
                drawBar(stage: stage, step: step, total: total, metrics: metrics, rate: rate)
            }
        } else if let line = text.line(for: event) {
            clearBar()
            write(line + "\n")
        }
        return StopSignal.requested || shouldStop() ? .stop : .proceed
    }

    private func drawBar(stage: String, step: Int, total: Int, metrics: Metrics, rate: Double) {
        let width = 24
        let filled = total > 0 ? width * step / total : width
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let eta = ProgressText.eta(step: step, total: total, rate: rate)
        var line = "\(stage) \(bar) \(step)/\(total)  " + String(format: "%.2f step/s", rate) + "  ETA \(eta)"
        let key = ProgressText.keyMetrics(metrics)
        if !key.isEmpty { line += "  " + key }
        line = fitToTerminal(line)
        write("\r\u{1B}[2K" + line)
        barShown = true
        lastDraw = Date()
    }

    private func clearBar() {
        if barShown { write("\r\u{1B}[2K") }
        barShown = false
    }
}

/// `line` cut to the terminal's width: a wrapped line cannot be redrawn in place.
func fitToTerminal(_ line: String) -> String {
    var size = winsize()
    guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 10, line.count >= Int(size.ws_col) else { return line }
    return String(line.prefix(Int(size.ws_col) - 1))
}

/// Unbuffered standard output: lines appear at once in logs and pipes (a worker may be killed next).
func write(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}
