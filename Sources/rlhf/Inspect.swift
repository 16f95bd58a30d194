// `rlhf inspect FILE`: what a checkpoint holds. Loading it validates it completely (the whole-file
// stamp, format, version, tensor index, every dataset's Fletcher-32 checksum), so a clean listing
// means a good file; a bad file exits with code 2 and one line naming file, object and reason (via
// ExitCodes.swift). A file read without its stamp's protection (edited with h5py) gets a notice.

import ArgumentParser
import Checkpoint
import Foundation

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a checkpoint's format, stage, step, config, attributes and tensors, verifying every checksum.",
        discussion: """
            The file's CRC-32C stamp is checked before HDF5 reads it, and every dataset is read, so every \
            Fletcher-32 checksum is verified too. A file that no longer matches its stamp (edited with h5py) \
            is read in a child process and shown with a one-line notice on stderr. A file that is not a valid \
            checkpoint (corrupt, truncated, missing a dataset, another format or version) exits with code 2 \
            and one line on stderr: FILE: OBJECT: reason.
            """)

    @Argument(help: "The checkpoint file (.h5).") var file: String
    @Flag(help: "Print one JSON object instead of text.") var json = false

    func run() throws {
        let (checkpoint, integrity) = try CheckpointFile.readChecked(from: URL(fileURLWithPath: file))
        if let notice = integrity.notice(file: file) { CheckpointFile.noticeOnStandardError(notice) }
        if json { print(jsonReport(checkpoint, integrity)) } else { printText(checkpoint, integrity) }
    }

    /// "verified" where HDF5 checked a Fletcher-32 sum; HDF5 cannot filter scalars or empty tensors
    /// (their values sit in the object header, under its checksum).
    static func checksumState(_ tensor: Tensor) -> String {
        tensor.shape.isEmpty || tensor.count == 0 ? "none (scalar or empty)" : "fletcher32 verified"
    }

    static func stampText(_ integrity: FileIntegrity) -> String {
        switch integrity {
        case let .verified(crc, bytes): String(format: "CRC-32C %08x of %d bytes verified", crc, bytes)
        case let .checkedInChild(why, _): "not verified: \(why)"
        }
    }

    func printText(_ checkpoint: CheckpointFile, _ integrity: FileIntegrity) {
        let m = checkpoint.metadata
        let tensors = checkpoint.root.allTensors
        let floats = tensors.reduce(0) { $0 + $1.tensor.count }
        print("file      \(file)")
        print("stamp     \(Self.stampText(integrity))")
        print("format    \(CheckpointFile.format), version \(CheckpointFile.formatVersion)")
        print("stage     \(m.stageName) (kind \(m.stageKind)), step \(m.step) of \(m.totalSteps)")
        print("created   \(m.createdUTC), code \(m.codeVersion)")
        print("config    \(m.configJSON)")
        print("manifest  \(m.manifestJSON)")
        print("attributes")
        checkpoint.root.visit { path, group in
            for name in group.attributes.keys.sorted() {
                print("  \(path.isEmpty ? "/" : path)@\(name) = \(Self.text(group.attributes[name]!))")
            }
        }
        print("tensors   \(tensors.count), \(floats) floats (\(String(format: "%.1f", Double(floats * 4) / 1e6)) MB)")
        let width = tensors.map(\.path.count).max() ?? 0
        for (path, tensor) in tensors {
            let shape = "[" + tensor.shape.map(String.init).joined(separator: ", ") + "]"
            print("  " + path.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                  + shape.padding(toLength: 14, withPad: " ", startingAt: 0) + "  " + Self.checksumState(tensor))
        }
    }

    /// Attribute values for people: arrays longer than 8 shortened.
    static func text(_ value: AttributeValue) -> String {
        func list<T>(_ values: [T]) -> String {
            let shown = values.prefix(8).map { "\($0)" }.joined(separator: ", ")
            return "[" + shown + (values.count > 8 ? ", … (\(values.count) values)]" : "]")
        }
        switch value {
        case .string(let s): return "\"\(s)\""
        case .json(let s): return s
        case .int64(let v): return "\(v)"
        case .double(let v): return "\(v)"
        case .int64s(let v): return list(v)
        case .uint64s(let v): return list(v)
        case .floats(let v): return list(v)
        case .doubles(let v): return list(v)
        }
    }

    func jsonReport(_ checkpoint: CheckpointFile, _ integrity: FileIntegrity) -> String {
        let m = checkpoint.metadata
        var attributes: [String: Any] = [:]
        checkpoint.root.visit { path, group in
            guard !group.attributes.isEmpty else { return }
            attributes[path.isEmpty ? "/" : path] = group.attributes.mapValues(Self.jsonValue)
        }
        let report: [String: Any] = [
            "file": file, "format": CheckpointFile.format, "format_version": CheckpointFile.formatVersion,
            "stage_kind": m.stageKind, "stage_name": m.stageName, "step": m.step, "total_steps": m.totalSteps,
            "created_utc": m.createdUTC, "code_version": m.codeVersion,
            "config": Self.parsed(m.configJSON), "manifest": Self.parsed(m.manifestJSON),
            "attributes": attributes,
            "stamp": { () -> [String: Any] in
                switch integrity {
                case let .verified(crc, bytes): ["verified": true, "crc32c": String(format: "%08x", crc), "bytes": bytes]
                case let .checkedInChild(why, changed): ["verified": false, "why": why, "changed_tensors": changed.map { $0 as Any } ?? NSNull()]
                }
            }(),
            "tensors": checkpoint.root.allTensors.map { path, tensor in
                ["name": path, "shape": tensor.shape, "checksum": Self.checksumState(tensor)] as [String: Any]
            },
        ]
        let data = try! JSONSerialization.data(withJSONObject: report, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    static func parsed(_ json: String) -> Any {
        (try? JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed)) ?? json
    }

    /// JSON has no NaN or infinity: those become strings.
    static func jsonValue(_ value: AttributeValue) -> Any {
        func number(_ x: Double) -> Any { x.isFinite ? x : "\(x)" }
        switch value {
        case .string(let s): return s
        case .json(let s): return parsed(s)
        case .int64(let v): return v
        case .double(let v): return number(v)
        case .int64s(let v): return v
        case .uint64s(let v): return v.map { NSNumber(value: $0) }
        case .floats(let v): return v.map { number(Double($0)) }
        case .doubles(let v): return v.map(number)
        }
    }
}
