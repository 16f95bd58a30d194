// A failed HDF5 call as a typed Swift error: which call failed, on which file and object, and HDF5's
// own explanation (its per-thread error stack, captured right after the failure by HDF5Calls.swift).

/// One entry of HDF5's error stack: the library function that pushed it and what it said.
public struct HDF5ErrorFrame: Sendable, Equatable, CustomStringConvertible {
    /// The HDF5 function, e.g. `H5Z__filter_fletcher32`.
    public var function: String
    /// Its message, e.g. `data error detected by Fletcher32 checksum`.
    public var message: String

    public var description: String { "\(function): \(message)" }
}

/// A failed HDF5 call. `frames` run from the API call down to the innermost cause, as `h5dump` and
/// HDF5's own printer list them.
public struct HDF5Error: Error, Sendable, CustomStringConvertible {
    /// The API function that returned a failure, e.g. `H5Dread`.
    public var call: String
    /// The file being read or written.
    public var file: String
    /// The object inside the file: a dataset or group path, or `path@attribute`.
    public var object: String
    /// HDF5's error stack, outermost first.
    public var frames: [HDF5ErrorFrame]

    /// The innermost message: the most specific reason HDF5 gives.
    public var innermost: String { frames.last?.message ?? "\(call) failed without a message" }

    /// Whether any frame's message contains `text` (used to classify failures, e.g. checksum errors).
    public func mentions(_ text: String) -> Bool { frames.contains { $0.message.contains(text) } }

    public var description: String {
        "\(file): \(object): \(call) failed: " + frames.map(\.description).joined(separator: " <- ")
    }
}
