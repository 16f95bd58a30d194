// The commit protocol (DESIGN §3.3): a reader never finds a half-written file under a final name.
//
//   1. write NAME.tmp in the same folder (same file system, so step 3 is a rename, not a copy)
//   2. flush and close it, fsync it (its data is on disk before its name changes)
//   3. rename NAME.tmp over NAME (atomic on POSIX: readers see the old file or the new one)
//   4. fsync the folder (the rename itself survives a power cut)
//
// A crash leaves at most a stale NAME.tmp, which start-up removes and which is never taken for a
// checkpoint (it does not end in `.h5`).
//
// Tests kill a writer at chosen points of this protocol, whatever the machine's load, through a stop
// point (CommitStopPoint below): the writer stops itself there with SIGSTOP, the test sees it stopped
// and sends SIGKILL.

import Foundation
import Synchronization

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
        let stop = CommitStopPoint.next(final)
        do {
            try writeFile(temporary, contents, sync: durability == .fsync, reportAs: final, stopAfter: stop?.bytesWritten)
            if stop?.place == .beforeRename { CommitStopPoint.stopHere() }
            if rename(temporary, final) != 0 { throw CheckpointError.system("rename", errno: errno, file: final, path: temporary) }
        } catch {
            unlink(temporary)
            throw error
        }
        if stop?.place == .beforeFolderSync { CommitStopPoint.stopHere() }
        if durability == .fsync { try sync(folder, reportAs: final) }
    }

    /// Creates or truncates `path` (a stale temporary from a crash included) and writes all of `contents`.
    /// write(2) may write less than asked, or be interrupted by a signal: loop until done. With
    /// `stopAfter`, the process stops (SIGSTOP) once that many bytes are written (a test's stop point).
    private static func writeFile(_ path: String, _ bytes: UnsafeRawBufferPointer, sync: Bool, reportAs final: String,
                                  stopAfter: Int? = nil) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CheckpointError.system("open", errno: errno, file: final, path: path) }
        var closed = false
        defer { if !closed { close(fd) } }
        var offset = 0
        func writeAll(upTo end: Int) throws {
            while offset < end {
                let written = Glibc.write(fd, bytes.baseAddress! + offset, end - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw CheckpointError.system("write", errno: errno, file: final, path: path)
                }
                offset += written
            }
        }
        if let stopAfter {
            try writeAll(upTo: min(stopAfter, bytes.count))
            CommitStopPoint.stopHere()
        }
        try writeAll(upTo: bytes.count)
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

/// Where a test wants a writer stopped: `RLHF_TEST_STOP_IN_COMMIT=WHICH:WHERE` stops this process with
/// SIGSTOP inside one commit. WHICH is a number K (its K-th commit, counted from 1 since it started)
/// or the end of a path (`ppo/step-000004.h5`: the first commit of a file whose path ends so); WHERE
/// is `B` (after the first B bytes of NAME.tmp are written; the file's size or more: all of them,
/// before the fsync), `rename` (NAME.tmp complete and closed, before the rename) or `renamed` (after
/// the rename, before the folder's fsync). The test sees the process stopped and kills it there
/// (Tests/CheckpointTests/CrashTests.swift), however loaded the machine. Unset, nothing changes.
struct CommitStopPoint: Equatable {
    enum Which: Equatable { case commit(Int), path(String) }
    enum Place: Equatable { case inWrite, beforeRename, beforeFolderSync }
    var which: Which
    var place: Place
    var bytesWritten: Int? = nil

    static let variable = "RLHF_TEST_STOP_IN_COMMIT"
    private static let requested: CommitStopPoint? = ProcessInfo.processInfo.environment[variable].flatMap(parse)
    private static let commits = Atomic<Int>(0)
    private static let reached = Atomic<Bool>(false)

    /// The stop point if it falls in the commit of `path` starting now (each call counts one commit).
    static func next(_ path: String) -> CommitStopPoint? {
        guard let requested else { return nil }
        let commit = commits.wrappingAdd(1, ordering: .relaxed).newValue
        let matches = switch requested.which {
        case .commit(let k): commit == k
        case .path(let end): path.hasSuffix(end)
        }
        guard matches, !reached.exchange(true, ordering: .relaxed) else { return nil }
        return requested
    }

    static func parse(_ text: String) -> CommitStopPoint? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let (which, place) = (text[..<colon], text[text.index(after: colon)...])
        var point: CommitStopPoint
        if let k = Int(which) {
            guard k > 0 else { return nil }
            point = CommitStopPoint(which: .commit(k), place: .inWrite)
        } else {
            guard !which.isEmpty else { return nil }
            point = CommitStopPoint(which: .path(String(which)), place: .inWrite)
        }
        switch place {
        case "rename": point.place = .beforeRename
        case "renamed": point.place = .beforeFolderSync
        default:
            guard let bytes = Int(place), bytes >= 0 else { return nil }
            point.bytesWritten = bytes
        }
        return point
    }

    /// Stops the whole process until a SIGCONT (or the test's SIGKILL).
    static func stopHere() { raise(SIGSTOP) }
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
