// An exclusive lock on a file, with flock(2): held while the descriptor is open, released by the
// kernel when the process exits in any way (SIGKILL, OOM, power-off of a container), so a lock can
// never be left behind by a dead holder. That is what lets the queue tell a crashed job (its state
// says running, its lock is free) from a running one.
//
// flock locks belong to an open file description: two `FileLock`s on one path conflict even within
// one process, which the tests rely on.

import Foundation

public final class FileLock {
    public let path: String
    private var descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit { release() }

    /// Takes the lock without waiting; nil when another holder has it. The file (and its folder) is
    /// created when missing.
    public static func tryAcquire(_ path: String) throws -> FileLock? { try acquire(path, wait: false) }

    /// Takes the lock, waiting for the holder to release it (for short critical sections only).
    public static func acquire(_ path: String) throws -> FileLock { try acquire(path, wait: true)! }

    private static func acquire(_ path: String, wait: Bool) throws -> FileLock? {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw JobError.system(path: path, call: "open", code: errno) }
        while flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
            let code = errno
            if code == EINTR { continue }
            close(fd)
            if code == EWOULDBLOCK { return nil }
            throw JobError.system(path: path, call: "flock", code: code)
        }
        return FileLock(path: path, descriptor: fd)
    }

    /// True when some process holds the lock at `path` (a missing file is never locked).
    public static func isHeld(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return false }
        return errno == EWOULDBLOCK
    }

    /// Releases the lock (also done on deinit and by the kernel at exit).
    public func release() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }
}
