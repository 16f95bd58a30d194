// Sequence log-probabilities of completions: Σ (or mean) of log p over the completion tokens and
// EOS (the loss mask of a batch), and the per-token gradient that a loss on them sends back.

import Transformer

/// Σ_t mask·logp per row of `batch` under `model` (forward pass included); `average` divides by the
/// row's completion length (IPO).
func sequenceLogProbs(model: CausalLM, batch: TokenBatch, average: Bool) -> [Double] {
    model.forward(tokens: batch.tokens, batch: batch.rows, time: batch.width)
    let logp = model.tokenLogProbs(targets: batch.targets).logp
    return (0..<batch.rows).map { row in
        let range = row * batch.width..<(row + 1) * batch.width
        let sum = zip(logp[range], batch.lossMask[range]).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        let count = batch.lossMask[range].reduce(0, +)
        return average ? sum / Double(max(1, count)) : sum
    }
}

/// ∂L/∂logp for every position, given ∂L/∂(sequence log-prob) per row.
func spreadOverCompletions(_ perRow: [Double], batch: TokenBatch, average: Bool) -> [Float] {
    var out = [Float](repeating: 0, count: batch.rows * batch.width)
    for row in 0..<batch.rows {
        let range = row * batch.width..<(row + 1) * batch.width
        let count = average ? Double(max(1, batch.lossMask[range].reduce(0, +))) : 1
        for i in range where batch.lossMask[i] != 0 { out[i] = Float(perRow[row] / count) * batch.lossMask[i] }
    }
    return out
}
