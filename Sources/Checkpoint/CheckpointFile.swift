// The in-memory picture of one checkpoint file (DESIGN §3.3), free of HDF5: root metadata plus a
// tree of groups, each holding named Float tensors and typed attributes. A stage fills one of these
// and calls `write(to:)`; loading returns one, validated. Layout of a file:
//
//   /                      metadata attributes (format, format_version, stage_kind, step, ...)
//   /model/<HF GPT-2 name> float32 tensors, e.g. /model/h.0.attn.c_attn.weight [C, 3C]
//   /critic/...            a second network (PPO)
//   /optimizer/<net>/{m,v}/<names>, attributes step, beta1, beta2, eps, weight_decay
//   /schedule, /rng/<name>, /data/<name>, /ppo, /metrics   groups of attributes
//
// Paths use `/` between groups; a tensor's own name may contain dots (`h.0.ln_1.weight` is one
// dataset, not nested groups), so checkpoints read naturally in h5py and h5dump.

/// A dense row-major float32 array of any rank; shape `[]` is a scalar.
public struct Tensor: Equatable, Sendable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        self.shape = shape
        self.values = values
    }

    public init(scalar: Float) { self.init(shape: [], values: [scalar]) }

    public var count: Int { values.count }
}

/// A typed attribute value. JSON text is stored as a UTF-8 string and recognised on reading by its
/// attribute name, which must end in `_json` (as `config_json` does).
public enum AttributeValue: Equatable, Sendable {
    case string(String)
    case json(String)
    case int64(Int64)
    case double(Double)
    /// 1-D arrays: RNG states (4 × UInt64 for xoshiro256**), permutations, small metric vectors.
    case int64s([Int64])
    case uint64s([UInt64])
    case floats([Float])
    case doubles([Double])
}

extension AttributeValue {
    /// The text of a string or JSON attribute.
    public var stringValue: String? {
        switch self {
        case .string(let text), .json(let text): text
        default: nil
        }
    }

    public var int64Value: Int64? {
        if case .int64(let value) = self { return value }
        return nil
    }

    /// A double, or an int64 widened to one.
    public var doubleValue: Double? {
        switch self {
        case .double(let value): value
        case .int64(let value): Double(value)
        default: nil
        }
    }
}

extension AttributeValue {
    /// The value's bytes as HDF5 stores them (UTF-8 text; little-endian numbers), for its CRC in the stamp.
    var storedBytes: [UInt8] {
        func bytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) } }
        switch self {
        case .string(let text), .json(let text): return Array(text.utf8)
        case .int64(let v): return bytes([v])
        case .double(let v): return bytes([v.bitPattern])
        case .int64s(let v): return bytes(v)
        case .uint64s(let v): return bytes(v)
        case .floats(let v): return bytes(v.map(\.bitPattern))
        case .doubles(let v): return bytes(v.map(\.bitPattern))
        }
    }
}

/// A group: attributes, tensors and subgroups, each by name.
public struct CheckpointGroup: Equatable, Sendable {
    public var attributes: [String: AttributeValue] = [:]
    public var tensors: [String: Tensor] = [:]
    public var groups: [String: CheckpointGroup] = [:]

    public init(attributes: [String: AttributeValue] = [:], tensors: [String: Tensor] = [:],
                groups: [String: CheckpointGroup] = [:]) {
        self.attributes = attributes
        self.tensors = tensors
        self.groups = groups
    }

    /// The subgroup at a `/`-separated path (`"optimizer/policy/m"`), created empty when set or
    /// mutated through a path that does not exist yet. `""` is this group.
    public subscript(group path: String) -> CheckpointGroup {
        get {
            var group = self
            for name in Self.components(path) { group = group.groups[name] ?? CheckpointGroup() }
            return group
        }
        set {
            let names = Self.components(path)
            guard let first = names.first else { self = newValue; return }
            groups[first, default: CheckpointGroup()][group: names.dropFirst().joined(separator: "/")] = newValue
        }
    }

    /// The tensor at a path whose last component is the dataset name: `"model/h.0.ln_1.weight"`.
    public subscript(tensor path: String) -> Tensor? {
        get {
            let (parent, name) = Self.split(path)
            return self[group: parent].tensors[name]
        }
        set {
            let (parent, name) = Self.split(path)
            self[group: parent].tensors[name] = newValue
        }
    }

    /// Every tensor below this group with its absolute path (`/model/wte`), sorted by path.
    public var allTensors: [(path: String, tensor: Tensor)] {
        var result: [(path: String, tensor: Tensor)] = []
        visit { path, group in
            for (name, tensor) in group.tensors { result.append((path + "/" + name, tensor)) }
        }
        return result.sorted { $0.path < $1.path }
    }

    /// Calls `body` for this group and every subgroup, parents first, with its path (`""` for this one).
    public func visit(_ path: String = "", _ body: (String, CheckpointGroup) throws -> Void) rethrows {
        try body(path, self)
        for name in groups.keys.sorted() { try groups[name]!.visit(path + "/" + name, body) }
    }

    static func components(_ path: String) -> [String] { path.split(separator: "/").map(String.init) }

    static func split(_ path: String) -> (parent: String, name: String) {
        var names = components(path)
        let name = names.popLast() ?? ""
        return (names.joined(separator: "/"), name)
    }
}

/// The root attributes every checkpoint carries (DESIGN §3.3), besides `format` and `format_version`.
public struct CheckpointMetadata: Equatable, Sendable {
    public var stageKind: String
    public var stageName: String
    public var step: Int
    public var totalSteps: Int
    /// ISO 8601, UTC (`2025-11-25T12:00:00Z`).
    public var createdUTC: String
    /// The model config, as JSON.
    public var configJSON: String
    /// The stage's resolved settings, as JSON.
    public var manifestJSON: String
    public var codeVersion: String

    public init(stageKind: String, stageName: String, step: Int, totalSteps: Int, createdUTC: String = "",
                configJSON: String = "{}", manifestJSON: String = "{}", codeVersion: String = "") {
        self.stageKind = stageKind
        self.stageName = stageName
        self.step = step
        self.totalSteps = totalSteps
        self.createdUTC = createdUTC
        self.configJSON = configJSON
        self.manifestJSON = manifestJSON
        self.codeVersion = codeVersion
    }
}

/// One checkpoint: metadata plus the tree under `/`. `root.attributes` holds any extra root
/// attributes; the metadata names are reserved for `metadata`.
public struct CheckpointFile: Equatable, Sendable {
    /// The value of the root `format` attribute.
    public static let format = "swift-rlhf-checkpoint"
    /// The layout version this build writes and reads. Raise it when the layout changes.
    public static let formatVersion: Int64 = 1

    public var metadata: CheckpointMetadata
    public var root: CheckpointGroup

    public init(metadata: CheckpointMetadata, root: CheckpointGroup = CheckpointGroup()) {
        self.metadata = metadata
        self.root = root
    }

    public subscript(group path: String) -> CheckpointGroup {
        get { root[group: path] }
        set { root[group: path] = newValue }
    }

    public subscript(tensor path: String) -> Tensor? {
        get { root[tensor: path] }
        set { root[tensor: path] = newValue }
    }
}
