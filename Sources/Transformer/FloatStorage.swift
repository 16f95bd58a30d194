// Working memory of models and decoders: one float buffer, carved into named regions and kept
// across calls (the architecture files carve their activations and caches from it).

/// One float buffer that a model carves its working memory from, and keeps: successive `Activations`
/// (PPO alternates between batch shapes: rollout scoring, mini-batches, generation prefill) and
/// successive KV-cache decoders reuse it instead of faulting in fresh pages each time (a small-model
/// decoder holds ~60 MB, ~15 000 pages). It only grows.
final class FloatStorage {
    let base: UnsafeMutablePointer<Float>
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
        base.initialize(repeating: 0, count: capacity)
    }

    deinit { base.deallocate() }
}

/// Hands out consecutive regions of a `FloatStorage`.
struct FloatCarver {
    let storage: FloatStorage
    private(set) var used = 0

    init(_ storage: FloatStorage) { self.storage = storage }

    mutating func carve(_ count: Int) -> UnsafeMutablePointer<Float> {
        precondition(used + count <= storage.capacity, "storage too small")
        defer { used += count }
        return storage.base + used
    }
}
