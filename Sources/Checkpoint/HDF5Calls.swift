// The only file that calls HDF5. Each call's result is checked here; a failure becomes an HDF5Error
// carrying HDF5's error stack. Everything above this file speaks in paths, shapes and Swift values.
//
// HDF5 (Debian's build is thread-safe) serialises every API call on one global lock and keeps an
// error stack per thread, printing it to stderr unless told not to on that thread. So every file
// operation runs inside `HDF5.exclusive`, which holds our own lock for the whole operation and
// silences printing on the calling thread first.

import CHDF5
import Foundation

enum HDF5 {
    private static let lock = NSRecursiveLock()

    /// Runs one whole file operation: serialised across threads, HDF5's stderr printing silenced.
    static func exclusive<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        _ = chdf5_silence_errors()
        return try body()
    }

    /// Whether `path` starts with the HDF5 signature (false for any other file).
    static func isHDF5(_ path: String) -> Bool { H5Fis_hdf5(path) > 0 }

    /// Copies and clears this thread's HDF5 error stack, outermost frame first.
    static func takeErrorStack() -> [HDF5ErrorFrame] {
        let stack = H5Eget_current_stack()
        guard stack >= 0 else { return [] }
        defer { H5Eclose_stack(stack) }
        var frames: [HDF5ErrorFrame] = []
        withUnsafeMutablePointer(to: &frames) { frames in
            _ = H5Ewalk2(stack, H5E_WALK_DOWNWARD, { _, entry, context in
                guard let entry, let context else { return 0 }
                let frame = HDF5ErrorFrame(
                    function: entry.pointee.func_name.map { String(cString: $0) } ?? "?",
                    message: entry.pointee.desc.map { String(cString: $0) } ?? "")
                context.assumingMemoryBound(to: [HDF5ErrorFrame].self).pointee.append(frame)
                return 0
            }, frames)
        }
        return frames
    }
}

/// What a link inside a group points at.
enum HDF5ObjectKind { case group, dataset, other }

/// A dataset's description and, when it holds 32-bit floats, its values (checksum verified by HDF5).
struct HDF5Dataset {
    var shape: [Int]
    /// The stored element type, e.g. `float32`, `int64`.
    var typeName: String
    var hasFletcher32: Bool
    var values: [Float]?
}

/// The bytes of a closed in-memory HDF5 file (mapped by the shim's allocator, unmapped here).
final class FileImage {
    private var memory: chdf5_image
    /// The file's length: its superblock's end-of-file address (the memory is rounded up beyond it).
    let count: Int

    /// `superblock`: where the superblock starts (after the user block).
    init(_ memory: chdf5_image, superblock: Int) {
        self.memory = memory
        count = memory.data.map { Self.endOfFile(UnsafeRawBufferPointer(start: $0, count: memory.capacity), superblock: superblock) } ?? 0
    }

    deinit { chdf5_image_release(&memory) }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: memory.data, count: count) }
    /// For writing the stamp into the user block.
    var mutableBytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: memory.data, count: count) }

    /// Superblock version 2 or 3 (what the 1.8+ format bound gives): signature (8), version, offset
    /// size, length size, flags, then base address, extension address and end-of-file address, each
    /// `offset size` bytes, little-endian; addresses are relative to the base address (the
    /// superblock's own position). Anything unexpected: the whole memory (a longer file reads fine).
    static func endOfFile(_ memory: UnsafeRawBufferPointer, superblock at: Int) -> Int {
        guard memory.count >= at + 48, memory[at + 8] == 2 || memory[at + 8] == 3, memory[at + 9] == 8 else { return memory.count }
        func address(_ offset: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(memory[at + offset + $1]) << (8 * UInt64($1)) } }
        let (base, eof) = (address(12), address(28))
        guard eof > 0, base <= UInt64(memory.count), eof <= UInt64(memory.count) - base else { return memory.count }
        return Int(base + eof)
    }
}

