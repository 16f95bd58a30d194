// swift-tools-version: 6.0
// swift-rlhf: SFT → reward model → PPO (plus DPO and distillation) on small GPT-2-style models, on CPU.
// Target graph (DESIGN §2): rlhf → Jobs → Stages → Transformer → Kernels, with Checkpoint → CHDF5 beside.
import Foundation  // reads /proc/cpuinfo for `native` (below)
import PackageDescription

// MARK: - Compiler settings

/// The instruction set kernels are compiled for. `native` uses the build host's (AVX-512 here);
/// `RLHF_MARCH=x86-64-v3` builds a binary that runs on any AVX2+FMA machine.
let march = Context.environment["RLHF_MARCH"] ?? "native"

/// Whether `march` has AVX-512 (32 vector registers of 16 floats), and AVX2 with FMA. `-Xcc -march`
/// only sets clang macros, which Swift's `#if` cannot see, so the manifest decides and passes
/// `-D RLHF_AVX512` / `-D RLHF_AVX2`: the GEMM picks its register tile from them, and benchmarks
/// label their rows with the instruction set. `native` asks the build host (/proc/cpuinfo on Linux).
let hostCPUFlags: String = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
let avx512: Bool = {
    switch march {
    case "native":
        return hostCPUFlags.contains(" avx512f ")
    case "x86-64-v4", "znver4", "znver5", "skylake-avx512", "cascadelake", "icelake-server",
         "sapphirerapids", "emeraldrapids", "graniterapids":
        return true
    default:
        return false
    }
}()
let avx2: Bool = {
    switch march {
    case "native":
        return hostCPUFlags.contains(" avx2 ") && hostCPUFlags.contains(" fma ")
    case "x86-64-v3", "haswell", "broadwell", "skylake", "alderlake", "raptorlake", "znver1", "znver2", "znver3":
        return true
    default:
        return avx512
    }
}()

/// Numeric code is optimised even in debug builds: an unoptimised SIMD kernel is 200–600× slower,
/// which would make `swift test` unusable. Architecture flags apply only on x86-64 (aarch64 builds
/// with its own defaults: Swift SIMD types are portable).
let numericFlags: [SwiftSetting] = [
    .unsafeFlags(["-Xcc", "-march=\(march)"], .when(platforms: [.linux])),
    .unsafeFlags(["-O"], .when(configuration: .debug)),
] + (avx512 ? [.define("RLHF_AVX512", .when(platforms: [.linux]))] : [])
  + (avx2 ? [.define("RLHF_AVX2", .when(platforms: [.linux]))] : [])

/// Parsers and tokenizers are optimised in debug builds too: tests and CI encode megabytes of text.
let alwaysOptimized: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

/// MPI data parallelism (`mpirun -np N rlhf run …`, docs/cluster.md) is built only with `RLHF_MPI=1`:
/// it needs Open MPI (Debian's libopenmpi-dev, found by pkg-config `ompi`). Without it nothing
/// changes — the binary runs one process per job, as always — and only the small Launch target
/// differs between the two builds, so switching between them recompiles one file and relinks.
let mpi = Context.environment["RLHF_MPI"] == "1"

// MARK: - Package

