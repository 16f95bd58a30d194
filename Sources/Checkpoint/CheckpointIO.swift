// CheckpointFile ⇄ HDF5: walks the tree and turns it into groups, datasets and attributes, and back.
// Writing goes through the commit protocol (AtomicCommit.swift); reading checks the file as it goes
// (Validation.swift) and verifies every dataset's checksum by reading all of its data.

import Foundation

/// The root attribute names of DESIGN §3.3, plus `tensors_json`: an index of every tensor's path
/// and shape, so a dataset that disappears from a file is noticed even without an expectation.
enum RootAttribute {
    static let format = "format", formatVersion = "format_version", stageKind = "stage_kind",
               stageName = "stage_name", step = "step", totalSteps = "total_steps",
               createdUTC = "created_utc", configJSON = "config_json", manifestJSON = "manifest_json",
               codeVersion = "code_version", tensorIndex = "tensors_json"
    static let reserved: Set<String> = [format, formatVersion, stageKind, stageName, step, totalSteps, createdUTC,
                                        configJSON, manifestJSON, codeVersion, tensorIndex]
}

extension CheckpointFile {
    /// Writes the checkpoint to `url` through the commit protocol: `url.tmp` in the same folder, flushed,
    /// fsynced (with `.fsync`), renamed over `url`, folder fsynced. Creates the folder if needed. On any
    /// failure the previous file at `url` is untouched and the temporary file is removed.
    public func write(to url: URL, durability: Durability = .fsync) throws {
        try Validation.checkWritable(self, file: url.path)
        let image = try hdf5Image(label: url.path)
        try AtomicCommit.commit(image.bytes, to: url, durability: durability)
    }

    /// The whole file's bytes, built by HDF5 in memory.
    func hdf5Image(label: String) throws -> FileImage {
        let attributes = rootAttributes
        let tensors = root.allTensors
        let sizeHint = tensors.reduce(0) { $0 + $1.tensor.count * 4 } + tensors.count * 4096
        return try HDF5.exclusive {
            do {
                let file = try HDF5File.createInMemory(label: label, sizeHint: sizeHint)
                do {
                    try write(attributes, on: "/", in: file)
                    try root.visit { path, group in
                        if !path.isEmpty {  // the root's attributes went out with the metadata
                            try file.createGroup(path)
                            try write(group.attributes, on: path, in: file)
                        }
                        for name in group.tensors.keys.sorted() {
                            let tensor = group.tensors[name]!
                            try tensor.values.withUnsafeBufferPointer {
                                try file.writeFloats(path + "/" + name, shape: tensor.shape,
                                                     chunk: Self.chunkShape(tensor.shape), values: $0)
                            }
                        }
                    }
                } catch {
                    file.close()
                    throw error
                }
                return try file.closeTakingImage()
            } catch let error as HDF5Error {
                throw CheckpointError(writing: error, file: label)
            }
        }
    }

    private func write(_ attributes: [String: AttributeValue], on object: String, in file: HDF5File) throws {
        for name in attributes.keys.sorted() { try file.writeAttribute(name, on: object, attributes[name]!) }
    }

    /// The metadata, the format stamp, the tensor index and any extra root attributes.
    var rootAttributes: [String: AttributeValue] {
        var attributes = root.attributes
        attributes[RootAttribute.format] = .string(Self.format)
        attributes[RootAttribute.formatVersion] = .int64(Self.formatVersion)
        attributes[RootAttribute.stageKind] = .string(metadata.stageKind)
        attributes[RootAttribute.stageName] = .string(metadata.stageName)
        attributes[RootAttribute.step] = .int64(Int64(metadata.step))
        attributes[RootAttribute.totalSteps] = .int64(Int64(metadata.totalSteps))
        attributes[RootAttribute.createdUTC] = .string(metadata.createdUTC)
        attributes[RootAttribute.configJSON] = .json(metadata.configJSON)
        attributes[RootAttribute.manifestJSON] = .json(metadata.manifestJSON)
        attributes[RootAttribute.codeVersion] = .string(metadata.codeVersion)
        attributes[RootAttribute.tensorIndex] = .json(Self.encodeIndex(root.allTensors.map { ($0.path, $0.tensor.shape) }))
        return attributes
    }

