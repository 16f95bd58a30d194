// Lane-wise transcendental functions on SIMD16<Float>. The standard library has none, and a scalar
// libm call per lane would cost more than the rest of a softmax or GELU together.
//
// exp: Cody–Waite range reduction x = n·ln2 + r with |r| ≤ ln2/2, a degree-6 polynomial for e^r
// (Cephes expf coefficients), and 2^n built in the exponent bits. Relative error about 2 ulp over
// [-87.3, 88.3]; inputs outside are clamped (results underflow to ~1e-38 or saturate near 2^127)
// instead of producing infinities, which keeps softmax and GELU free of NaN from inf − inf.

@_transparent @usableFromInline
func vexp(_ x: Vec) -> Vec {
    let xc = vmax(vmin(x, Vec(repeating: 88.3762626647949)),
                          Vec(repeating: -87.3365447505531))
    // n = round(x·log2 e) by the 1.5·2²³ trick: adding it pushes the fraction bits out, so the
    // sum's low mantissa bits hold n as an integer (generic SIMD rounding and float→int
    // conversions compile to per-lane library calls; this is two vector adds).
    let magic = Vec(repeating: 12_582_912)                                        // 1.5 · 2²³
    let shifted = magic.addingProduct(xc, Vec(repeating: 1.44269504088896341))
    let n = shifted - magic
    var r = xc.addingProduct(n, Vec(repeating: -0.693359375))      // ln2 high part (exact in float)
    r = r.addingProduct(n, Vec(repeating: 2.12194440e-4))           // ln2 low part
    var p = Vec(repeating: 1.9875691500e-4)
    p = (p * r) + 1.3981999507e-3
    p = (p * r) + 8.3334519073e-3
    p = (p * r) + 4.1665795894e-2
    p = (p * r) + 1.6666665459e-1
    p = (p * r) + 5.0000001201e-1
    let er = (p * (r * r)) + r + 1
    let integerN = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- SIMD16<Int32>(repeating: 0x4B40_0000)
    let bits = (integerN &+ 127) &<< 23
    return er * unsafeBitCast(bits, to: Vec.self)
}

/// e^x for one float through the same vector code, so scalar and vector paths agree bit for bit.
@inline(__always) @usableFromInline
func sexp(_ x: Float) -> Float { vexp(Vec(repeating: x))[0] }
