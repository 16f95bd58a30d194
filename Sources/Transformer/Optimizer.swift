// AdamW over a parameter arena: moments mirror the arena, weight decay applies to matrices only
// (GPT-2 / nanoGPT practice: biases, LayerNorm gains and the score bias are not decayed), and global
// gradient-norm clipping. The step counter is state: it is saved and restored with the moments.

import Kernels

public final class AdamW {
    public let m: Arena
    public let v: Arena
    /// Updates taken so far (the t of the bias correction).
    public var step: Int = 0
    public var settings: AdamWSettings

    public init(layout: ParameterLayout, settings: AdamWSettings = AdamWSettings()) {
        m = Arena(layout)
        v = Arena(layout)
        self.settings = settings
    }

    /// One AdamW update of `parameters` from `gradients`.
    public func update(_ parameters: Arena, gradients: Arena, learningRate: Float, weightDecay: Float) {
        precondition(parameters.layout == m.layout && gradients.layout == m.layout, "optimizer/arena layout mismatch")
        step += 1
        for view in m.layout.views {
            adamWUpdate(params: parameters.base + view.offset, m: m.base + view.offset, v: v.base + view.offset,
                        grads: gradients.base + view.offset, count: view.count, step: step,
                        learningRate: learningRate, weightDecay: view.decays ? weightDecay : 0, settings: settings)
        }
    }
}

/// The global L2 norm of all gradients; when it exceeds `maxNorm` (> 0) every gradient is scaled
/// down to that norm. Returns the norm before clipping (what training logs report).
@discardableResult
public func clipGradientNorm(_ gradients: Arena, maxNorm: Float) -> Float {
    let norm = Float(sumOfSquares(gradients.base, count: gradients.count).squareRoot())
    if maxNorm > 0, norm > maxNorm {
        scale(gradients.base, count: gradients.count, by: maxNorm / (norm + 1e-6))
    }
    return norm
}
