// Sampling the next token from logits, and batched generation on top of the KV cache.
//
// The returned log-probability of a sampled token is taken under softmax(logits / temperature), the
// full distribution before top-k / top-p filtering: that is the policy PPO optimises (as TRL does),
// while the filters only shape which tokens get drawn.

import Foundation
import Kernels

public struct SamplingSettings: Codable, Equatable, Sendable {
    /// Divides the logits; 0 means greedy (argmax).
    public var temperature: Float
    /// Keep only the k most likely tokens; 0 = off.
    public var topK: Int
    /// Keep the smallest set of most likely tokens whose probability reaches p; 1 = off.
    public var topP: Float

    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
    }
}

/// Draws one token from a row of logits with `rng`. Deterministic for a given generator state:
/// probabilities are computed in Double in a fixed order, and one uniform is consumed per call.
public func sampleToken(logits: ArraySlice<Float>, settings: SamplingSettings, rng: inout Xoshiro256) -> (token: Int32, logprob: Float) {
    let t = settings.temperature > 0 ? Double(settings.temperature) : 1
    let scaled = logits.map { Double($0) / t }
    let mx = scaled.max()!
    let lse = mx + log(scaled.reduce(0) { $0 + exp($1 - mx) })
    func result(_ index: Int) -> (Int32, Float) { (Int32(index), Float(scaled[index] - lse)) }
    if settings.temperature <= 0 { return result(scaled.indices.max { scaled[$0] < scaled[$1] }!) }

    var candidates = Array(scaled.indices)
    if settings.topK > 0 || settings.topP < 1 {
        candidates.sort { scaled[$0] > scaled[$1] || (scaled[$0] == scaled[$1] && $0 < $1) }
        if settings.topK > 0 { candidates = Array(candidates.prefix(settings.topK)) }
        if settings.topP < 1 {
            var cumulative = 0.0, keep = 0
            for index in candidates {
                cumulative += exp(scaled[index] - lse)
                keep += 1
                if cumulative >= Double(settings.topP) { break }
            }
            candidates = Array(candidates.prefix(keep))
        }
    }
    let weights = candidates.map { exp(scaled[$0] - mx) }
    var u = rng.nextDouble() * weights.reduce(0, +)
    for (index, weight) in zip(candidates, weights) {
        u -= weight
        if u < 0 { return result(index) }
    }
    return result(candidates.last!)
}

/// The continuation of each prompt.
public struct Generation: Equatable, Sendable {
    /// Generated tokens per row, including the stop token when one was produced.
    public var tokens: [[Int32]]
    /// Log-probability of each generated token under the sampling distribution (before filters).
    public var logprobs: [[Float]]
    /// Whether the row ended with the stop token (false: it hit the length limit).
    public var stopped: [Bool]
}

extension CausalLM {
    /// Samples up to `maxNewTokens` tokens after each prompt, batched, with a KV cache. A row stops
    /// at `stopToken`; the others go on until all have stopped or the limit is reached.
    public func generate(prompts: [[Int32]], maxNewTokens: Int, settings: SamplingSettings,
                         stopToken: Int32?, rng: inout Xoshiro256) -> Generation {
        let b = prompts.count, v = config.vocab
        var out = Generation(tokens: Array(repeating: [], count: b), logprobs: Array(repeating: [], count: b),
                             stopped: Array(repeating: false, count: b))
        guard b > 0, maxNewTokens > 0 else { return out }
        let longest = prompts.map(\.count).max()!
        precondition(longest + maxNewTokens <= config.context + 1, "prompt + new tokens exceed the context \(config.context)")
        let decoder = KVCacheDecoder(model: self, batch: b, capacity: min(config.context, longest + maxNewTokens))
        var logits = decoder.prefill(prompts: prompts)
        for step in 0..<maxNewTokens {
            var next = [Int32](repeating: 0, count: b)
            for row in 0..<b where !out.stopped[row] {
                let (token, logprob) = sampleToken(logits: logits[row * v..<(row + 1) * v], settings: settings, rng: &rng)
                next[row] = token
                out.tokens[row].append(token)
                out.logprobs[row].append(logprob)
                if token == stopToken { out.stopped[row] = true }
            }
            if out.stopped.allSatisfy({ $0 }) || step == maxNewTokens - 1 { break }
            logits = decoder.step(tokens: next)
        }
        return out
    }
}
