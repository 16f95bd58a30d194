// What is wrong with a safetensors file (or its shard index), in one line that names the file and the
// tensor or key at fault:
//
//   model.safetensors: tensor "h.0.attn.c_attn.weight": data_offsets [0, 96] overlap tensor "wte" (which ends at 128)
//   model.safetensors.index.json: weight_map: "lm_head.weight" names shard model-00003-of-00003.safetensors, which does not exist

/// A safetensors file or index that cannot be used, or a write that failed.
public struct SafeTensorsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file as the caller named it.
    public var file: String
    /// The tensor at fault, if one is.
    public var tensor: String?
    /// The header or index key at fault when it is not a tensor (`__metadata__.format`, `weight_map`).
    public var key: String?
    public var problem: String
    /// True when the machine failed (a write, a read error other than a short file), not the file.
    public var isSystemFailure: Bool

    public init(file: String, tensor: String? = nil, key: String? = nil, _ problem: String, isSystemFailure: Bool = false) {
        self.file = file
        self.tensor = tensor
        self.key = key
        self.problem = problem
        self.isSystemFailure = isSystemFailure
    }

    public var description: String {
        var line = file
        if let tensor { line += ": tensor \"\(tensor)\"" }
        if let key { line += ": \(key)" }
        return line + ": " + problem
    }
}
