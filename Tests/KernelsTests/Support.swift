// Shared test helpers: seeded inputs, Double conversions, central finite differences, comparisons.

import Kernels

/// Uniform values in [-scale, scale) from a seeded stream.
func randomArray(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { _ in (rng.nextFloat() * 2 - 1) * scale }
}

extension Array where Element == Float {
    var doubles: [Double] { map(Double.init) }
}

/// Central finite differences of a scalar function in Double: ∂f/∂x_i ≈ (f(x+h) − f(x−h)) / 2h,
/// for the listed coordinates (all of them by default).
func finiteDifferences(_ f: ([Double]) -> Double, at x: [Double], indices: [Int]? = nil, h: Double = 1e-5) -> [Double] {
    (indices ?? Array(x.indices)).map { i in
        var plus = x, minus = x
        plus[i] += h
        minus[i] -= h
        return (f(plus) - f(minus)) / (2 * h)
    }
}

/// The largest |a − b| / (|b| + floor): relative error with a floor for values near zero.
func worstRelativeError(_ a: [Float], _ b: [Double], floor: Double = 1e-2) -> Double {
    precondition(a.count == b.count, "compared arrays differ in length: \(a.count) vs \(b.count)")
    return zip(a, b).map { abs(Double($0) - $1) / (abs($1) + floor) }.max() ?? 0
}

/// Σ a·b in Double: the scalar "loss" L = Σ out·w used to probe a kernel's backward with dout = w.
func weightedSum(_ a: [Double], _ w: [Float]) -> Double {
    zip(a, w).reduce(0) { $0 + $1.0 * Double($1.1) }
}

/// Runs `body` with 1 and with 2 threads and returns both results, for bit-identity checks.
func atOneAndTwoThreads<R>(_ body: () -> R) -> (R, R) {
    (Parallel.$threads.withValue(1, operation: body), Parallel.$threads.withValue(2, operation: body))
}
