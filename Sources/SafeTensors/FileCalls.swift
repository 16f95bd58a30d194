// Every system call of this target, in one place: open, fstat, pread, write, fsync, close. Each
// failure becomes a SafeTensorsError naming the file and carrying errno's text.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open file descriptor, closed when the value goes away.
final class FileDescriptor {
    let path: String
    private let fd: Int32

    /// Opens `path` for reading.
    init(reading path: String) throws(SafeTensorsError) {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw SafeTensorsError(file: path, code == ENOENT ? "no such file" : "cannot open: \(Self.text(code))",
                                   isSystemFailure: code != ENOENT)
        }
        var status = stat()
        if fstat(fd, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw SafeTensorsError(file: path, "is a folder, not a safetensors file")
        }
    }

    /// Creates (or truncates) `path` for writing.
    init(creating path: String) throws(SafeTensorsError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SafeTensorsError(file: path, "cannot create: \(Self.text(errno))", isSystemFailure: true) }
    }

    deinit { close(fd) }

    func size() throws(SafeTensorsError) -> Int {
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw failure("fstat") }
        return Int(status.st_size)
    }

    /// Up to `count` bytes from `offset` into `buffer`: fewer only at the end of the file.
    func read(into buffer: inout [UInt8], count: Int, at offset: Int) throws(SafeTensorsError) -> Int {
        precondition(count <= buffer.count)
        var done = 0
        while done < count {
            let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if got < 0 {
                if errno == EINTR { continue }
                throw failure("read")
            }
            if got == 0 { break }
            done += got
        }
        return done
    }

    /// Exactly `count` bytes from `offset`, or an error saying the file is truncated.
    func read(count: Int, at offset: Int) throws(SafeTensorsError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let got = try read(into: &buffer, count: count, at: offset)
        guard got == count else {
            throw SafeTensorsError(file: path, "truncated: the file ends at byte \(offset + got), expected \(offset + count) bytes")
        }
        return buffer
    }

    /// The first `count` of `bytes` (all by default), retrying short writes and signals.
    func write(_ bytes: [UInt8], count: Int? = nil) throws(SafeTensorsError) {
        let total = count ?? bytes.count
        var done = 0
        while done < total {
            let wrote = bytes.withUnsafeBytes { systemWrite(fd, $0.baseAddress! + done, total - done) }
            if wrote < 0 {
                if errno == EINTR { continue }
                throw failure("write")
            }
            done += wrote
        }
    }

    func sync() throws(SafeTensorsError) {
        guard fsync(fd) == 0 else { throw failure("fsync") }
    }

    private func failure(_ call: String) -> SafeTensorsError {
        SafeTensorsError(file: path, "\(call) failed: \(Self.text(errno))", isSystemFailure: true)
    }

    static func text(_ code: Int32) -> String { String(cString: strerror(code)) }
}

#if canImport(Glibc)
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
private let systemWrite = Darwin.write
#endif
