// One transformer block (pre-LayerNorm), forward and backward side by side.
//
// Legend: N = B·T rows, C channels, H heads.
//   x = block input [N, C];  res2 = x + attn(ln_1(x));  res3 = res2 + mlp(ln_2(res2))
//   attn(h) = c_proj(attention(c_attn(h)))    mlp(h) = c_proj(gelu(c_fc(h)))
// The residual additions are folded into the projection GEMMs: res2 is first set to x, then the
// projection accumulates into it with its bias, so no separate residual pass touches memory.
// The backward pass keeps one residual-gradient buffer `dres`: the identity path of each residual
// needs no work, and each branch adds its contribution through LayerNorm's accumulating backward.

import Kernels

/// Pointers to one block's weights (or gradients: same names, same shapes).
struct BlockWeights {
    var ln1w, ln1b, attnW, attnB, projW, projB, ln2w, ln2b, fcW, fcB, mlpW, mlpB: UnsafeMutablePointer<Float>

    init(_ arena: Arena, layer i: Int) {
        let p = "h.\(i)."
        ln1w = arena[p + "ln_1.weight"]; ln1b = arena[p + "ln_1.bias"]
        attnW = arena[p + "attn.c_attn.weight"]; attnB = arena[p + "attn.c_attn.bias"]
        projW = arena[p + "attn.c_proj.weight"]; projB = arena[p + "attn.c_proj.bias"]
        ln2w = arena[p + "ln_2.weight"]; ln2b = arena[p + "ln_2.bias"]
        fcW = arena[p + "mlp.c_fc.weight"]; fcB = arena[p + "mlp.c_fc.bias"]
        mlpW = arena[p + "mlp.c_proj.weight"]; mlpB = arena[p + "mlp.c_proj.bias"]
    }
}

/// The dimensions every block function needs.
struct BlockShape {
    let batch: Int, time: Int, channels: Int, heads: Int
    var rows: Int { batch * time }
}

/// res3 = block(x), saving what the backward pass needs in `a`.
func blockForward(_ a: BlockActivations, x: UnsafePointer<Float>, weights w: BlockWeights, shape s: BlockShape) {
    let n = s.rows, c = s.channels
    layerNormForward(out: a.ln1, mean: a.mean1, rstd: a.rstd1, x: x, weight: w.ln1w, bias: w.ln1b, rows: n, channels: c)
    gemm(.nn, m: n, n: 3 * c, k: c, a: a.ln1, b: w.attnW, c: a.qkv, bias: w.attnB)
    attentionForward(out: a.atty, probs: a.probs, qkv: a.qkv, batch: s.batch, time: s.time, channels: c, heads: s.heads)
    a.res2.update(from: x, count: n * c)
    gemm(.nn, m: n, n: c, k: c, a: a.atty, b: w.projW, c: a.res2, bias: w.projB, accumulate: true)

    layerNormForward(out: a.ln2, mean: a.mean2, rstd: a.rstd2, x: a.res2, weight: w.ln2w, bias: w.ln2b, rows: n, channels: c)
    gemm(.nn, m: n, n: 4 * c, k: c, a: a.ln2, b: w.fcW, c: a.fch, bias: w.fcB)
    geluForward(out: a.fcg, x: a.fch, count: 4 * n * c)
    a.res3.update(from: a.res2, count: n * c)
    gemm(.nn, m: n, n: c, k: 4 * c, a: a.fcg, b: w.mlpW, c: a.res3, bias: w.mlpB, accumulate: true)
}

/// Given dres = dL/d(res3), leaves dL/dx in dres and accumulates the block's weight gradients in g.
func blockBackward(_ a: BlockActivations, x: UnsafePointer<Float>, weights w: BlockWeights, gradients g: BlockWeights,
                   scratch d: BackwardScratch, shape s: BlockShape) {
    let n = s.rows, c = s.channels
    // MLP: res3 = res2 + fcg·W_mlp + b_mlp,  fcg = gelu(fch),  fch = ln2·W_fc + b_fc
    gemm(.tn, m: 4 * c, n: c, k: n, a: a.fcg, b: d.dres, c: g.mlpW, accumulate: true)
    sumRows(out: g.mlpB, x: d.dres, rows: n, columns: c)
    gemm(.nt, m: n, n: 4 * c, k: c, a: d.dres, b: w.mlpW, c: d.dfcg)
    d.dfch.update(repeating: 0, count: 4 * n * c)
    geluBackward(dx: d.dfch, dout: d.dfcg, x: a.fch, count: 4 * n * c)
    gemm(.tn, m: c, n: 4 * c, k: n, a: a.ln2, b: d.dfch, c: g.fcW, accumulate: true)
    sumRows(out: g.fcB, x: d.dfch, rows: n, columns: 4 * c)
    gemm(.nt, m: n, n: c, k: 4 * c, a: d.dfch, b: w.fcW, c: d.dln)
    layerNormBackward(dx: d.dres, dweight: g.ln2w, dbias: g.ln2b, dout: d.dln, x: a.res2, weight: w.ln2w,
                      mean: a.mean2, rstd: a.rstd2, rows: n, channels: c)

    // Attention: res2 = x + atty·W_proj + b_proj,  atty = attention(qkv),  qkv = ln1·W_attn + b_attn
    gemm(.tn, m: c, n: c, k: n, a: a.atty, b: d.dres, c: g.projW, accumulate: true)
    sumRows(out: g.projB, x: d.dres, rows: n, columns: c)
    gemm(.nt, m: n, n: c, k: c, a: d.dres, b: w.projW, c: d.datty)
    attentionBackward(dqkv: d.dqkv, dout: d.datty, qkv: a.qkv, probs: a.probs,
                      batch: s.batch, time: s.time, channels: c, heads: s.heads)
    gemm(.tn, m: c, n: 3 * c, k: n, a: a.ln1, b: d.dqkv, c: g.attnW, accumulate: true)
    sumRows(out: g.attnB, x: d.dqkv, rows: n, columns: 3 * c)
    gemm(.nt, m: n, n: c, k: 3 * c, a: d.dqkv, b: w.attnW, c: d.dln)
    layerNormBackward(dx: d.dres, dweight: g.ln1w, dbias: g.ln1b, dout: d.dln, x: x, weight: w.ln1w,
                      mean: a.mean1, rstd: a.rstd1, rows: n, channels: c)
}
