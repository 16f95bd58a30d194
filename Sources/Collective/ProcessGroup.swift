// The processes that run one job together: ranks 0..<size, each with the whole model and its share of
// every batch (data parallelism, docs/cluster.md). One process is a group of one, and every
// collective below is then free. Under `mpirun` the group is MPI's world (the CollectiveMPI target,
// built only with RLHF_MPI=1); tests run several ranks as threads of one process.
//
// The protocol holds only the primitives an implementation must provide; the algorithms built on
// them — the fixed-order sum of gradients (OrderedSum.swift), gathering metrics, agreeing to stop —
// are written once, in extensions, against these primitives.

/// Why a collective operation failed: the operation, this process's rank, and the library's message.
public struct CollectiveError: Error, CustomStringConvertible, Equatable, Sendable {
    public var operation: String
    public var rank: Int
    public var message: String

    public init(operation: String, rank: Int, message: String) {
        self.operation = operation
        self.rank = rank
        self.message = message
    }

    public var description: String { "rank \(rank): \(operation) failed: \(message)" }
}

public protocol ProcessGroup: AnyObject, Sendable {
    /// This process's number, 0..<size. Rank 0 alone writes checkpoints and logs.
    var rank: Int { get }
    var size: Int { get }
    /// Sends `bytes` to `rank`; returns when the buffer may be reused.
    func send(_ bytes: UnsafeRawBufferPointer, to rank: Int) throws(CollectiveError)
    /// Receives exactly `bytes.count` bytes sent by `rank` (messages between two ranks arrive in order).
    func receive(into bytes: UnsafeMutableRawBufferPointer, from rank: Int) throws(CollectiveError)
    /// Copies `root`'s bytes into every other rank's `bytes` (same count everywhere).
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) throws(CollectiveError)
    /// Every rank's bytes (of any length), in rank order, on every rank.
    func allGather(_ bytes: [UInt8]) throws(CollectiveError) -> [[UInt8]]
    /// Ends every process of the group at once with `code`: for a failure on one rank that the
    /// others, waiting in a collective, cannot learn about.
    func abort(code: Int32) -> Never
}

/// One process: a group of one.
public final class SingleProcess: ProcessGroup {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func send(_ bytes: UnsafeRawBufferPointer, to rank: Int) throws(CollectiveError) {
        throw CollectiveError(operation: "send to rank \(rank)", rank: 0, message: "a single process has no other rank")
    }
    public func receive(into bytes: UnsafeMutableRawBufferPointer, from rank: Int) throws(CollectiveError) {
        throw CollectiveError(operation: "receive from rank \(rank)", rank: 0, message: "a single process has no other rank")
    }
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) throws(CollectiveError) {}
    public func allGather(_ bytes: [UInt8]) throws(CollectiveError) -> [[UInt8]] { [bytes] }
    public func abort(code: Int32) -> Never { exit(code) }
}

// MARK: - Small collectives built on the primitives

extension ProcessGroup {
    public var isRoot: Bool { rank == 0 }

    /// True on every rank when `flag` is true on any (e.g. a signal reached one of them).
    public func any(_ flag: Bool) throws(CollectiveError) -> Bool {
        guard size > 1 else { return flag }
        return try allGather([flag ? 1 : 0]).contains { $0.first == 1 }
    }

    /// Waits until every rank has arrived.
    public func barrier() throws(CollectiveError) { _ = try any(false) }

    /// Every rank's doubles, in rank order (bit patterns travel unchanged).
    public func allGather(_ values: [Double]) throws(CollectiveError) -> [[Double]] {
        guard size > 1 else { return [values] }
        let bytes = values.withUnsafeBytes { Array($0) }
        return try allGather(bytes).map { part in
            part.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
        }
    }

    /// `root`'s string on every rank.
    public func broadcast(_ text: String, from root: Int) throws(CollectiveError) -> String {
        guard size > 1 else { return text }
        let parts = try allGather(rank == root ? Array(text.utf8) : [])
        return String(decoding: parts[root], as: UTF8.self)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Another group's operations, counting the bytes this rank sends and receives (for benchmarks and
/// the scaling figures of docs/cluster.md). A broadcast counts as sent by the root and received by
/// the others; an all-gather as this rank's bytes sent and the others' received.
public final class CountingGroup: ProcessGroup, @unchecked Sendable {
    public let group: ProcessGroup
    public private(set) var sentBytes = 0
    public private(set) var receivedBytes = 0

    public init(_ group: ProcessGroup) { self.group = group }

    public var rank: Int { group.rank }
    public var size: Int { group.size }

    public func send(_ bytes: UnsafeRawBufferPointer, to rank: Int) throws(CollectiveError) {
        try group.send(bytes, to: rank)
        sentBytes += bytes.count
    }

    public func receive(into bytes: UnsafeMutableRawBufferPointer, from rank: Int) throws(CollectiveError) {
        try group.receive(into: bytes, from: rank)
        receivedBytes += bytes.count
    }

    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) throws(CollectiveError) {
        try group.broadcast(bytes, from: root)
        if rank == root { sentBytes += bytes.count } else { receivedBytes += bytes.count }
    }

    public func allGather(_ bytes: [UInt8]) throws(CollectiveError) -> [[UInt8]] {
        let all = try group.allGather(bytes)
        sentBytes += bytes.count
        receivedBytes += all.enumerated().filter { $0.offset != rank }.reduce(0) { $0 + $1.element.count }
        return all
    }

    public func abort(code: Int32) -> Never { group.abort(code: code) }

    public func resetCounts() {
        sentBytes = 0
        receivedBytes = 0
    }
}
