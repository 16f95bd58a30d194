// The rules a checkpoint must satisfy, checked before writing (names, JSON) and while loading
// (signature, format stamp and version, tensor index, types, checksums, caller's expectations).
// Each failure is a CheckpointError naming file, object and reason (STYLE 14: fail with a hint).

import Foundation

/// What the caller knows a checkpoint must hold, e.g. the shapes its model config implies.
public struct CheckpointExpectation: Sendable {
    /// Required `stage_kind`, if any.
    public var stageKind: String?
    /// Required tensors by absolute path (`/model/wte`) and shape. Other tensors may also be present.
    public var tensors: [String: [Int]]

    public init(stageKind: String? = nil, tensors: [String: [Int]] = [:]) {
        self.stageKind = stageKind
        self.tensors = tensors
    }

    func check(_ checkpoint: CheckpointFile, file: String) throws {
        if let stageKind, stageKind != checkpoint.metadata.stageKind {
            throw CheckpointError(file: file, object: "/@\(RootAttribute.stageKind)",
                                  reason: .wrongType(expected: "stage kind \(stageKind)", found: checkpoint.metadata.stageKind))
        }
        for path in tensors.keys.sorted() {
            let object = path.hasPrefix("/") ? path : "/" + path
            guard let tensor = checkpoint[tensor: object] else {
                throw CheckpointError(file: file, object: object, reason: .missingObject(listedBy: "the caller's expectation"))
            }
            if tensor.shape != tensors[path]! {
                throw CheckpointError(file: file, object: object, reason: .shapeMismatch(expected: tensors[path]!, found: tensor.shape))
            }
        }
    }
}

enum Validation {
    // MARK: Before writing

    /// Names HDF5 and h5py can round-trip, JSON that parses, no clash with the reserved root names.
    static func checkWritable(_ checkpoint: CheckpointFile, file: String) throws {
        func fail(_ object: String, _ reason: CheckpointError.Reason) -> CheckpointError {
            CheckpointError(file: file, object: object, reason: reason)
        }
        for (name, text) in [(RootAttribute.configJSON, checkpoint.metadata.configJSON),
                             (RootAttribute.manifestJSON, checkpoint.metadata.manifestJSON)] where !isJSON(text) {
            throw fail("/@\(name)", .invalidValue("not valid JSON"))
        }
        if let clash = checkpoint.root.attributes.keys.first(where: RootAttribute.reserved.contains) {
            throw fail("/@\(clash)", .invalidName("reserved for the checkpoint's metadata"))
        }
        try checkpoint.root.visit { path, group in
            let owner = path.isEmpty ? "/" : path
            for name in group.groups.keys where group.tensors[name] != nil {
                throw fail(path + "/" + name, .invalidName("both a group and a tensor"))
            }
            for name in Array(group.groups.keys) + Array(group.tensors.keys) {
                if let why = problem(withName: name) { throw fail(path + "/" + name, .invalidName(why)) }
            }
            for (name, value) in group.attributes {
                let object = "\(owner)@\(name)"
                if let why = problem(withName: name) { throw fail(object, .invalidName(why)) }
                switch value {
                case .json(let text):
                    if !name.hasSuffix("_json") { throw fail(object, .invalidName("a JSON attribute's name must end in _json")) }
                    if !isJSON(text) { throw fail(object, .invalidValue("not valid JSON")) }
                case .string where name.hasSuffix("_json"):
                    throw fail(object, .invalidName("names ending in _json are for .json values"))
                default: break
                }
            }
        }
    }

    /// Why a group, dataset or attribute name is unusable, or nil. Dots are fine (`h.0.ln_1.weight`).
    static func problem(withName name: String) -> String? {
        if name.isEmpty { return "empty" }
        if name == "." || name == ".." { return "'\(name)' is reserved by HDF5" }
        if name.contains("/") { return "'\(name)' contains '/' (a path separator in HDF5)" }
        if name.utf8.contains(0) { return "contains a NUL byte" }
        return nil
    }

