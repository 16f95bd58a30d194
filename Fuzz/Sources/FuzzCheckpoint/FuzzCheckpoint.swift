// The checkpoint opener on arbitrary bytes: the stamp is parsed and checked before anything else, and
// only bytes that match their stamp reach HDF5 (in this process). Seeds are real stamped files, so
// mutations exercise the stamp parser, its CRCs, and the refusal of everything that does not match.

import Checkpoint

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    _ = try? CheckpointFile.read(image: UnsafeRawBufferPointer(start: data, count: size), label: "fuzz.h5")
    return 0
}
