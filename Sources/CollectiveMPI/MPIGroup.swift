// MPI's world as a ProcessGroup: what `mpirun -np N rlhf run …` (or srun in an allocation) gives
// each process. Built only with RLHF_MPI=1; MPICalls.swift makes the calls.

import Collective

public final class MPIGroup: ProcessGroup, @unchecked Sendable {
    public let rank: Int
    public let size: Int

    private init(rank: Int, size: Int) {
        self.rank = rank
        self.size = size
    }

    /// Whether an MPI launcher started this process (otherwise MPI is not initialised at all, and the
    /// binary runs as one process, exactly like one built without MPI).
    public static var launched: Bool { MPI.launched }

    /// Initialises MPI and returns the world.
    public static func world() throws(MPIError) -> MPIGroup {
        let (rank, size) = try MPI.initialize().get()
        return MPIGroup(rank: rank, size: size)
    }

    /// MPI_Finalize: call once, after the last collective, before exiting normally.
    public func finish() throws(MPIError) { try MPI.finalize().get() }

    public func send(_ bytes: UnsafeRawBufferPointer, to rank: Int) throws(CollectiveError) {
        try lift(MPI.send(bytes, to: rank), "send")
    }

    public func receive(into bytes: UnsafeMutableRawBufferPointer, from rank: Int) throws(CollectiveError) {
        try lift(MPI.receive(into: bytes, from: rank), "receive")
    }

    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) throws(CollectiveError) {
        try lift(MPI.broadcast(bytes, from: root), "broadcast")
    }

    public func allGather(_ bytes: [UInt8]) throws(CollectiveError) -> [[UInt8]] {
        try lift(MPI.allGather(bytes, size: size), "all-gather")
    }

    public func abort(code: Int32) -> Never { MPI.abort(code: code) }

    private func lift<T>(_ result: Result<T, MPIError>, _ operation: String) throws(CollectiveError) -> T {
        switch result {
        case .success(let value): return value
        case .failure(let error): throw CollectiveError(operation: operation, rank: rank, message: "\(error)")
        }
    }
}