let package = Package(
    name: "swift-rlhf",
    // macOS 26: the GEMM register tile uses InlineArray and integer generic parameters (Swift 6.2).
    platforms: [.macOS("26.0")],
    products: [
        .executable(name: "rlhf", targets: ["rlhf"]),
        .library(name: "Kernels", targets: ["Kernels"]),
        .library(name: "Transformer", targets: ["Transformer"]),
        .library(name: "Stages", targets: ["Stages"]),
        .library(name: "Checkpoint", targets: ["Checkpoint"]),
        .library(name: "Jobs", targets: ["Jobs"]),
        .library(name: "JSON", targets: ["JSON"]),
        .library(name: "SafeTensors", targets: ["SafeTensors"]),
        .library(name: "Tokenizers", targets: ["Tokenizers"]),
        .library(name: "TensorBoard", targets: ["TensorBoard"]),
        .library(name: "Report", targets: ["Report"]),
        .library(name: "Collective", targets: ["Collective"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // Compute core: SIMD kernels, each with its naive twin, parallel over fixed chunks.
        .target(
            name: "Kernels",
            dependencies: ["CPrefetch", .product(name: "RealModule", package: "swift-numerics")],
            swiftSettings: numericFlags),

        // The one CPU instruction Swift cannot emit: a software prefetch (decode-time weight streams).
        .target(name: "CPrefetch"),

        // The GPT-2-style decoder: parameters, forward/backward, heads, KV-cache sampling.
        .target(name: "Transformer", dependencies: ["Kernels"], swiftSettings: numericFlags),

        // Training stages and what feeds them: datasets (JSONL), tokenizer, batches, data order, demo task.
        .target(name: "Stages", dependencies: ["Kernels", "Transformer", "Checkpoint", "JSON"], swiftSettings: numericFlags),

        // A strict JSON parser for untrusted text (JSONL rows, safetensors headers, config.json, tokenizer files), with
        // errors that say line, column and what was expected.
        .target(name: "JSON", swiftSettings: alwaysOptimized),

        // safetensors files (Hugging Face's tensor format): a header verified before any tensor is
        // read, tensors read one at a time as Float, sharded indexes, and a writer. Knows nothing of models.
        .target(name: "SafeTensors", dependencies: ["JSON"]),

        // Tokenizers behind one protocol: bytes, and byte-level BPE from Hugging Face files (tokenizer.json,
        // or vocab.json + merges.txt), with chat formats. Knows nothing of models or stages.
        .target(name: "Tokenizers", dependencies: ["JSON"], swiftSettings: alwaysOptimized),

        // HDF5, the C library, as a module: Debian's serial build found by pkg-config, plus a shim for
        // the macros Swift cannot import.
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5-serial", providers: [.apt(["libhdf5-dev"])]),

        // Checkpoint files: named Float tensors + typed attributes in HDF5, stamped with a whole-file
        // CRC-32C, committed atomically, verified before HDF5 parses them, pruned by retention.
        // Knows nothing of models.
        .target(name: "Checkpoint", dependencies: ["CHDF5", "CChecksum"]),

        // CRC-32C with the CPU's crc32 instruction (three streams) and a portable table fallback.
        .target(name: "CChecksum", cSettings: [.unsafeFlags(["-O3"])]),

        // The processes of one job (ranks) and what they do together: the fixed-order sum of gradients
        // that keeps N processes bit-identical to one, gathers, agreement. Pure Swift; MPI is one
        // implementation (below), a single process the default.
        .target(name: "Collective", swiftSettings: numericFlags),

        // Which processes run a command: MPI's world under a launcher (RLHF_MPI=1 builds), else one.
        // The only target whose code differs between the two builds.
        .target(name: "Launch", dependencies: ["Collective"] + (mpi ? ["CollectiveMPI"] : []),
                swiftSettings: mpi ? [.define("RLHF_MPI")] : []),

        // Jobs: YAML manifests (validated before any work), stage chaining, exact resume, signals, and
        // the queue on disk with its per-job locks and workers.
        .target(
            name: "Jobs",
            dependencies: ["Stages", "Checkpoint", "Transformer", "Kernels", "TensorBoard", .product(name: "Yams", package: "Yams")]),

        // TensorBoard event files (TFRecord framing, masked CRC-32C, the Event protobuf by hand).
        .target(name: "TensorBoard"),

        // `rlhf report`: a job's metrics and samples as one self-contained HTML page with SVG charts.
        .target(name: "Report", dependencies: ["Jobs", "Stages", .product(name: "Mustache", package: "swift-mustache")]),

        // The command-line tool: maps options onto the libraries, prints progress, sets exit codes.
        .executableTarget(
            name: "rlhf",
            dependencies: [
                "Kernels", "Transformer", "Stages", "Checkpoint", "Jobs", "Tokenizers", "JSON", "Report", "Collective", "Launch",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: numericFlags),

        // MARK: Tests
        .testTarget(name: "CollectiveTests", dependencies: ["Collective"]),
        .testTarget(
            name: "KernelsTests",
            dependencies: ["Kernels", .product(name: "RealModule", package: "swift-numerics")],
            swiftSettings: numericFlags),
        .testTarget(
            name: "TransformerTests",
            dependencies: ["Transformer", "Kernels", .product(name: "RealModule", package: "swift-numerics")],
            swiftSettings: numericFlags),
        .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint"], exclude: ["Regressions"]),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors", "JSON"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "JSON"]),
        .testTarget(name: "StagesTests", dependencies: ["Stages", "Checkpoint", "Transformer", "Kernels"], swiftSettings: numericFlags),
        .testTarget(
            name: "JobsTests",
            dependencies: ["Jobs", "Stages", "Checkpoint", "Transformer", "TensorBoard", "Report"],
            exclude: ["Manifests"]),
    ]
)

if mpi {
    package.targets += [
        // Open MPI, the C library, as a module (pkg-config `ompi`) with a shim for its handle macros.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi", providers: [.apt(["libopenmpi-dev"])]),
        // MPI's world as a ProcessGroup; MPICalls.swift is the only file calling MPI.
        .target(name: "CollectiveMPI", dependencies: ["CMPI", "Collective"]),
    ]
}
