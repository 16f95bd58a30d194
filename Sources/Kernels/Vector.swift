// Vector helpers shared by the kernels: SIMD16 loads and stores that also serve partial tails, and
// the few BLAS-1 loops (axpy, dot, scale) every layer needs.
//
// Tails: a row whose length is not a multiple of 16 is finished with a zero-padded partial vector,
// so every element goes through the same SIMD code path whatever its position. Results then depend
// only on the element's value, not on where a row starts or ends (KV-cache decoding and the full
// forward see the same numbers).

public typealias Vec = SIMD16<Float>
public let lanes = Vec.scalarCount

@inline(__always) @usableFromInline
func load(_ p: UnsafePointer<Float>) -> Vec {
    UnsafeRawPointer(p).loadUnaligned(as: Vec.self)
}

@inline(__always) @usableFromInline
func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self)
}

/// Loads `count` (< 16) floats, the other lanes set to `fill`.
@inline(__always) @usableFromInline
func loadPartial(_ p: UnsafePointer<Float>, _ count: Int, fill: Float = 0) -> Vec {
    var v = Vec(repeating: fill)
    for i in 0..<count { v[i] = p[i] }
    return v
}

/// Stores the first `count` (< 16) lanes of `v`.
@inline(__always) @usableFromInline
func storePartial(_ v: Vec, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
    for i in 0..<count { p[i] = v[i] }
}

/// Loads `count` ≤ 16 floats: a full vector, or a partial one padded with `fill`.
@inline(__always) @usableFromInline
func load(_ p: UnsafePointer<Float>, _ count: Int, fill: Float = 0) -> Vec {
    count == lanes ? load(p) : loadPartial(p, count, fill: fill)
}

/// Stores the first `count` ≤ 16 lanes of `v`.
@inline(__always) @usableFromInline
func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
    if count == lanes { store(v, p) } else { storePartial(v, p, count) }
}

/// Applies `body` to every 16-float slice of `0..<n`: full vectors first, then one zero-padded
/// partial vector for the tail. `body(offset, count)` gets the slice's start and its length.
@inline(__always) @usableFromInline
func forEachVector(_ n: Int, _ body: (Int, Int) -> Void) {
    var j = 0
    while j + lanes <= n { body(j, lanes); j += lanes }
    if j < n { body(j, n - j) }
}

/// y[0..<n] += alpha · x[0..<n]
@inline(__always) @usableFromInline
func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    let va = Vec(repeating: alpha)
    forEachVector(n) { j, count in
        store(load(y + j, count).addingProduct(va, load(x + j, count)), y + j, count)
    }
}

/// Σ x[i]·y[i] in a fixed order: 16 lane-wise partial sums, then the lanes summed.
@inline(__always) @usableFromInline
func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = Vec(repeating: 0)
    forEachVector(n) { j, count in acc.addProduct(load(x + j, count), load(y + j, count)) }
    return acc.sum()
}

/// Lane-wise maximum and minimum by compare-and-select. (The standard library's generic
/// `pointwiseMax`/`pointwiseMin` are not specialised across modules and cost a call per use.)
@inline(__always) @usableFromInline
func vmax(_ a: Vec, _ b: Vec) -> Vec { a.replacing(with: b, where: b .> a) }

@inline(__always) @usableFromInline
func vmin(_ a: Vec, _ b: Vec) -> Vec { a.replacing(with: b, where: b .< a) }
