// Finite-difference checks of a stage objective against the network's backward pass. The forward
// runs in Float, so the step is large and the tolerance allows for Float noise.

import Testing
import Transformer

/// Compares `network.gradients` after `objective(true)` (which must accumulate them) with central
/// differences of `objective(false)` on a few elements of the listed tensors.
func checkGradients(of network: CausalLM, tensors: [String], step: Float = 2e-3,
                    tolerance: (absolute: Double, relative: Double) = (5e-5, 0.03), objective: (Bool) -> Double) {
    network.gradients.zero()
    _ = objective(true)
    for name in tensors {
        let view = network.parameters.layout[name]!
        for offset in stride(from: 0, to: view.count, by: max(1, view.count / 5)) {
            let i = view.offset + offset, saved = network.parameters.base[i]
            network.parameters.base[i] = saved + step
            let plus = objective(false)
            network.parameters.base[i] = saved - step
            let minus = objective(false)
            network.parameters.base[i] = saved
            let numeric = (plus - minus) / Double(2 * step), analytic = Double(network.gradients.base[i])
            #expect(abs(numeric - analytic) <= tolerance.absolute + tolerance.relative * abs(numeric),
                    "\(name)[\(offset)]: backward \(analytic), finite differences \(numeric)")
        }
    }
}
