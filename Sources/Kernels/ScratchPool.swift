// Reusable scratch memory for kernels (the GEMM's packed panels).
//
// Why not allocate per call: a few hundred KB freed at the top of the heap is handed back to the
// kernel by glibc (heap trimming), and the next call takes a page fault for every 4 KiB again.
// Measured on a 96×512×128 GEMM: 3 brk calls and ~60 page faults per call halved its speed.
// The pool keeps freed buffers and hands them out again; it holds at most as many buffers as were
// ever in use at once (about one per thread plus one), each as large as the largest request it
// served. Buffers are 64-byte aligned, so packed panels start on a cache line and a SIMD16 load of
// a panel row never straddles two lines.

import Synchronization

public enum ScratchPool {
    /// Owned memory; it moves between the pool and one user at a time, under the lock.
    private struct Buffer: @unchecked Sendable {
        var base: UnsafeMutableRawPointer
        var bytes: Int
    }

    /// Buffers not in use.
    private static let free = Mutex<[Buffer]>([])

    /// Runs `body` with at least `count` floats of uninitialised, 64-byte aligned memory that no
    /// other thread uses meanwhile.
    public static func withFloats<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        var buffer = free.withLock { $0.popLast() } ?? Buffer(base: allocate(bytes), bytes: bytes)
        if buffer.bytes < bytes {
            buffer.base.deallocate()
            buffer = Buffer(base: allocate(bytes), bytes: bytes)
        }
        defer { free.withLock { $0.append(buffer) } }
        return body(buffer.base.bindMemory(to: Float.self, capacity: buffer.bytes / MemoryLayout<Float>.stride))
    }

    private static func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    }
}
