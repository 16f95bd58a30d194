// Ranks as threads of one process, for testing the collectives without MPI: every rank gets its
// own `ThreadGroup`, messages go through per-(sender, receiver) FIFO mailboxes, so they arrive in
// order between two ranks as MPI guarantees.

import Collective
import Foundation

final class ThreadGroup: ProcessGroup, @unchecked Sendable {
    let rank: Int
    let size: Int
    private let mail: Mailboxes

    private init(rank: Int, size: Int, mail: Mailboxes) {
        self.rank = rank
        self.size = size
        self.mail = mail
    }

    /// Runs `body` on `size` threads, one per rank; returns each rank's result in rank order.
    static func run<T: Sendable>(size: Int, _ body: @escaping @Sendable (ThreadGroup) throws -> T) throws -> [T] {
        let mail = Mailboxes(size: size)
        let results = Results<T>(size)
        let done = DispatchGroup()
        for rank in 0..<size {
            done.enter()
            let thread = Thread {
                defer { done.leave() }
                results.set(rank, Result { try body(ThreadGroup(rank: rank, size: size, mail: mail)) })
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        done.wait()
        return try results.values.map { try $0!.get() }
    }

    func send(_ bytes: UnsafeRawBufferPointer, to rank: Int) throws(CollectiveError) { mail.put(Array(bytes), from: self.rank, to: rank) }

    func receive(into bytes: UnsafeMutableRawBufferPointer, from rank: Int) throws(CollectiveError) {
        let message = mail.take(from: rank, to: self.rank)
        guard message.count == bytes.count else {
            throw CollectiveError(operation: "receive", rank: self.rank, message: "\(message.count) bytes for a buffer of \(bytes.count)")
        }
        message.withUnsafeBytes { bytes.copyMemory(from: $0) }
    }

    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) throws(CollectiveError) {
        if rank == root {
            for other in 0..<size where other != root { mail.put(Array(bytes), from: root, to: other) }
        } else {
            try receive(into: bytes, from: root)
        }
    }

    func allGather(_ bytes: [UInt8]) throws(CollectiveError) -> [[UInt8]] {
        for other in 0..<size where other != rank { mail.put(bytes, from: rank, to: other) }
        return (0..<size).map { $0 == rank ? bytes : mail.take(from: $0, to: rank) }
    }

    func abort(code: Int32) -> Never { fatalError("rank \(rank) aborted with \(code)") }
}

private final class Mailboxes: @unchecked Sendable {
    private let condition = NSCondition()
    private var queues: [[[[UInt8]]]]

    init(size: Int) { queues = Array(repeating: Array(repeating: [], count: size), count: size) }

    func put(_ message: [UInt8], from: Int, to: Int) {
        condition.lock()
        queues[from][to].append(message)
        condition.broadcast()
        condition.unlock()
    }

    func take(from: Int, to: Int) -> [UInt8] {
        condition.lock()
        defer { condition.unlock() }
        while queues[from][to].isEmpty { condition.wait() }
        return queues[from][to].removeFirst()
    }
}

private final class Results<T>: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [Result<T, Error>?]
    init(_ size: Int) { values = Array(repeating: nil, count: size) }
    func set(_ index: Int, _ value: Result<T, Error>) {
        lock.lock()
        values[index] = value
        lock.unlock()
    }
}
