// A batch of PPO rollouts: prompts, their sampled responses, and everything measured on them before
// the update (old log-probs, reference log-probs, values, scores, rewards, advantages, returns).
//
// Legend: B rollouts, T = longest prompt + response, q_b prompt length (BOS included), L_b response
// length (EOS included when sampled). Response token j of row b sits at position q_b + j and is
// predicted by the logits at position p = q_b − 1 + j: every per-token quantity is indexed by p.
//   tokens  : [B, T]  BOS prompt response, PAD after
//   targets : [B, T]  the token predicted at p for response positions, −1 elsewhere

import Kernels
import Transformer

struct Rollout {
    let rows: Int
    let width: Int
    var tokens: [Int32]
    var targets: [Int32]
    var queryLengths: [Int]
    var responses: [[Int32]]
    var stopped: [Bool]
    // Per response token, row by row ([B][L_b]).
    var oldLogp: [[Double]] = []
    var refLogp: [[Double]] = []
    var values: [[Double]] = []
    var entropy: [[Double]] = []
    var rewards: [[Double]] = []
    var advantages: [[Double]] = []
    var returns: [[Double]] = []
    var scores: [Double] = []

    init(prompts: [[Int32]], generation: Generation, pad: Int32) {
        self.init(prompts: prompts, responses: generation.tokens, stopped: generation.stopped, pad: pad)
    }

    /// Prompts and their responses (each with its EOS when it has one).
    init(prompts: [[Int32]], responses: [[Int32]], stopped: [Bool], pad: Int32) {
        rows = prompts.count
        queryLengths = prompts.map(\.count)
        self.responses = responses
        self.stopped = stopped
        width = zip(prompts, responses).map { $0.count + $1.count }.max() ?? 1
        tokens = Array(repeating: pad, count: rows * width)
        targets = Array(repeating: -1, count: rows * width)
        for b in 0..<rows {
            let sequence = prompts[b] + responses[b]
            for (t, token) in sequence.enumerated() { tokens[b * width + t] = token }
            for (j, token) in responses[b].enumerated() { targets[b * width + queryLengths[b] - 1 + j] = token }
        }
    }

    /// Position (row-major index into [B, T]) of the logits that predict response token j of row b.
    func position(_ b: Int, _ j: Int) -> Int { b * width + queryLengths[b] - 1 + j }

    /// Position of row b's last token (where the reward model reads its score).
    func lastTokenPosition(_ b: Int) -> Int { b * width + queryLengths[b] + responses[b].count - 1 }

    /// Per-token values of a [B, T] array at the response positions of every row.
    func gather(_ perPosition: [Float]) -> [[Double]] {
        (0..<rows).map { b in responses[b].indices.map { Double(perPosition[position(b, $0)]) } }
    }

    /// The rows `subset`, as their own [B', T] token and target arrays.
    func slice(_ subset: [Int]) -> (tokens: [Int32], targets: [Int32]) {
        (subset.flatMap { tokens[$0 * width..<($0 + 1) * width] }, subset.flatMap { targets[$0 * width..<($0 + 1) * width] })
    }

    var tokenCount: Int { responses.reduce(0) { $0 + $1.count } }
}
