// Tensors by name across one safetensors file or the shards of an index (`model.safetensors.index.json`):
//
//   {"metadata": {"total_size": 1234}, "weight_map": {"NAME": "model-00001-of-00002.safetensors", ...}}
//
// Every shard the index names is opened and its header verified before any tensor is read. Refused:
// a shard that is missing or not a plain file name beside the index, a tensor the index maps to a
// shard that does not hold it, a tensor held by two shards, and a tensor a shard holds that the index
// does not list (the index and the shards must describe the same set of tensors).

import JSON

public final class SafeTensorsArchive {
    /// The file that describes the archive: the single file, or the index.
    public let path: String
    /// The files, in the order first named.
    public let files: [SafeTensorsFile]
    /// Each tensor's file (index into `files`).
    private let location: [String: Int]

    /// One safetensors file.
    public init(file path: String) throws(SafeTensorsError) {
        let file = try SafeTensorsFile(path: path)
        self.path = path
        files = [file]
        location = Dictionary(file.names.map { ($0, 0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The shards listed by an index file, each looked for in the index's folder.
    public init(index path: String) throws(SafeTensorsError) {
        self.path = path
        func fail(_ key: String?, _ problem: String) -> SafeTensorsError { SafeTensorsError(file: path, key: key, problem) }
        let descriptor = try FileDescriptor(reading: path)
        let size = try descriptor.size()
        guard size <= SafeTensorsHeader.maximumHeaderLength else {
            throw fail(nil, "\(size) bytes is more than an index can be (limit \(SafeTensorsHeader.maximumHeaderLength))")
        }
        let text = try descriptor.read(count: size, at: 0)
        let json: JSONValue
        do throws(JSONSyntaxError) {
            json = try JSONValue.parse(text,
                                       options: JSONParseOptions(refuseDuplicateKeys: true, endOfInput: "the end of the file"))
        } catch {
            throw fail(nil, "not valid JSON: \(error)")
        }
        guard let weightMap = json.object?["weight_map"]?.object else {
            throw fail("weight_map", "is missing or not an object (an index maps each tensor name to its shard file)")
        }
        let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) + "/" : ""
        var shardNames: [String] = []
        var shardOf: [String: String] = [:]
        for name in weightMap.keys.sorted() {
            guard let shard = weightMap[name]!.string else {
                throw fail("weight_map.\(name)", "must be a shard file name, found \(weightMap[name]!.kind)")
            }
            guard !shard.isEmpty, !shard.contains("/"), shard != ".", shard != ".." else {
                throw fail("weight_map.\(name)", "\"\(shard)\" is not a file name beside the index")
            }
            if !shardNames.contains(shard) { shardNames.append(shard) }
            shardOf[name] = shard
        }
        var files: [SafeTensorsFile] = []
        var location: [String: Int] = [:]
        for (number, shard) in shardNames.enumerated() {
            let file: SafeTensorsFile
            do {
                file = try SafeTensorsFile(path: folder + shard)
            } catch where error.problem == "no such file" {
                let example = shardOf.keys.sorted().first { shardOf[$0] == shard }!
                throw fail("weight_map.\(example)", "names shard \(shard), which does not exist")
            }
            for name in file.names {
                if let other = location[name] {
                    throw SafeTensorsError(file: file.path, tensor: name, "is also in shard \(files[other].path); a tensor must be in one shard")
                }
                guard shardOf[name] != nil else {
                    throw SafeTensorsError(file: file.path, tensor: name, "is not listed in the index's weight_map (\(path))")
                }
                location[name] = number
            }
            files.append(file)
        }
        for name in shardOf.keys.sorted() where location[name] == nil {
            throw fail("weight_map.\(name)", "names shard \(shardOf[name]!), which does not hold it")
        }
        self.files = files
        self.location = location
    }

    /// Every tensor name, sorted.
    public var names: [String] { location.keys.sorted() }

    public subscript(name: String) -> SafeTensorsEntry? { location[name].flatMap { files[$0][name] } }

    /// The file a tensor is in.
    public func file(of name: String) -> SafeTensorsFile? { location[name].map { files[$0] } }

    /// The tensor's values as Float (see `SafeTensorsFile.floats`).
    public func floats(_ name: String) throws(SafeTensorsError) -> [Float] {
        guard let file = file(of: name) else { throw SafeTensorsError(file: path, tensor: name, "is not in the archive") }
        return try file.floats(name)
    }

    /// The `__metadata__` of the first file.
    public var metadata: [String: String]? { files.first?.metadata }
}
