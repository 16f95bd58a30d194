// One parameter arena with named views (llm.c's ParameterTensors): every tensor of the network lives
// in a single contiguous Float buffer, in a fixed order, under its Hugging Face name (the
// architecture's file lists them: GPT2.swift, Llama.swift; the heads' are in CausalLM.swift).
// Gradients and the AdamW moments are arenas of the same layout, so an optimizer step is one pass
// over four buffers and a checkpoint writes one dataset per view.

/// Where one named tensor sits in an arena.
public struct TensorView: Equatable, Sendable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
    /// Matrices are decayed; biases, LayerNorm gains and the score bias are not (GPT-2 practice).
    public var decays: Bool { shape.count >= 2 }
}

/// The ordered list of tensors of a network.
public struct ParameterLayout: Equatable, Sendable {
    public let views: [TensorView]
    public let count: Int
    private let index: [String: Int]

    public init(_ tensors: [(String, [Int])]) {
        var views: [TensorView] = []
        var offset = 0
        for (name, shape) in tensors {
            views.append(TensorView(name: name, shape: shape, offset: offset))
            offset += shape.reduce(1, *)
        }
        self.views = views
        self.count = offset
        self.index = Dictionary(uniqueKeysWithValues: views.enumerated().map { ($1.name, $0) })
    }

    public subscript(name: String) -> TensorView? { index[name].map { views[$0] } }

    public static func == (l: ParameterLayout, r: ParameterLayout) -> Bool { l.views == r.views }
}

/// A zero-initialised Float buffer laid out by a `ParameterLayout`. A class: it owns the memory, and
/// networks hand out pointers into it to the kernels.
public final class Arena: @unchecked Sendable {
    public let layout: ParameterLayout
    public let base: UnsafeMutablePointer<Float>

    public init(_ layout: ParameterLayout) {
        self.layout = layout
        base = .allocate(capacity: max(1, layout.count))
        base.initialize(repeating: 0, count: max(1, layout.count))
    }

    deinit { base.deallocate() }

    public var count: Int { layout.count }

    /// The first float of the named tensor. Crashes on an unknown name: names are code, not input.
    public subscript(name: String) -> UnsafeMutablePointer<Float> {
        guard let view = layout[name] else { preconditionFailure("no tensor named \(name)") }
        return base + view.offset
    }

    /// The whole arena as a buffer.
    public var buffer: UnsafeMutableBufferPointer<Float> { .init(start: base, count: layout.count) }

    /// The named tensor's values as an array (for checkpoints and tests).
    public func values(_ view: TensorView) -> [Float] { Array(UnsafeBufferPointer(start: base + view.offset, count: view.count)) }

    /// Overwrites the named tensor.
    public func setValues(_ view: TensorView, _ values: [Float]) {
        precondition(values.count == view.count, "\(view.name): \(values.count) values for \(view.count) slots")
        (base + view.offset).update(from: values, count: view.count)
    }

    public func zero() { base.update(repeating: 0, count: layout.count) }

    /// Copies another arena's values for every tensor name both have (e.g. a reward model from an
    /// SFT model: all but the scalar head). Returns the names copied.
    @discardableResult
    public func copyMatching(from other: Arena) -> [String] {
        var copied: [String] = []
        for view in layout.views {
            guard let source = other.layout[view.name], source.shape == view.shape else { continue }
            (base + view.offset).update(from: other.base + source.offset, count: view.count)
            copied.append(view.name)
        }
        return copied
    }
}
