// Manifest sections declared as tables of keys. A settings type lists each key once — its name, where
// it is stored, its allowed range or values and what it means — and its defaults are its property
// initialisers. Everything else reads that table: decoding and encoding, unknown-key rejection and
// the structural schema (Jobs), range checks, and the docs table (`rlhf kinds --markdown`).
//
//   struct DPOSettings: SettingsSection {
//       var beta = 0.1
//       static let keys: [Setting<Self>] = [
//           .value("beta", \.beta, .above(0), "strength of the implicit KL constraint"),
//       ]
//   }

import Transformer

/// A section of a manifest declared as a table of keys.
public protocol SettingsSection: Codable, Equatable, Sendable {
    /// Every key at its default.
    init()
    /// Every key of the section, in the order the docs list them.
    static var keys: [Setting<Self>] { get }
    /// Problems that involve several keys or the stage around the section (its batch, the model),
    /// as (key under the section, message). Single-key ranges belong in `keys`.
    func crossProblems(in spec: StageSpec, model: ModelConfig) -> [(key: String, message: String)]
    /// Makes the section's file paths absolute (`absolute` resolves against the manifest's folder);
    /// nothing by default.
    mutating func resolvePaths(_ absolute: (String) -> String)
}

extension SettingsSection {
    public func crossProblems(in spec: StageSpec, model: ModelConfig) -> [(key: String, message: String)] { [] }
    public mutating func resolvePaths(_ absolute: (String) -> String) {}

    public init(from decoder: Decoder) throws {
        self.init()
        let container = try decoder.container(keyedBy: SettingKey.self)
        for key in Self.keys { try key.decode(&self, container) }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: SettingKey.self)
        for key in Self.keys { try key.encode(self, &container) }
    }

    /// The keys a manifest may write in this section.
    public static var allowedKeys: [String] { keys.map(\.key) }

    /// The section's shape for the structural check that runs before decoding.
    public static var schema: SectionSchema {
        SectionSchema(keys: keys.map(\.key), required: keys.compactMap { key in key.standIn.map { (key.key, $0) } },
                      shapes: Dictionary(keys.map { ($0.key, $0.shape) }, uniquingKeysWith: { a, _ in a }))
    }

    /// Every value out of its range, then the cross-key problems; key paths relative to the section.
    public func problems(in spec: StageSpec, model: ModelConfig) -> [(key: String, message: String)] {
        Self.keys.flatMap { $0.problems(self, spec, model) } + crossProblems(in: spec, model: model)
    }

    /// One docs row per key (nested sections and lists expanded), keys prefixed with `prefix`.
    public static func documentation(prefix: String = "") -> [SettingDoc] {
        let defaults = Self()
        return keys.flatMap { $0.documentation(defaults, prefix) }
    }

    /// Whether `other` is the same type with the same values.
    public func isEqual(to other: any SettingsSection) -> Bool { (other as? Self) == self }
}

/// A key of a manifest mapping.
public struct SettingKey: CodingKey, Sendable {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(_ name: String) { stringValue = name }
    public init(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
}

/// What a key holds, for the structural check that runs on the YAML before anything is decoded.
public indirect enum SettingShape: Sendable {
    /// A scalar or anything decoded whole (its type is checked by decoding).
    case value
    /// One of these strings.
    case choice([String])
    /// A mapping whose keys are checked one by one.
    case section(SectionSchema)
    /// A list of such mappings.
    case list(SectionSchema)
    /// A model shape (`vocab`, `context`, ...): Jobs knows its keys.
    case model
}

/// The keys of one mapping: allowed, required (with the stand-in used after reporting one missing), and
/// the shape of each.
public struct SectionSchema: Sendable {
    public var keys: [String]
    public var required: [(key: String, standIn: String)]
    public var shapes: [String: SettingShape]

    public init(keys: [String], required: [(key: String, standIn: String)] = [], shapes: [String: SettingShape] = [:]) {
        self.keys = keys
        self.required = required
        self.shapes = shapes
    }
}

/// One row of the docs table.
public struct SettingDoc: Sendable, Equatable {
    public var key: String
    public var defaultValue: String
    /// The allowed values or range ("`k1`, `k3`", "(0, 1)"), empty when the type says it all.
    public var range: String
    public var meaning: String
}

/// The allowed values of a key: a test and the message that explains it.
public struct Bounds<Value>: Sendable {
    let test: @Sendable (Value) -> Bool
    /// "must be in (0, 1)"; nil for `.any`.
    let message: String?
    /// "(0, 1)", for the docs.
    let text: String

    public init(_ text: String, message: String, _ test: @escaping @Sendable (Value) -> Bool) {
        self.text = text
        self.message = message
        self.test = test
    }

    init(any: Void) {
        text = ""
        message = nil
        test = { _ in true }
    }

    public static var any: Bounds { Bounds(any: ()) }