    /// `{"/model/wte":[259,384],...}`, keys sorted.
    static func encodeIndex(_ entries: [(String, [Int])]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try! encoder.encode(Dictionary(entries, uniquingKeysWith: { a, _ in a }))
        return String(decoding: data, as: UTF8.self)
    }

    /// Chunks of at most 64 KiB (16 Ki floats): HDF5 allocates a buffer per chunk as it filters it,
    /// and below glibc's mmap threshold (128 KiB) those come from the heap and are reused, instead of
    /// being mapped and page-faulted afresh for every chunk (1 MiB chunks: 500 MB/s instead of 830).
    /// Splits the outer dimensions first so a chunk is a run of whole rows. Nil where HDF5 cannot
    /// chunk (scalars, empty tensors), which therefore carry no checksum.
    static func chunkShape(_ shape: [Int], target: Int = 1 << 14) -> [Int]? {
        guard !shape.isEmpty, !shape.contains(0) else { return nil }
        var chunk = shape
        for axis in chunk.indices {
            let inner = chunk[(axis + 1)...].reduce(1, *)
            if inner >= target {
                chunk[axis] = 1
            } else {
                chunk[axis] = min(shape[axis], max(1, target / inner))
                break
            }
        }
        return chunk
    }

    /// Reads and validates a checkpoint: the file exists and is HDF5, `format` and `format_version`
    /// match, every tensor of the index is present with its shape and nothing else is, every
    /// dataset's Fletcher-32 checksum verifies, and `expect` holds. Throws a CheckpointError naming
    /// the file, the object and the reason.
    public static func read(from url: URL, expect: CheckpointExpectation = CheckpointExpectation()) throws -> CheckpointFile {
        let path = url.path
        try Validation.checkFileLooksLikeHDF5(path)
        return try HDF5.exclusive {
            let file: HDF5File
            do { file = try HDF5File.openReadOnly(path) } catch let error as HDF5Error {
                throw CheckpointError(reading: error, file: path)
            }
            defer { file.close() }
            do {
                // The format stamp first: another HDF5 file is refused before any of its data is read.
                let header = try Validation.header(try readAttributes(on: "/", in: file), file: path)
                let checkpoint = CheckpointFile(metadata: header.metadata,
                                                root: try readGroup("/", in: file, attributes: header.extras))
                try Validation.checkIndex(header.index, against: checkpoint, file: path)
                try expect.check(checkpoint, file: path)
                return checkpoint
            } catch let error as HDF5Error {
                throw CheckpointError(reading: error, file: path)
            }
        }
    }

    private static func readAttributes(on object: String, in file: HDF5File) throws -> [String: AttributeValue] {
        var attributes: [String: AttributeValue] = [:]
        for name in try file.attributeNames(on: object) { attributes[name] = try file.readAttribute(name, on: object) }
        return attributes
    }

    private static func readGroup(_ path: String, in file: HDF5File,
                                  attributes: [String: AttributeValue]? = nil) throws -> CheckpointGroup {
        var group = CheckpointGroup(attributes: try attributes ?? readAttributes(on: path, in: file))
        for (name, kind) in try file.children(of: path) {
            let child = (path == "/" ? "" : path) + "/" + name
            switch kind {
            case .group: group.groups[name] = try readGroup(child, in: file)
            case .dataset: group.tensors[name] = try Validation.tensor(try file.readDataset(child), at: child, file: file.path)
            case .other: throw CheckpointError(file: file.path, object: child, reason: .unexpectedObject,
                                               detail: "neither a group nor a dataset")
            }
        }
        return group
    }
}
