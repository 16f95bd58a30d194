import Foundation

// Seeded pseudo-random generators. Never the system RNG (DESIGN §4): every draw in training comes
// from a named generator whose full state is a few integers, saved in checkpoints and restored.

/// SplitMix64 (Steele, Lea, Flood 2014): a 64-bit state, used to expand one seed into others and for
/// cheap throwaway streams (benchmarks, tests).
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256** (Blackman, Vigna 2018): the generator for training randomness (initialisation,
/// shuffling, sampling). Its whole state is `state`; restoring it resumes the exact stream.
public struct Xoshiro256: RandomNumberGenerator, Sendable, Equatable {
    public var state: (UInt64, UInt64, UInt64, UInt64)

    /// Seeds the four words from SplitMix64, as the authors recommend (never all zero).
    public init(seed: UInt64) {
        var mix = SplitMix64(seed: seed)
        state = (mix.next(), mix.next(), mix.next(), mix.next())
    }

    /// Restores a saved state.
    public init(state words: [UInt64]) {
        precondition(words.count == 4, "xoshiro256** state is 4 words")
        state = (words[0], words[1], words[2], words[3])
    }

    /// The state as 4 words, for checkpoints.
    public var words: [UInt64] { [state.0, state.1, state.2, state.3] }

    public mutating func next() -> UInt64 {
        let result = ((state.1 &* 5) << 7 | (state.1 &* 5) >> 57) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = state.3 << 45 | state.3 >> 19
        return result
    }

    public static func == (l: Xoshiro256, r: Xoshiro256) -> Bool { l.words == r.words }
}

extension RandomNumberGenerator {
    /// Uniform in [0, 1) with 24 random bits (every value exactly representable).
    @inlinable public mutating func nextFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inlinable public mutating func nextDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Standard normal by Box–Muller (one draw per call, two uniforms consumed: simple and
    /// reproducible; speed does not matter at initialisation).
    public mutating func nextGaussian() -> Float {
        let u1 = max(nextDouble(), 1e-300)
        let u2 = nextDouble()
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}