    /// The same bounds with a note after the message and the docs text: "must be ≥ 0 (0 = off)".
    public func noting(_ note: String) -> Bounds {
        Bounds(text + " " + note, message: (message ?? "") + " " + note, test)
    }
}

extension Bounds where Value == Int {
    public static var positive: Bounds { Bounds("≥ 1", message: "must be a positive integer") { $0 > 0 } }
    public static func atLeast(_ low: Int) -> Bounds { Bounds("≥ \(low)", message: "must be ≥ \(low)") { $0 >= low } }
}

extension Bounds where Value == Double {
    public static func atLeast(_ low: Double) -> Bounds { Bounds("≥ \(plain(low))", message: "must be ≥ \(plain(low))") { $0 >= low } }
    public static func above(_ low: Double) -> Bounds { Bounds("> \(plain(low))", message: "must be > \(plain(low))") { $0 > low } }
    /// [low, high]
    public static func within(_ low: Double, _ high: Double) -> Bounds {
        interval("[", low, high, "]") { $0 >= low && $0 <= high }
    }
    /// (low, high)
    public static func between(_ low: Double, _ high: Double) -> Bounds {
        interval("(", low, high, ")") { $0 > low && $0 < high }
    }
    /// [low, high)
    public static func from(_ low: Double, below high: Double) -> Bounds {
        interval("[", low, high, ")") { $0 >= low && $0 < high }
    }
    /// (low, high]
    public static func above(_ low: Double, through high: Double) -> Bounds {
        interval("(", low, high, "]") { $0 > low && $0 <= high }
    }

    static func interval(_ open: String, _ low: Double, _ high: Double, _ close: String,
                         _ test: @escaping @Sendable (Double) -> Bool) -> Bounds {
        let text = "\(open)\(plain(low)), \(plain(high))\(close)"
        return Bounds(text, message: "must be in \(text)", test)
    }
}

/// `0.5`, `1`, `1e-08`: a number as a user would write it.
func plain(_ x: Double) -> String {
    if x == x.rounded() && abs(x) < 1e15 { return String(Int(x)) }
    return "\(x)"
}

/// One key of a settings table. Build them with `.value`, `.optional`, `.choice`, `.section`, `.list`.
public struct Setting<Root: Sendable>: Sendable {
    public let key: String
    public let meaning: String
    public let shape: SettingShape
    /// The stand-in of a required key (reported missing, then replaced so the rest can be checked).
    public let standIn: String?
    let decode: @Sendable (inout Root, KeyedDecodingContainer<SettingKey>) throws -> Void
    let encode: @Sendable (Root, inout KeyedEncodingContainer<SettingKey>) throws -> Void
    let problems: @Sendable (Root, StageSpec, ModelConfig) -> [(key: String, message: String)]
    let documentation: @Sendable (Root, String) -> [SettingDoc]
    /// Whether the key holds its default (a resolved manifest writes every key, so "given" means "not
    /// the default").
    public let isDefault: @Sendable (Root) -> Bool

    public init(key: String, meaning: String, shape: SettingShape = .value, standIn: String? = nil,
                decode: @escaping @Sendable (inout Root, KeyedDecodingContainer<SettingKey>) throws -> Void,
                encode: @escaping @Sendable (Root, inout KeyedEncodingContainer<SettingKey>) throws -> Void,
                problems: @escaping @Sendable (Root, StageSpec, ModelConfig) -> [(key: String, message: String)] = { _, _, _ in [] },
                documentation: @escaping @Sendable (Root, String) -> [SettingDoc],
                isDefault: @escaping @Sendable (Root) -> Bool = { _ in false }) {
        self.key = key
        self.meaning = meaning
        self.shape = shape
        self.standIn = standIn
        self.decode = decode
        self.encode = encode
        self.problems = problems
        self.documentation = documentation
        self.isDefault = isDefault
    }

    /// A value with a default; `bounds` says which values are allowed.
    public static func value<V: Codable & Sendable & Equatable>(_ key: String, _ path: WritableKeyPath<Root, V> & Sendable,
                                                                _ bounds: Bounds<V>, _ meaning: String) -> Setting where Root: SettingsSection {
        Setting(key: key, meaning: meaning,
                decode: { root, c in if let v = try c.decodeIfPresent(V.self, forKey: SettingKey(key)) { root[keyPath: path] = v } },
                encode: { root, c in try c.encode(root[keyPath: path], forKey: SettingKey(key)) },
                problems: { root, _, _ in bounds.test(root[keyPath: path]) ? [] : [(key, bounds.message ?? "")] },
                documentation: { root, prefix in
                    [SettingDoc(key: prefix + key, defaultValue: "`\(describe(root[keyPath: path]))`", range: bounds.text, meaning: meaning)]
                },
                isDefault: { $0[keyPath: path] == Root()[keyPath: path] })
    }

