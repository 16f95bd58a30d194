// swift-tools-version: 6.0
// libFuzzer targets for the parsers that read what users hand us (docs/fuzzing.md): JSONL datasets,
// job manifests, checkpoint files (the stamp, then HDF5), safetensors headers, tokenizer.json. A separate package because every module it
// fuzzes is built with coverage instrumentation (`--sanitize=fuzzer`) and with AddressSanitizer, and
// libFuzzer supplies `main`. Build and run one with `ci/fuzz.sh TARGET SECONDS`.
import Foundation
import PackageDescription

/// The main package, by its identity: a path dependency is named after its folder (the checkout's).
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()
let rlhf = { (name: String) in Target.Dependency.product(name: name, package: root) }

let package = Package(
    name: "swift-rlhf-fuzz",
    platforms: [.macOS("26.0")],
    dependencies: [.package(path: "..")],
    targets: [
        // Each target is one file defining LLVMFuzzerTestOneInput; `-parse-as-library` because
        // libFuzzer, not the target, has `main`.
        .executableTarget(name: "FuzzJSONL", dependencies: [rlhf("Stages")], swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(name: "FuzzManifest", dependencies: [rlhf("Jobs")], swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(name: "FuzzCheckpoint", dependencies: [rlhf("Checkpoint")], swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(name: "FuzzHDF5", dependencies: [rlhf("Checkpoint")], swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(name: "FuzzSafeTensors", dependencies: [rlhf("SafeTensors")], swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(name: "FuzzTokenizer", dependencies: [rlhf("Tokenizers")], swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ]
)
