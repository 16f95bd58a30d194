// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay and bias correction.
//   m ← β1·m + (1−β1)·g          v ← β2·v + (1−β2)·g²
//   p ← p − lr·( m/(1−β1^t) / (√(v/(1−β2^t)) + ε)  +  wd·p )
// `step` is t, counted from 1. Elementwise, so any chunking gives identical results.

public struct AdamWSettings: Sendable, Equatable, Codable {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.95
    public var epsilon: Float = 1e-8
    public init(beta1: Float = 0.9, beta2: Float = 0.95, epsilon: Float = 1e-8) {
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
    }
}

public func adamWUpdate(
    params: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
    grads: UnsafePointer<Float>, count: Int,
    step: Int, learningRate lr: Float, weightDecay wd: Float, settings s: AdamWSettings
) {
    // Bias corrections in Double: β^t for large t is where Float loses digits first.
    let c1 = Float(1 / (1 - _pow(Double(s.beta1), step)))
    let c2 = Float(1 / (1 - _pow(Double(s.beta2), step)))
    Parallel.forEachChunk((count + elementwiseChunk - 1) / elementwiseChunk, flops: 12 * count) { chunk in
        let begin = chunk * elementwiseChunk, end = min(count, begin + elementwiseChunk)
        @inline(__always) func update(_ i: Int, _ n: Int) {
            let g = load(grads + i, n)
            let mi = s.beta1 * load(m + i, n) + (1 - s.beta1) * g
            let vi = s.beta2 * load(v + i, n) + (1 - s.beta2) * g * g
            let p = load(params + i, n)
            let step = (mi * c1) / ((vi * c2).squareRoot() + s.epsilon) + wd * p
            store(mi, m + i, n)
            store(vi, v + i, n)
            store(p - lr * step, params + i, n)
        }
        var i = begin
        while i + lanes <= end { update(i, lanes); i += lanes }
        if i < end { update(i, end - i) }
    }
}

/// x^n by repeated squaring: exact and libm-free, so every platform agrees.
func _pow(_ x: Double, _ n: Int) -> Double {
    var result = 1.0, base = x, e = n
    while e > 0 {
        if e & 1 == 1 { result *= base }
        base *= base
        e >>= 1
    }
    return result
}