    static func isJSON(_ text: String) -> Bool {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)) != nil
    }

    // MARK: While loading

    /// HDF5's signature, which starts the superblock at offset 0, 512, 1024, 2048, ... (after a user block).
    static let hdf5Signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Refuses a file with no HDF5 signature where HDF5 would look for one, with clearer words than HDF5's.
    static func checkLooksLikeHDF5(_ bytes: UnsafeRawBufferPointer, file: String) throws {
        var offset = 0
        while offset + hdf5Signature.count <= bytes.count {
            if bytes[offset..<(offset + hdf5Signature.count)].elementsEqual(hdf5Signature) { return }
            offset = offset == 0 ? 512 : offset * 2
        }
        throw CheckpointError(file: file, reason: .notHDF5)
    }

    struct Header {
        var metadata: CheckpointMetadata
        /// Root attributes beyond the reserved ones.
        var extras: [String: AttributeValue]
        /// Tensor path → shape, from `tensors_json`.
        var index: [String: [Int]]
    }

    /// Checks the format stamp and version, then reads the metadata attributes.
    static func header(_ attributes: [String: AttributeValue], file: String) throws -> Header {
        guard case .string(let format)? = attributes[RootAttribute.format], format == CheckpointFile.format else {
            if case .string(let other)? = attributes[RootAttribute.format] {
                throw CheckpointError(file: file, object: "/@format", reason: .notACheckpoint(format: other))
            }
            throw CheckpointError(file: file, object: "/@format", reason: .notACheckpoint(format: nil))
        }
        let version = try int(RootAttribute.formatVersion, attributes, file)
        guard version == CheckpointFile.formatVersion else {
            throw CheckpointError(file: file, object: "/@format_version",
                                  reason: .unsupportedVersion(found: version, supported: CheckpointFile.formatVersion))
        }
        let metadata = CheckpointMetadata(
            stageKind: try string(RootAttribute.stageKind, attributes, file),
            stageName: try string(RootAttribute.stageName, attributes, file),
            step: Int(try int(RootAttribute.step, attributes, file)),
            totalSteps: Int(try int(RootAttribute.totalSteps, attributes, file)),
            createdUTC: try string(RootAttribute.createdUTC, attributes, file),
            configJSON: try string(RootAttribute.configJSON, attributes, file),
            manifestJSON: try string(RootAttribute.manifestJSON, attributes, file),
            codeVersion: try string(RootAttribute.codeVersion, attributes, file))
        let indexText = try string(RootAttribute.tensorIndex, attributes, file)
        guard let index = try? JSONDecoder().decode([String: [Int]].self, from: Data(indexText.utf8)) else {
            throw CheckpointError(file: file, object: "/@\(RootAttribute.tensorIndex)",
                                  reason: .malformed("not a JSON object of tensor path → shape"))
        }
        return Header(metadata: metadata, extras: attributes.filter { !RootAttribute.reserved.contains($0.key) }, index: index)
    }

    private static func string(_ name: String, _ attributes: [String: AttributeValue], _ file: String) throws -> String {
        switch attributes[name] {
        case .string(let text)?, .json(let text)?: return text
        case nil: throw CheckpointError(file: file, object: "/@\(name)", reason: .missingAttribute)
        case let other?: throw CheckpointError(file: file, object: "/@\(name)", reason: .wrongType(expected: "string", found: typeName(other)))
        }
    }

    private static func int(_ name: String, _ attributes: [String: AttributeValue], _ file: String) throws -> Int64 {
        switch attributes[name] {
        case .int64(let value)?: return value
        case nil: throw CheckpointError(file: file, object: "/@\(name)", reason: .missingAttribute)
        case let other?: throw CheckpointError(file: file, object: "/@\(name)", reason: .wrongType(expected: "int64", found: typeName(other)))
        }
    }

    static func typeName(_ value: AttributeValue) -> String {
        switch value {
        case .string: "string"
        case .json: "JSON string"
        case .int64: "int64"
        case .double: "double"
        case .int64s: "int64 array"
        case .uint64s: "uint64 array"
        case .floats: "float32 array"
        case .doubles: "float64 array"
        }
    }

    /// A dataset as a tensor: float32, and checksummed wherever HDF5 can checksum (rank ≥ 1, not empty).
    static func tensor(_ dataset: HDF5Dataset, at object: String, file: String) throws -> Tensor {
        guard let values = dataset.values else {
            throw CheckpointError(file: file, object: object, reason: .wrongType(expected: "float32", found: dataset.typeName))
        }
        if CheckpointFile.chunkShape(dataset.shape) != nil && !dataset.hasFletcher32 {
            throw CheckpointError(file: file, object: object, reason: .noChecksum)
        }
        return Tensor(shape: dataset.shape, values: values)
    }

    /// Every indexed tensor is present with its shape, and every tensor present is indexed.
    static func checkIndex(_ index: [String: [Int]], against checkpoint: CheckpointFile, file: String) throws {
        let present = Dictionary(uniqueKeysWithValues: checkpoint.root.allTensors.map { ($0.path, $0.tensor.shape) })
        for path in index.keys.sorted() {
            guard let shape = present[path] else { throw CheckpointError(file: file, object: path, reason: .missingObject(listedBy: "the file's tensor index")) }
            if shape != index[path]! {
                throw CheckpointError(file: file, object: path, reason: .shapeMismatch(expected: index[path]!, found: shape))
            }
        }
        if let extra = present.keys.sorted().first(where: { index[$0] == nil }) {
            throw CheckpointError(file: file, object: extra, reason: .unexpectedObject)
        }
    }
}
