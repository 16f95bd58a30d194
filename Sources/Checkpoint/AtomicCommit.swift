// The commit protocol (DESIGN §3.3): a reader never finds a half-written file under a final name.
//
//   1. write NAME.tmp in the same folder (same file system, so step 3 is a rename, not a copy)
//   2. flush and close it, fsync it (its data is on disk before its name changes)
//   3. rename NAME.tmp over NAME (atomic on POSIX: readers see the old file or the new one)
//   4. fsync the folder (the rename itself survives a power cut)
//
// A crash leaves at most a stale NAME.tmp, which start-up removes and which is never taken for a
// checkpoint (it does not end in `.h5`).

import Foundation

/// How far a write goes before `write(to:)` returns.
public enum Durability: Sendable {
    /// The full protocol: data and rename survive a power cut. What training uses.
    case fsync
    /// Steps 1 and 3 only: atomic for readers and crashes of the process, not of the machine.
    /// For benchmarks of the write path and for tests.
    case pageCache
}

enum AtomicCommit {
    static let temporarySuffix = ".tmp"

    /// Commits `contents` to `url`. On failure the temporary file is removed and `url` is left as it was.
    static func commit(_ contents: UnsafeRawBufferPointer, to url: URL, durability: Durability) throws {
        let final = url.path
        let folder = url.deletingLastPathComponent().path
        let temporary = final + temporarySuffix
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError(file: final, reason: .writeFailed("cannot create folder \(folder): \(error.localizedDescription)"))
        }
        do {
            try writeFile(temporary, contents, sync: durability == .fsync, reportAs: final)
            if rename(temporary, final) != 0 { throw CheckpointError.system("rename", errno: errno, file: final, path: temporary) }
        } catch {
            unlink(temporary)
            throw error
        }
        if durability == .fsync { try sync(folder, reportAs: final) }
    }

    /// Creates or truncates `path` (a stale temporary from a crash included) and writes all of `contents`.
    /// write(2) may write less than asked, or be interrupted by a signal: loop until done.
    private static func writeFile(_ path: String, _ bytes: UnsafeRawBufferPointer, sync: Bool, reportAs final: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CheckpointError.system("open", errno: errno, file: final, path: path) }
        var closed = false
        defer { if !closed { close(fd) } }
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw CheckpointError.system("write", errno: errno, file: final, path: path)
            }
            offset += written
        }
        if sync, fsync(fd) != 0 { throw CheckpointError.system("fsync", errno: errno, file: final, path: path) }
        closed = true
        // close(2) can report a delayed write error (NFS, quotas): it counts.
        if close(fd) != 0 { throw CheckpointError.system("close", errno: errno, file: final, path: path) }
    }

    /// fsync(2) on a folder: makes the rename durable.
    private static func sync(_ path: String, reportAs final: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { throw CheckpointError.system("open", errno: errno, file: final, path: path) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw CheckpointError.system("fsync", errno: errno, file: final, path: path) }
    }
}

extension CheckpointFolder {
    /// Removes `*.h5.tmp` files left by an interrupted write and returns them. Call at start-up,
    /// while holding the job's lock (a concurrent writer's temporary file would be removed too).
    @discardableResult
    public func removeStaleTemporaries() throws -> [URL] {
        let stale = try contents().filter { $0.lastPathComponent.hasSuffix(".h5" + AtomicCommit.temporarySuffix) }
        for file in stale { try FileManager.default.removeItem(at: file) }
        return stale
    }
}
