// What the child process does with a file no stamp vouches for: HDF5 parses arbitrary bytes and our
// validation walks the result. Crashes inside libhdf5 are expected here — they are why that parse
// runs in a child process — and each one found becomes a regression test that `rlhf inspect` on the
// file exits 2 with one line. Crashes in our own code are bugs. Run with -fork and -ignore_crashes
// to collect them (ci/fuzz.sh does for this target).

import Checkpoint

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHDF5(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    _ = try? CheckpointFile._parseUnverified(image: UnsafeRawBufferPointer(start: data, count: size), label: "fuzz.h5")
    return 0
}