    /// A key without a default: required keys take a stand-in for the structural check.
    public static func required<V: Codable & Sendable>(_ key: String, _ path: WritableKeyPath<Root, V> & Sendable,
                                                       _ bounds: Bounds<V>, standIn: String, shape: SettingShape = .value,
                                                       _ meaning: String) -> Setting {
        Setting(key: key, meaning: meaning, shape: shape, standIn: standIn,
                decode: { root, c in root[keyPath: path] = try c.decode(V.self, forKey: SettingKey(key)) },
                encode: { root, c in try c.encode(root[keyPath: path], forKey: SettingKey(key)) },
                problems: { root, _, _ in bounds.test(root[keyPath: path]) ? [] : [(key, bounds.message ?? "")] },
                documentation: { _, prefix in
                    var range = bounds.text
                    if case .choice(let values) = shape { range = values.map { "`\($0)`" }.joined(separator: ", ") }
                    return [SettingDoc(key: prefix + key, defaultValue: "required", range: range, meaning: meaning)]
                })
    }

    /// A value that may be absent; `absent` says what that means in the docs ("none", "`batch`").
    public static func optional<V: Codable & Sendable & Equatable>(_ key: String, _ path: WritableKeyPath<Root, V?> & Sendable,
                                                       _ bounds: Bounds<V>, absent: String = "none",
                                                       shape: SettingShape = .value, _ meaning: String) -> Setting {
        Setting(key: key, meaning: meaning, shape: shape,
                decode: { root, c in if let v = try c.decodeIfPresent(V.self, forKey: SettingKey(key)) { root[keyPath: path] = v } },
                encode: { root, c in try c.encodeIfPresent(root[keyPath: path], forKey: SettingKey(key)) },
                problems: { root, _, _ in
                    guard let v = root[keyPath: path], !bounds.test(v) else { return [] }
                    return [(key, bounds.message ?? "")]
                },
                documentation: { root, prefix in
                    let value = root[keyPath: path].map { "`\(describe($0))`" } ?? absent
                    return [SettingDoc(key: prefix + key, defaultValue: value, range: bounds.text, meaning: meaning)]
                },
                isDefault: { $0[keyPath: path] == nil })
    }

    /// One of an enumeration's raw values.
    public static func choice<E: RawRepresentable & CaseIterable & Codable & Sendable>(
        _ key: String, _ path: WritableKeyPath<Root, E> & Sendable, _ meaning: String) -> Setting where E.RawValue == String {
        let values = E.allCases.map(\.rawValue)
        return Setting(key: key, meaning: meaning, shape: .choice(values),
                       decode: { root, c in if let v = try c.decodeIfPresent(E.self, forKey: SettingKey(key)) { root[keyPath: path] = v } },
                       encode: { root, c in try c.encode(root[keyPath: path], forKey: SettingKey(key)) },
                       documentation: { root, prefix in
                           [SettingDoc(key: prefix + key, defaultValue: "`\(root[keyPath: path].rawValue)`",
                                       range: values.map { "`\($0)`" }.joined(separator: ", "), meaning: meaning)]
                       })
    }

    /// A nested section (`optimizer: {...}`), always present with its defaults.
    public static func section<S: SettingsSection>(_ key: String, _ path: WritableKeyPath<Root, S> & Sendable,
                                                   _ meaning: String) -> Setting {
        Setting(key: key, meaning: meaning, shape: .section(S.schema),
                decode: { root, c in if let v = try c.decodeIfPresent(S.self, forKey: SettingKey(key)) { root[keyPath: path] = v } },
                encode: { root, c in try c.encode(root[keyPath: path], forKey: SettingKey(key)) },
                problems: { root, spec, model in
                    root[keyPath: path].problems(in: spec, model: model).map { ("\(key).\($0.key)", $0.message) }
                },
                documentation: { _, prefix in S.documentation(prefix: prefix + key + ".") })
    }

    /// A list of sections (`graders: [{...}, {...}]`).
    public static func list<S: SettingsSection>(_ key: String, _ path: WritableKeyPath<Root, [S]> & Sendable,
                                                _ meaning: String) -> Setting {
        Setting(key: key, meaning: meaning, shape: .list(S.schema),
                decode: { root, c in if let v = try c.decodeIfPresent([S].self, forKey: SettingKey(key)) { root[keyPath: path] = v } },
                encode: { root, c in if !root[keyPath: path].isEmpty { try c.encode(root[keyPath: path], forKey: SettingKey(key)) } },
                problems: { root, spec, model in
                    root[keyPath: path].enumerated().flatMap { index, element in
                        element.problems(in: spec, model: model).map { ("\(key)[\(index)].\($0.key)", $0.message) }
                    }
                },
                documentation: { root, prefix in
                    let count = root[keyPath: path].count
                    return [SettingDoc(key: prefix + key, defaultValue: count == 0 ? "none" : "\(count) entries", range: "a list",
                                       meaning: meaning)] + S.documentation(prefix: prefix + key + "[].")
                },
                isDefault: { $0[keyPath: path].isEmpty })
    }
}

/// A default as the docs show it: `0.2`, `true`, `cosine`.
func describe(_ value: Any) -> String {
    switch value {
    case let x as Double: return plain(x)
    case let x as any RawRepresentable: return "\(x.rawValue)"
    default: return "\(value)"
    }
}