/// An open HDF5 file. Calls must run inside `HDF5.exclusive`; `close()` must be called.
struct HDF5File {
    let id: hid_t
    let path: String
    /// The memory of a file created in memory, nil for files on disk.
    var image: UnsafeMutablePointer<chdf5_image>? = nil
    /// The caller's bytes a file opened with `openImage` reads from.
    var view: UnsafeMutablePointer<chdf5_view>? = nil
    /// The most float values a dataset may claim (a file's bytes bound them): a malformed size is
    /// refused instead of allocated.
    var valueLimit = Int.max

    // MARK: Checking results

    /// Throws an HDF5Error for a negative result (HDF5's failure convention), else returns it.
    @discardableResult
    private func check<R: BinaryInteger>(_ result: R, _ call: String, _ object: String) throws -> R {
        if result < 0 { throw HDF5Error(call: call, file: path, object: object, frames: HDF5.takeErrorStack()) }
        return result
    }

    @discardableResult
    private static func check<R: BinaryInteger>(_ result: R, _ call: String, _ path: String) throws -> R {
        if result < 0 { throw HDF5Error(call: call, file: path, object: "/", frames: HDF5.takeErrorStack()) }
        return result
    }

    // MARK: Files

    /// File access settings for reading: any object format from 1.8 on, and a strong close degree so
    /// `H5Fclose` closes everything.
    private static func fileAccess(_ path: String) throws -> hid_t {
        let fapl = try check(H5Pcreate(chdf5_p_file_access()), "H5Pcreate", path)
        try check(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, chdf5_libver_latest()), "H5Pset_libver_bounds", path)
        try check(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG), "H5Pset_fclose_degree", path)
        return fapl
    }

    /// A new file built in memory (HDF5's core driver, no backing store), whose bytes `closeTakingImage()`
    /// hands over. HDF5 never touches the disk while writing, so a full disk cannot strand it half-closed
    /// (HDF5 1.10 then crashes at exit); AtomicCommit writes the bytes itself. `label` names the file in
    /// errors; `sizeHint` is the expected size, so the memory is allocated once. The first `userBlock`
    /// bytes are left empty for the stamp (a power of two ≥ 512; HDF5's user block).
    ///
    /// Written in the 1.10 object format, whose every piece of metadata carries a checksum (superblock
    /// v3, object headers v2, fixed-array chunk indexes): the 1.8 format's chunk index (a version 1
    /// B-tree) has none, and damage to it can make HDF5 read a wrong chunk without complaint.
    static func createInMemory(label: String, sizeHint: Int, userBlock: Int) throws -> HDF5File {
        let image = UnsafeMutablePointer<chdf5_image>.allocate(capacity: 1)
        image.initialize(to: chdf5_image(data: nil, capacity: 0))
        do {
            let fapl = try fileAccess(label)
            defer { H5Pclose(fapl) }
            try check(H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, chdf5_libver_latest()), "H5Pset_libver_bounds", label)
            try check(H5Pset_fapl_core(fapl, max(1 << 20, sizeHint), false), "H5Pset_fapl_core", label)
            try check(chdf5_keep_image(fapl, image), "H5Pset_file_image_callbacks", label)
            let fcpl = try check(H5Pcreate(chdf5_p_file_create()), "H5Pcreate", label)
            defer { H5Pclose(fcpl) }
            try check(H5Pset_userblock(fcpl, hsize_t(userBlock)), "H5Pset_userblock", label)
            let id = try check(H5Fcreate(label, chdf5_f_acc_trunc(), fcpl, fapl), "H5Fcreate", label)
            return HDF5File(id: id, path: label, image: image, userBlock: userBlock)
        } catch {
            image.deallocate()
            throw error
        }
    }

    /// Where the superblock of a file made by `createInMemory` starts.
    var userBlock = 0

    /// Closes a file made by `createInMemory` and returns its bytes: exactly the file a disk-backed
    /// close would have left.
    func closeTakingImage() throws -> FileImage {
        guard let image else { preconditionFailure("not an in-memory file") }
        defer { image.deallocate() }
        let closed = H5Fclose(id)
        let memory = FileImage(image.pointee, superblock: userBlock)
        if closed < 0 { throw HDF5Error(call: "H5Fclose", file: path, object: "/", frames: HDF5.takeErrorStack()) }
        return memory
    }

    /// Opens a file from bytes in memory, read-only (the core driver reads the caller's bytes in place:
    /// they must outlive the file). `label` names it in errors.
    static func openImage(_ bytes: UnsafeRawBufferPointer, label: String) throws -> HDF5File {
        let view = UnsafeMutablePointer<chdf5_view>.allocate(capacity: 1)
        view.initialize(to: chdf5_view(data: UnsafeMutableRawPointer(mutating: bytes.baseAddress), size: bytes.count))
        do {
            let fapl = try fileAccess(label)
            defer { H5Pclose(fapl) }
            try check(H5Pset_fapl_core(fapl, 1 << 20, false), "H5Pset_fapl_core", label)
            try check(chdf5_open_view(fapl, view), "H5Pset_file_image", label)
            // The core driver refuses to open an image under the name of a file that exists on disk.
            let id = try check(H5Fopen("/dev/null/swift-rlhf-image", chdf5_f_acc_rdonly(), fapl), "H5Fopen", label)
            var file = HDF5File(id: id, path: label, view: view)
            file.valueLimit = max(1 << 20, bytes.count)  // no compression: a dataset's values take 4 bytes each
            return file
        } catch {
            view.deallocate()
            throw error
        }
    }

    static func openReadWrite(_ path: String) throws -> HDF5File {
        HDF5File(id: try check(H5Fopen(path, chdf5_f_acc_rdwr(), chdf5_p_default()), "H5Fopen", path), path: path)
    }

    /// Closes without reporting errors: for a file being abandoned after a failure, or read-only.
    /// An in-memory file's memory is freed too.
    func close() {
        if image != nil { _ = try? closeTakingImage() } else { H5Fclose(id) }
        view?.deallocate()
    }

    // MARK: Writing

    func createGroup(_ group: String) throws {
        H5Gclose(try check(H5Gcreate2(id, group, chdf5_p_default(), chdf5_p_default(), chdf5_p_default()),
                           "H5Gcreate2", group))
    }

    /// Writes a float32 dataset. With `chunk` the layout is chunked with the Fletcher-32 filter
    /// (filters need chunks); without it (scalars and empty arrays, which HDF5 cannot chunk) the
    /// values are stored compact, inside the dataset's object header, under that header's checksum.
    func writeFloats(_ dataset: String, shape: [Int], chunk: [Int]?, values: UnsafeBufferPointer<Float>) throws {
        let space = try dataspace(shape, dataset)
        defer { H5Sclose(space) }
        let dcpl = try check(H5Pcreate(chdf5_p_dataset_create()), "H5Pcreate", dataset)
        defer { H5Pclose(dcpl) }
        if let chunk {
            try check(H5Pset_chunk(dcpl, Int32(chunk.count), chunk.map { hsize_t($0) }), "H5Pset_chunk", dataset)
            try check(H5Pset_fletcher32(dcpl), "H5Pset_fletcher32", dataset)
        } else {
            try check(H5Pset_layout(dcpl, H5D_COMPACT), "H5Pset_layout", dataset)
        }
        let dset = try check(H5Dcreate2(id, dataset, chdf5_ieee_f32le(), space, chdf5_p_default(), dcpl,
                                        chdf5_p_default()), "H5Dcreate2", dataset)
        defer { H5Dclose(dset) }
        if !values.isEmpty {
            try check(H5Dwrite(dset, chdf5_native_float(), chdf5_s_all(), chdf5_s_all(), chdf5_p_default(),
                               values.baseAddress), "H5Dwrite", dataset)
        }
    }

    /// A scalar dataspace for shape `[]`, else a simple one.
    private func dataspace(_ shape: [Int], _ object: String) throws -> hid_t {
        if shape.isEmpty { return try check(H5Screate(H5S_SCALAR), "H5Screate", object) }
        return try check(H5Screate_simple(Int32(shape.count), shape.map { hsize_t($0) }, nil), "H5Screate_simple", object)
    }

    /// Writes an attribute on the object at `object` (a group or dataset path).
    func writeAttribute(_ name: String, on object: String, _ value: AttributeValue) throws {
        let label = "\(object)@\(name)"
        switch value {
        case .string(let text), .json(let text):
            var bytes = Array(text.utf8)
            if bytes.isEmpty { bytes = [0] }  // HDF5 strings have at least one byte; NUL padding reads back as ""
            let type = try check(H5Tcopy(chdf5_c_s1()), "H5Tcopy", label)
            defer { H5Tclose(type) }
            try check(H5Tset_size(type, bytes.count), "H5Tset_size", label)
            try check(H5Tset_strpad(type, H5T_STR_NULLPAD), "H5Tset_strpad", label)
            try check(H5Tset_cset(type, H5T_CSET_UTF8), "H5Tset_cset", label)
            try writeAttribute(label, name, on: object, fileType: type, memoryType: type, shape: [], bytes)
        case .int64(let v): try writeAttribute(label, name, on: object, fileType: chdf5_std_i64le(), memoryType: chdf5_native_int64(), shape: [], [v])
        case .double(let v): try writeAttribute(label, name, on: object, fileType: chdf5_ieee_f64le(), memoryType: chdf5_native_double(), shape: [], [v])
        case .int64s(let v): try writeAttribute(label, name, on: object, fileType: chdf5_std_i64le(), memoryType: chdf5_native_int64(), shape: [v.count], v)
        case .uint64s(let v): try writeAttribute(label, name, on: object, fileType: chdf5_std_u64le(), memoryType: chdf5_native_uint64(), shape: [v.count], v)
        case .floats(let v): try writeAttribute(label, name, on: object, fileType: chdf5_ieee_f32le(), memoryType: chdf5_native_float(), shape: [v.count], v)
        case .doubles(let v): try writeAttribute(label, name, on: object, fileType: chdf5_ieee_f64le(), memoryType: chdf5_native_double(), shape: [v.count], v)
        }
    }

    private func writeAttribute<T>(_ label: String, _ name: String, on object: String, fileType: hid_t, memoryType: hid_t,
                                   shape: [Int], _ values: [T]) throws {
        let space = try dataspace(shape, label)
        defer { H5Sclose(space) }
        let attr = try check(H5Acreate_by_name(id, object, name, fileType, space, chdf5_p_default(), chdf5_p_default(),
                                               chdf5_p_default()), "H5Acreate_by_name", label)
        defer { H5Aclose(attr) }
        try values.withUnsafeBytes { _ = try check(H5Awrite(attr, memoryType, $0.baseAddress), "H5Awrite", label) }
    }

    // MARK: Reading

    /// The links of a group, sorted by name, with what each points at.
    func children(of group: String) throws -> [(name: String, kind: HDF5ObjectKind)] {
        let gid = try check(H5Gopen2(id, group, chdf5_p_default()), "H5Gopen2", group)
        defer { H5Gclose(gid) }
        var info = H5G_info_t()
        try check(H5Gget_info(gid, &info), "H5Gget_info", group)
        return try (0..<info.nlinks).map { index in
            let name = try string("H5Lget_name_by_idx", group) { buffer, size in
                H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, index, buffer, size, chdf5_p_default())
            }
            let child = (group == "/" ? "" : group) + "/" + name
            let object = try check(H5Oopen(gid, name, chdf5_p_default()), "H5Oopen", child)
            defer { H5Oclose(object) }
            let kind: HDF5ObjectKind = switch H5Iget_type(object) {
            case H5I_GROUP: .group
            case H5I_DATASET: .dataset
            default: .other
            }
            return (name, kind)
        }
    }

    /// The names of the attributes on a group or dataset, sorted.
    func attributeNames(on object: String) throws -> [String] {
        let oid = try check(H5Oopen(id, object, chdf5_p_default()), "H5Oopen", object)
        defer { H5Oclose(oid) }
        var info = H5O_info_t()
        try check(H5Oget_info2(oid, &info, UInt32(H5O_INFO_NUM_ATTRS)), "H5Oget_info2", object)
        return try (0..<hsize_t(info.num_attrs)).map { index in
            try string("H5Aget_name_by_idx", object) { buffer, size in
                H5Aget_name_by_idx(oid, ".", H5_INDEX_NAME, H5_ITER_INC, index, buffer, size, chdf5_p_default())
            }
        }
    }

    /// Calls a "name into buffer" function twice: once for the length, once for the text.
    private func string(_ call: String, _ object: String,
                        _ body: (UnsafeMutablePointer<CChar>?, Int) -> Int) throws -> String {
        let length = try check(body(nil, 0), call, object)
        var buffer = [CChar](repeating: 0, count: length + 1)
        try check(body(&buffer, length + 1), call, object)
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Reads one attribute into the closest AttributeValue: strings (fixed or variable length; JSON
    /// when the name ends in `_json`), scalar integers and floats, and 1-D integer and float arrays.
    func readAttribute(_ name: String, on object: String) throws -> AttributeValue {
        let label = "\(object)@\(name)"
        let attr = try check(H5Aopen_by_name(id, object, name, chdf5_p_default(), chdf5_p_default()), "H5Aopen_by_name", label)
        defer { H5Aclose(attr) }
        let type = try check(H5Aget_type(attr), "H5Aget_type", label)
        defer { H5Tclose(type) }
        let space = try check(H5Aget_space(attr), "H5Aget_space", label)
        defer { H5Sclose(space) }
        let count = Int(try check(H5Sget_simple_extent_npoints(space), "H5Sget_simple_extent_npoints", label))
        let scalar = H5Sget_simple_extent_type(space) == H5S_SCALAR
        func read<T>(_ memoryType: hid_t, _ zero: T) throws -> [T] {
            var values = [T](repeating: zero, count: count)
            if count > 0 { try values.withUnsafeMutableBytes { _ = try check(H5Aread(attr, memoryType, $0.baseAddress), "H5Aread", label) } }
            return values
        }
        switch H5Tget_class(type) {
        case H5T_STRING:
            guard scalar else { throw unsupported(label, "an array of strings") }
            let text = try readString(attr, type, label)
            return name.hasSuffix("_json") ? .json(text) : .string(text)
        case H5T_INTEGER:
            if scalar { return .int64(try read(chdf5_native_int64(), Int64(0))[0]) }
            return H5Tget_sign(type) == H5T_SGN_NONE ? .uint64s(try read(chdf5_native_uint64(), UInt64(0)))
                                                     : .int64s(try read(chdf5_native_int64(), Int64(0)))
        case H5T_FLOAT:
            if scalar { return .double(try read(chdf5_native_double(), 0.0)[0]) }
            return H5Tget_size(type) == 4 ? .floats(try read(chdf5_native_float(), Float(0)))
                                          : .doubles(try read(chdf5_native_double(), 0.0))
        default:
            throw unsupported(label, "HDF5 type class \(H5Tget_class(type).rawValue)")
        }
    }

    private func readString(_ attr: hid_t, _ type: hid_t, _ label: String) throws -> String {
        if H5Tis_variable_str(type) > 0 {  // as h5py writes them
            let memory = try check(H5Tcopy(chdf5_c_s1()), "H5Tcopy", label)
            defer { H5Tclose(memory) }
            try check(H5Tset_size(memory, chdf5_variable()), "H5Tset_size", label)
            try check(H5Tset_cset(memory, H5Tget_cset(type)), "H5Tset_cset", label)  // HDF5 won't convert ASCII ⇄ UTF-8
            var pointer: UnsafeMutablePointer<CChar>? = nil
            try check(H5Aread(attr, memory, &pointer), "H5Aread", label)
            defer { H5free_memory(pointer) }
            return pointer.map { String(cString: $0) } ?? ""
        }
        var bytes = [UInt8](repeating: 0, count: H5Tget_size(type))
        try check(H5Aread(attr, type, &bytes), "H5Aread", label)
        while bytes.last == 0 { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func unsupported(_ object: String, _ what: String) -> HDF5Error {
        HDF5Error(call: "H5Aread", file: path, object: object,
                  frames: [HDF5ErrorFrame(function: "Checkpoint", message: "unsupported attribute type: \(what)")])
    }

    /// Describes a dataset and, when it stores 32-bit floats, reads its values (HDF5 verifies the
    /// Fletcher-32 checksum of every chunk as it reads and fails the read on a mismatch).
    func readDataset(_ dataset: String) throws -> HDF5Dataset {
        let dset = try check(H5Dopen2(id, dataset, chdf5_p_default()), "H5Dopen2", dataset)
        defer { H5Dclose(dset) }
        let space = try check(H5Dget_space(dset), "H5Dget_space", dataset)
        defer { H5Sclose(space) }
        let rank = Int(try check(H5Sget_simple_extent_ndims(space), "H5Sget_simple_extent_ndims", dataset))
        var dims = [hsize_t](repeating: 0, count: rank)
        try check(H5Sget_simple_extent_dims(space, &dims, nil), "H5Sget_simple_extent_dims", dataset)
        let type = try check(H5Dget_type(dset), "H5Dget_type", dataset)
        defer { H5Tclose(type) }
        let dcpl = try check(H5Dget_create_plist(dset), "H5Dget_create_plist", dataset)
        defer { H5Pclose(dcpl) }
        var hasFletcher32 = false
        for index in 0..<UInt32(try check(H5Pget_nfilters(dcpl), "H5Pget_nfilters", dataset)) {
            var flags: UInt32 = 0, parameterCount = 0, config: UInt32 = 0
            let filter = H5Pget_filter2(dcpl, index, &flags, &parameterCount, nil, 0, nil, &config)
            if filter == H5Z_FILTER_FLETCHER32 { hasFletcher32 = true }
        }
        let size = H5Tget_size(type)
        let typeName = switch H5Tget_class(type) {
        case H5T_FLOAT: "float\(size * 8)"
        case H5T_INTEGER: (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + "\(size * 8)"
        case H5T_STRING: "string"
        default: "HDF5 type class \(H5Tget_class(type).rawValue)"
        }
        var count = 1
        for dim in dims {
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(clamping: dim))
            guard !overflow, product <= valueLimit else {
                throw HDF5Error(call: "H5Sget_simple_extent_dims", file: path, object: dataset, frames: [HDF5ErrorFrame(
                    function: "Checkpoint", message: "its shape \(dims) holds more values than the file has bytes")])
            }
            count = product
        }
        var result = HDF5Dataset(shape: dims.map { Int($0) }, typeName: typeName, hasFletcher32: hasFletcher32, values: nil)
        guard typeName == "float32" else { return result }
        result.values = try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 {
                try check(H5Dread(dset, chdf5_native_float(), chdf5_s_all(), chdf5_s_all(), chdf5_p_default(),
                                  buffer.baseAddress), "H5Dread", dataset)
            }
            initialized = count
        }
        return result
    }

    // MARK: Editing (tests use it to damage files the way the world does)

    /// Removes the link to an object, as `del f[path]` in h5py does.
    func unlink(_ object: String) throws {
        try check(H5Ldelete(id, object, chdf5_p_default()), "H5Ldelete", object)
    }

    /// Removes an attribute from an object.
    func deleteAttribute(_ name: String, on object: String) throws {
        try check(H5Adelete_by_name(id, object, name, chdf5_p_default()), "H5Adelete_by_name", "\(object)@\(name)")
    }
}
