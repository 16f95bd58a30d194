// The only file that calls MPI. Each call's return code is checked here; a failure becomes an
// MPIError carrying the function's name and MPI's own message for the code (MPI_Error_string).
// Everything above this file speaks in ranks and buffers. MPI's default error handler aborts the
// whole job on any error; `initialize` replaces it with MPI_ERRORS_RETURN so that errors arrive here.
//
// Threads: MPI is initialised with MPI_THREAD_SERIALIZED: the job runner makes every call, one at a
// time, between training steps; the kernels' worker threads never call MPI.

import CMPI
import Foundation

/// A failed MPI call: the function, its return code and MPI's message for that code.
public struct MPIError: Error, CustomStringConvertible, Equatable, Sendable {
    public var function: String
    public var code: Int32
    public var message: String

    public var description: String { "\(function): \(message) (MPI error \(code))" }
}

enum MPI {
    /// The result of a call that returns an MPI error code.
    static func check(_ code: Int32, _ function: String) -> Result<Void, MPIError> {
        code == MPI_SUCCESS ? .success(()) : .failure(MPIError(function: function, code: code, message: message(for: code)))
    }

    /// MPI's text for an error code.
    static func message(for code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
        var length: Int32 = 0
        guard MPI_Error_string(code, &buffer, &length) == MPI_SUCCESS else { return "unknown error" }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether an MPI launcher (mpirun, srun with PMI/PMIx) started this process.
    static var launched: Bool {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"].contains { environment[$0] != nil }
    }

    /// MPI_Init_thread (serialized calls), errors returned rather than fatal; (rank, size) in the world.
    static func initialize() -> Result<(rank: Int, size: Int), MPIError> {
        var provided: Int32 = 0
        return check(MPI_Init_thread(nil, nil, Int32(MPI_THREAD_SERIALIZED), &provided), "MPI_Init_thread")
            .flatMap {
                guard provided >= Int32(MPI_THREAD_SERIALIZED) else {
                    return .failure(MPIError(function: "MPI_Init_thread", code: -1,
                                             message: "this MPI library does not allow calls from more than one thread (level \(provided))"))
                }
                return check(MPI_Comm_set_errhandler(cmpi_comm_world(), cmpi_errors_return()), "MPI_Comm_set_errhandler")
            }
            .flatMap {
                var rank: Int32 = 0, size: Int32 = 0
                return check(MPI_Comm_rank(cmpi_comm_world(), &rank), "MPI_Comm_rank")
                    .flatMap { check(MPI_Comm_size(cmpi_comm_world(), &size), "MPI_Comm_size") }
                    .map { (Int(rank), Int(size)) }
            }
    }

    static func finalize() -> Result<Void, MPIError> { check(MPI_Finalize(), "MPI_Finalize") }

    static func abort(code: Int32) -> Never {
        _ = MPI_Abort(cmpi_comm_world(), code)
        exit(code)
    }

    /// MPI counts are 32-bit: larger messages go as pieces of at most 1 GiB, the same on both sides.
    static let piece = 1 << 30

    static func send(_ bytes: UnsafeRawBufferPointer, to rank: Int) -> Result<Void, MPIError> {
        pieces(bytes.count) { offset, count in
            check(MPI_Send(bytes.baseAddress.map { $0 + offset }, Int32(count), cmpi_byte(), Int32(rank), 0, cmpi_comm_world()),
                  "MPI_Send to rank \(rank)")
        }
    }

    static func receive(into bytes: UnsafeMutableRawBufferPointer, from rank: Int) -> Result<Void, MPIError> {
        pieces(bytes.count) { offset, count in
            check(MPI_Recv(bytes.baseAddress.map { $0 + offset }, Int32(count), cmpi_byte(), Int32(rank), 0, cmpi_comm_world(),
                           cmpi_status_ignore()), "MPI_Recv from rank \(rank)")
        }
    }

    static func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) -> Result<Void, MPIError> {
        pieces(bytes.count) { offset, count in
            check(MPI_Bcast(bytes.baseAddress.map { $0 + offset }, Int32(count), cmpi_byte(), Int32(root), cmpi_comm_world()),
                  "MPI_Bcast from rank \(root)")
        }
    }

    /// Every rank's bytes in rank order: the lengths first (MPI_Allgather), then the bytes (MPI_Allgatherv).
    static func allGather(_ bytes: [UInt8], size: Int) -> Result<[[UInt8]], MPIError> {
        var lengths = [Int64](repeating: 0, count: size)
        var mine = Int64(bytes.count)
        return check(MPI_Allgather(&mine, 1, cmpi_int64(), &lengths, 1, cmpi_int64(), cmpi_comm_world()), "MPI_Allgather")
            .flatMap {
                let total = lengths.reduce(0, +)
                guard total < Int64(Int32.max) else {
                    return .failure(MPIError(function: "MPI_Allgatherv", code: -1, message: "\(total) bytes to gather: more than 2 GiB"))
                }
                var counts = lengths.map { Int32($0) }
                var offsets = counts.indices.map { Int32(counts[..<$0].reduce(0, +)) }
                var all = [UInt8](repeating: 0, count: Int(total))
                return bytes.withUnsafeBytes { send in
                    all.withUnsafeMutableBytes { receive in
                        check(MPI_Allgatherv(send.baseAddress, Int32(bytes.count), cmpi_byte(), receive.baseAddress, &counts, &offsets,
                                             cmpi_byte(), cmpi_comm_world()), "MPI_Allgatherv")
                    }
                }.map { counts.indices.map { Array(all[Int(offsets[$0])..<Int(offsets[$0] + counts[$0])]) } }
            }
    }

    /// Runs `body(offset, count)` over consecutive pieces of `total` bytes (once for an empty message).
    private static func pieces(_ total: Int, _ body: (Int, Int) -> Result<Void, MPIError>) -> Result<Void, MPIError> {
        var offset = 0
        repeat {
            let count = min(piece, total - offset)
            if case .failure(let error) = body(offset, count) { return .failure(error) }
            offset += count
        } while offset < total
        return .success(())
    }
}
