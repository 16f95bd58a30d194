// CheckpointFile ⇄ HDF5: walks the tree and turns it into groups, datasets and attributes, and back.
// Writing stamps the file (FileStamp.swift: CRC-32C of the whole file and of every tensor, in HDF5's
// user block) and commits it (AtomicCommit.swift). Reading checks the stamp before HDF5 sees a byte:
//
//   read the whole file → stamp verifies?  yes → HDF5 parses those very bytes, from memory
//                                           no  → a child process parses it (ChildParser.swift);
//                                                 accepted, with a notice, only if every check of
//                                                 HDF5's passes and no tensor changed into zeros
//
// Either way the file is validated as it is read (Validation.swift) and every dataset's Fletcher-32
// checksum is verified by reading all of its data. docs/checkpoints.md explains the rules.

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
        let image = try stampedImage(label: url.path)
        try AtomicCommit.commit(image.bytes, to: url, durability: durability)
    }

    /// The whole file's bytes: the HDF5 file built in memory, stamped.
    func stampedImage(label: String) throws -> FileImage {
        let tensors = root.allTensors
        let attributes = largeAttributeCRCs
        let userBlock = FileStamp.userBlockSize(for: tensors.map(\.path), attributes: Array(attributes.keys))
        let image = try hdf5Image(label: label, userBlock: userBlock)
        let crcs = Dictionary(tensors.map { ($0.path, CRC32C.of($0.tensor.values)) }, uniquingKeysWith: { a, _ in a })
        FileStamp.stamp(image.mutableBytes, hdf5Offset: userBlock, tensorCRCs: crcs, attributeCRCs: attributes)
        return image
    }

    /// Every attribute (the metadata ones included) by `/group@name`, with its value.
    var allAttributes: [(path: String, value: AttributeValue)] {
        var result = rootAttributes.map { ("/@" + $0.key, $0.value) }
        root.visit { path, group in
            guard !path.isEmpty else { return }
            result += group.attributes.map { (path + "@" + $0.key, $0.value) }
        }
        return result
    }

    /// CRC-32C and size of the attributes larger than `FileStamp.largeAttribute` bytes.
    var largeAttributeCRCs: [String: UInt32] {
        var crcs: [String: UInt32] = [:]
        for (path, value) in allAttributes {
            let bytes = value.storedBytes
            if bytes.count > FileStamp.largeAttribute { crcs[path] = bytes.withUnsafeBytes { CRC32C.of($0) } }
        }
        return crcs
    }

    /// The whole file's bytes, built by HDF5 in memory after an empty user block of `userBlock` bytes.
    func hdf5Image(label: String, userBlock: Int) throws -> FileImage {
        let attributes = rootAttributes
        let tensors = root.allTensors
        let sizeHint = userBlock + tensors.reduce(0) { $0 + $1.tensor.count * 4 } + tensors.count * 4096
        return try HDF5.exclusive {
            do {
                let file = try HDF5File.createInMemory(label: label, sizeHint: sizeHint, userBlock: userBlock)
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

    /// Reads and validates a checkpoint: the file matches its stamp (or, failing that, passes every
    /// check in a child process, see the file comment), `format` and `format_version` match, every
    /// tensor of the index is present with its shape and nothing else is, every dataset's Fletcher-32
    /// checksum verifies, and `expect` holds. Throws a CheckpointError naming the file, the object and
    /// the reason. A file read without a matching stamp is reported to `notice` in one line.
    public static func read(from url: URL, expect: CheckpointExpectation = CheckpointExpectation(),
                            notice: (String) -> Void = noticeOnStandardError) throws -> CheckpointFile {
        let (checkpoint, integrity) = try readChecked(from: url, expect: expect)
        if let line = integrity.notice(file: url.path) { notice(line) }
        return checkpoint
    }

    /// `read(from:expect:)`, saying how the file was verified instead of printing a notice.
    public static func readChecked(from url: URL, expect: CheckpointExpectation = CheckpointExpectation())
        throws -> (checkpoint: CheckpointFile, integrity: FileIntegrity) {
        let path = url.path
        let contents = try FileContents(reading: path)
        let checkpoint: CheckpointFile, integrity: FileIntegrity
        switch FileStamp.check(contents.bytes) {
        case .verified(let stamp):
            checkpoint = try parse(image: contents.bytes, label: path)
            integrity = .verified(crc32c: stamp.fileCRC, bytes: stamp.fileSize)
        case .mismatch(let stamp, let why):
            let mismatch = "file checksum mismatch: \(why)"
            if contents.count < stamp.hdf5Offset {
                throw CheckpointError(file: path, reason: .truncated, detail: why)
            }
            checkpoint = try inChildProcess(path, size: contents.count, context: mismatch)
            // HDF5 keeps large attributes without a checksum: any change to one is refused.
            for (attribute, value) in checkpoint.allAttributes {
                let bytes = value.storedBytes
                guard let recorded = stamp.attributeCRCs[attribute], bytes.withUnsafeBytes({ CRC32C.of($0) }) != recorded else { continue }
                throw CheckpointError(file: path, object: attribute, reason: .uncheckedAttributeChanged(bytes: bytes.count), context: mismatch)
            }
            let changed = changedTensors(checkpoint, since: stamp)
            // Fletcher-32 cannot tell a chunk zeroed together with its checksum (a zero-filled
            // block, the commonest damage to stored data) from a chunk of zeros: a tensor that held
            // other values when written and now has such a chunk is damage, not an edit.
            if let zeroed = changed.first(where: { checkpoint[tensor: $0].map(hasZeroChunk) ?? false }) {
                throw CheckpointError(file: path, object: zeroed, reason: .zeroFilled, context: mismatch)
            }
            integrity = .checkedInChild(why: "it changed since it was written (\(why))", changedTensors: changed)
        case .damagedStamp where contents.count < 512:
            throw CheckpointError(file: path, reason: .truncated, detail: "\(contents.count) bytes, it ends inside its stamp")
        case .damagedStamp(let why):
            checkpoint = try inChildProcess(path, size: contents.count, context: "file checksum mismatch: its stamp is damaged (\(why))")
            integrity = .checkedInChild(why: "its stamp is damaged (\(why))", changedTensors: nil)
        case .unstamped:
            try Validation.checkLooksLikeHDF5(contents.bytes, file: path)
            checkpoint = try inChildProcess(path, size: contents.count, context: nil)
            integrity = .checkedInChild(why: "it has no stamp (another tool wrote it, or a version before stamps)", changedTensors: nil)
        }
        try expect.check(checkpoint, file: path)
        return (checkpoint, integrity)
    }

    /// `notice: FILE: ...` on stderr.
    public static func noticeOnStandardError(_ line: String) {
        FileHandle.standardError.write(Data("notice: \(line)\n".utf8))
    }

    /// The child's reading, its errors given `context` (why it had to be read there).
    private static func inChildProcess(_ path: String, size: Int, context: String?) throws -> CheckpointFile {
        do {
            return try ChildParser.parse(path, size: size)
        } catch var error as CheckpointError {
            error.context = context
            throw error
        }
    }

    /// Tensors whose values are not what the stamp recorded, and tensors added or removed since.
    static func changedTensors(_ checkpoint: CheckpointFile, since stamp: FileStamp) -> [String] {
        let now = Dictionary(checkpoint.root.allTensors.map { ($0.path, CRC32C.of($0.tensor.values)) }, uniquingKeysWith: { a, _ in a })
        return Set(now.keys).union(stamp.tensorCRCs.keys).filter { now[$0] != stamp.tensorCRCs[$0] }.sorted()
    }

    /// Whether one of the tensor's chunks (as `chunkShape` lays them out) holds only zero bytes.
    static func hasZeroChunk(_ tensor: Tensor) -> Bool {
        guard let chunk = chunkShape(tensor.shape), let axis = chunk.firstIndex(where: { $0 != 1 }) ?? chunk.indices.last else {
            return false
        }
        // Axes before `axis` have chunks of 1 and those after it are whole, so along the flattened
        // values a chunk is a run of `chunk[axis]` rows of `inner` values, restarting every `outer`.
        let inner = tensor.shape[(axis + 1)...].reduce(1, *)
        let outer = tensor.shape[axis] * inner, run = chunk[axis] * inner
        return tensor.values.withUnsafeBufferPointer { values in
            stride(from: 0, to: values.count, by: outer).contains { block in
                stride(from: block, to: block + outer, by: run).contains { start in
                    values[start..<min(start + run, block + outer)].allSatisfy { $0.bitPattern == 0 }
                }
            }
        }
    }

    // MARK: Parsing with HDF5

    /// Parses a file's bytes with HDF5 in this process: only for bytes a stamp has verified, or in
    /// the child process (`rlhf _checkpoint-parse`) and the fuzzer. `label` names the file in errors.
    static func parse(image: UnsafeRawBufferPointer, label: String) throws -> CheckpointFile {
        try HDF5.exclusive {
            let file: HDF5File
            do { file = try HDF5File.openImage(image, label: label) } catch let error as HDF5Error {
                throw CheckpointError(reading: error, file: label)
            }
            defer { file.close() }
            do {
                // The format stamp first: another HDF5 file is refused before any of its data is read.
                let header = try Validation.header(try readAttributes(on: "/", in: file), file: label)
                let checkpoint = CheckpointFile(metadata: header.metadata,
                                                root: try readGroup("/", in: file, attributes: header.extras))
                try Validation.checkIndex(header.index, against: checkpoint, file: label)
                return checkpoint
            } catch let error as HDF5Error {
                throw CheckpointError(reading: error, file: label)
            }
        }
    }

    /// Reads a checkpoint from bytes in memory (`label` names it in errors). Only bytes that match
    /// their stamp are parsed; any others are refused, since a child process can read only a file.
    public static func read(image: UnsafeRawBufferPointer, label: String,
                            expect: CheckpointExpectation = CheckpointExpectation()) throws -> CheckpointFile {
        switch FileStamp.check(image) {
        case .verified:
            let checkpoint = try parse(image: image, label: label)
            try expect.check(checkpoint, file: label)
            return checkpoint
        case .mismatch(_, let why):
            throw CheckpointError(file: label, reason: .unreadable, detail: "bytes in memory are read only when they match their stamp",
                                  context: "file checksum mismatch: \(why)")
        case .damagedStamp(let why):
            throw CheckpointError(file: label, reason: .unreadable, detail: "bytes in memory are read only when they match their stamp",
                                  context: "file checksum mismatch: its stamp is damaged (\(why))")
        case .unstamped:
            try Validation.checkLooksLikeHDF5(image, file: label)
            throw CheckpointError(file: label, reason: .unreadable, detail: "no stamp: bytes in memory are read only when they match one")
        }
    }

    /// HDF5's parse of bytes no stamp vouches for, in this process: what the child process runs, and
    /// the fuzzer. Everyone else calls `read(from:)`.
    public static func _parseUnverified(image: UnsafeRawBufferPointer, label: String) throws -> CheckpointFile {
        try Validation.checkLooksLikeHDF5(image, file: label)
        return try parse(image: image, label: label)
    }

    /// What the child process (`rlhf _checkpoint-parse FILE`) does: reads `url` with HDF5 in this
    /// process, whatever its stamp says, and returns the stamped image of what it read. Never call it
    /// in a process that must survive a malformed file.
    public static func parseInChildProcess(_ url: URL) throws -> [UInt8] {
        let contents = try FileContents(reading: url.path)
        let checkpoint = try _parseUnverified(image: contents.bytes, label: url.path)
        let image = try checkpoint.stampedImage(label: url.path)
        return Array(image.bytes)
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
