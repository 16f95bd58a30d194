// A whole checkpoint file read into memory: what the stamp is checked against and, once it verifies,
// exactly the bytes HDF5 parses (from memory: a file changed on disk in between cannot slip past).

import Foundation

final class FileContents {
    let path: String
    private let memory: UnsafeMutableRawPointer?
    private let capacity: Int
    /// The bytes read.
    let count: Int

    /// Reads all of `path` (read(2) into an anonymous mapping advised to use huge pages: a checkpoint
    /// is hundreds of MB touched once). Missing, empty and unreadable files are CheckpointErrors.
    init(reading path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw CheckpointError(file: path, reason: .missingFile) }
            throw CheckpointError(file: path, reason: .unreadable, detail: String(cString: strerror(code)))
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw Self.failure(path, "fstat") }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw CheckpointError(file: path, reason: .unreadable, detail: "not a regular file") }
        let size = Int(status.st_size)
        guard size > 0 else { throw CheckpointError(file: path, reason: .emptyFile) }
        capacity = size
        let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let mapped, mapped != MAP_FAILED else { throw Self.failure(path, "mmap") }
        #if os(Linux)
        _ = madvise(mapped, size, 14)  // MADV_HUGEPAGE (not exported to Swift); a hint, fine to fail
        #endif
        memory = mapped
        var done = 0
        while done < size {
            let got = read(fd, mapped + done, size - done)
            if got < 0 {
                if errno == EINTR { continue }
                let error = Self.failure(path, "read")
                munmap(mapped, size)
                throw error
            }
            if got == 0 { break }  // shrank while reading: the stamp check will say so
            done += got
        }
        count = done
    }

    deinit { if let memory { munmap(memory, capacity) } }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: memory, count: count) }

    private static func failure(_ path: String, _ call: String) -> CheckpointError {
        CheckpointError(file: path, reason: .unreadable, detail: "\(call): \(String(cString: strerror(errno)))")
    }
}
