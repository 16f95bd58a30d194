// Token + position embedding, forward and backward side by side.
//
// Legend: B batch, T positions, C channels, V vocabulary.
//   tokens : [B, T] Int32     wte : [V, C]     wpe : [maxT, C]     out, dout : [B, T, C]
// `positions` gives each row's first position (0 for training; the cache length while decoding).
// Without a wpe (models with rotary positions) only the token rows are gathered and scattered.

/// out[b,t,:] = wte[tokens[b,t], :] + wpe[start[b] + t, :]   (+ wpe only when given)
public func embeddingForward(
    out: UnsafeMutablePointer<Float>,
    tokens: UnsafePointer<Int32>, wte: UnsafePointer<Float>, wpe: UnsafePointer<Float>?,
    batch: Int, time: Int, channels c: Int, startPositions: UnsafePointer<Int32>? = nil
) {
    for b in 0..<batch {
        let start = Int(startPositions?[b] ?? 0)
        for t in 0..<time {
            let row = b * time + t
            let token = Int(tokens[row]), o = out + row * c
            let e = wte + token * c
            if let wpe {
                let p = wpe + (start + t) * c
                forEachVector(c) { j, n in store(load(e + j, n) + load(p + j, n), o + j, n) }
            } else {
                o.update(from: e, count: c)
            }
        }
    }
}

/// dwte[tokens[b,t], :] += dout[b,t,:];  dwpe[t, :] += dout[b,t,:] (when given).
/// Serial in (b, t) order: many rows hit the same token, and a fixed order keeps the sum exact
/// across thread counts. The cost is one add per activation, negligible beside the GEMMs.
public func embeddingBackward(
    dwte: UnsafeMutablePointer<Float>, dwpe: UnsafeMutablePointer<Float>?,
    dout: UnsafePointer<Float>, tokens: UnsafePointer<Int32>,
    batch: Int, time: Int, channels c: Int
) {
    for b in 0..<batch {
        for t in 0..<time {
            let row = b * time + t
            axpy(1, dout + row * c, dwte + Int(tokens[row]) * c, c)
            if let dwpe { axpy(1, dout + row * c, dwpe + t * c, c) }
        }
    }
}
