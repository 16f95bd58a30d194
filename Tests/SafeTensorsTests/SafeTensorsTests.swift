// safetensors: round trips through the writer and reader, element conversions against known bit
// patterns, and a corpus of malformed files and indexes, each with the exact one-line message it must
// give. (Files written by Hugging Face's own `safetensors` are read in ci/check_huggingface.py.)

import Foundation
import JSON
@testable import SafeTensors
import Testing

/// A fresh folder, removed when the test ends.
final class Scratch: Sendable {
    let url: URL
    init(_ label: String = #function) {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("rlhf-st-" + label.filter { $0.isLetter } + "-" + UUID().uuidString.prefix(8))
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// A file of `header` (JSON text, length-prefixed) followed by `data`.
func rawFile(_ header: String, data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
    let text = Array(header.utf8)
    let n = length ?? UInt64(text.count)
    return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + text + data
}

func parseError(_ bytes: [UInt8], fileSize: Int? = nil) -> String {
    do {
        _ = try SafeTensorsHeader.parse(bytes, fileSize: fileSize, file: "m.safetensors")
        return "no error"
    } catch {
        return error.description
    }
}

@Suite struct SafeTensorsTests {
    @Test func writesAndReadsBackF32() throws {
        let scratch = Scratch()
        let items = [
            SafeTensorsItem(name: "b", shape: [2, 3], values: [1, -2, 3.5, 1e-30, -0.0, 65504]),
            SafeTensorsItem(name: "a \"quoted\"", shape: [], values: [7]),
            SafeTensorsItem(name: "empty", shape: [0, 4], values: []),
        ]
        try SafeTensorsWriter.write(items, to: scratch.path("x.safetensors"), metadata: ["format": "pt"])
        let file = try SafeTensorsFile(path: scratch.path("x.safetensors"))
        #expect(file.metadata == ["format": "pt"])
        #expect(file.header.dataStart % 8 == 0)
        for item in items {
            #expect(file[item.name]?.shape == item.shape)
            #expect(try file.floats(item.name) == item.values)
        }
    }

    @Test func writesBF16RoundedToNearestEven() throws {
        let scratch = Scratch()
        // 1 + 2⁻⁸ is halfway between two bfloat16 values: ties go to the even one (1.0);
        // 1 + 3·2⁻⁸ rounds up to 1 + 2⁻⁶ ... (the neighbours are 1 + 2·2⁻⁸ and 1 + 4·2⁻⁸).
        let values: [Float] = [1, 1 + 0x1p-8, 1 + 3 * 0x1p-8, -2.5, 3.140625]
        try SafeTensorsWriter.write([SafeTensorsItem(name: "w", shape: [5], values: values)],
                                    to: scratch.path("b.safetensors"), type: .bf16)
        let file = try SafeTensorsFile(path: scratch.path("b.safetensors"))
        #expect(file["w"]?.dtype == .bf16)
        #expect(try file.floats("w") == [1, 1, 1 + 4 * 0x1p-8, -2.5, 3.140625])
    }

    @Test func convertsHalfAndBFloat16BitPatterns() throws {
        let scratch = Scratch()
        // F16: 1.0, -2.0, 65504 (max), 2⁻²⁴ (smallest subnormal), 0x3555 ≈ 0.33325195
        let half: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x3555]
        // BF16: 1.0, -3.0, 1.5 · 2¹⁰⁰
        let bf: [UInt16] = [0x3F80, 0xC040, 0x7198]
        let data = (half + bf).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let header = #"{"h":{"dtype":"F16","shape":[5],"data_offsets":[0,10]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[10,16]}}"#
        try Data(rawFile(header, data: data)).write(to: URL(fileURLWithPath: scratch.path("c.safetensors")))
        let file = try SafeTensorsFile(path: scratch.path("c.safetensors"))
        #expect(try file.floats("h") == [1, -2, 65504, 0x1p-24, 0.33325195])
        #expect(try file.floats("b") == [1, -3, Float(bitPattern: 0x7198_0000)])
    }

    @Test func refusesNonFiniteValuesAndNonFloatTensors() throws {
        let scratch = Scratch()
        let nan = Float.nan.bitPattern
        let data = [0, 0, 0x80, 0x3F] + (0..<4).map { UInt8(truncatingIfNeeded: nan >> (8 * UInt32($0))) } + [UInt8](repeating: 1, count: 8)
        let header = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"ids":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}"#
        try Data(rawFile(header, data: data)).write(to: URL(fileURLWithPath: scratch.path("n.safetensors")))
        let file = try SafeTensorsFile(path: scratch.path("n.safetensors"))  // an integer tensor does not make the file invalid
        #expect(throws: SafeTensorsError.self) { try file.floats("w") }
        do { _ = try file.floats("w") } catch {
            #expect(error.description.hasSuffix(#"n.safetensors: tensor "w": holds a non-finite value (nan) at element 1"#))
        }
        do { _ = try file.floats("ids") } catch {
            #expect(error.description.hasSuffix(#"n.safetensors: tensor "ids": has dtype I64; only F32, BF16 or F16 tensors can be loaded as model weights"#))
        }
    }

    static let f4 = #"{"dtype":"F32","shape":[1],"data_offsets":"#
    /// Malformed headers and the exact message each gives.
    static let corpus: [(String, [UInt8], Int?, String)] = [
        ("empty file", [], nil, "m.safetensors: truncated: 0 bytes, but a safetensors file starts with an 8-byte header length"),
        ("header over 100 MB", rawFile("{}", length: 100_000_001), 200_000_000,
         "m.safetensors: header length 100000001 exceeds the limit of 100000000 bytes (not a safetensors file, or a damaged one)"),
        ("header past the end", rawFile("{}", length: 50), nil, "m.safetensors: truncated: the header is 50 bytes but the file ends after 2"),
        ("not an object", rawFile("[1]"), nil, "m.safetensors: the header does not start with '{' (a JSON object)"),
        ("bad JSON", rawFile(#"{"a": }"#), nil,
         "m.safetensors: the header is not valid JSON: line 1, column 7: expected a value, found '}'"),
        ("repeated key", rawFile(#"{"a":\#(f4)[0,4]},"a":\#(f4)[4,8]}}"#, data: [UInt8](repeating: 0, count: 8)), nil,
         #"m.safetensors: the header is not valid JSON: line 1, column 55: the key "a" appears twice in one object"#),
        ("unknown dtype", rawFile(#"{"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), nil,
         #"m.safetensors: tensor "w": unknown dtype "F33" (known: F32, BF16, F16, F64, I64, U64, I32, U32, I16, U16, I8, U8, BOOL, F8_E5M2, F8_E4M3)"#),
        ("shape and offsets disagree", rawFile(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), nil,
         #"m.safetensors: tensor "w": shape [2] of F32 needs 8 bytes, but data_offsets [0, 4] hold 4"#),
        ("overlap", rawFile(#"{"a":\#(f4)[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[2,10]}}"#, data: [UInt8](repeating: 0, count: 10)), nil,
         #"m.safetensors: tensor "b": data_offsets [2, 10] overlap tensor "a" (which ends at 4)"#),
        ("hole at the start", rawFile(#"{"a":\#(f4)[4,8]}}"#, data: [UInt8](repeating: 0, count: 8)), nil,
         #"m.safetensors: tensor "a": data_offsets [4, 8] leave a hole of 4 bytes at the start of the data"#),
        ("hole between", rawFile(#"{"a":\#(f4)[0,4]},"b":\#(f4)[8,12]}}"#, data: [UInt8](repeating: 0, count: 12)), nil,
         #"m.safetensors: tensor "b": data_offsets [8, 12] leave a hole of 4 bytes after tensor "a""#),
        ("trailing bytes", rawFile(#"{"a":\#(f4)[0,4]}}"#, data: [UInt8](repeating: 0, count: 6)), nil,
         #"m.safetensors: 2 bytes of data after tensor "a" belong to no tensor"#),
        ("truncated data", rawFile(#"{"a":\#(f4)[0,4]},"b":\#(f4)[4,8]}}"#, data: [UInt8](repeating: 0, count: 6)), nil,
         #"m.safetensors: tensor "b": truncated: data_offsets [4, 8] run past the end of the data (6 bytes)"#),
        ("metadata not strings", rawFile(#"{"__metadata__":{"format":1}}"#), nil,
         "m.safetensors: __metadata__.format: must be a string, found a number"),
        ("unknown tensor key", rawFile(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"offset":0}}"#, data: [0, 0, 0, 0]), nil,
         #"m.safetensors: tensor "a": unknown key "offset" (a tensor has dtype, shape and data_offsets)"#),
        ("negative dimension", rawFile(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), nil,
         #"m.safetensors: tensor "a": shape must be non-negative integers, found ["-1"]"#),
        ("fractional offset", rawFile(#"{"a":\#(f4)[0,4.5]}}"#, data: [0, 0, 0, 0]), nil,
         #"m.safetensors: tensor "a": data_offsets must be [BEGIN, END] with 0 ≤ BEGIN ≤ END"#),
        ("shape overflow", rawFile(#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), nil,
         #"m.safetensors: tensor "a": shape [4294967296, 4294967296] is too large"#),
    ]

    @Test(arguments: corpus.indices) func refusesMalformedHeader(_ index: Int) {
        let (label, bytes, size, message) = Self.corpus[index]
        #expect(parseError(bytes, fileSize: size) == message, "\(label)")
    }

    @Test func acceptsAnEmptyFileOfNoTensorsAndSpacePadding() throws {
        let header = try SafeTensorsHeader.parse(rawFile("{}      "))
        #expect(header.entries.isEmpty && header.dataStart == 16)
    }

    @Test func readsTheHeaderOnlyWhenOpening() throws {
        let scratch = Scratch()
        try SafeTensorsWriter.write([SafeTensorsItem(name: "w", shape: [3], values: [1, 2, 3])], to: scratch.path("t.safetensors"))
        // Cut the file inside the data: opening reports the truncation, naming the tensor.
        let url = URL(fileURLWithPath: scratch.path("t.safetensors"))
        let bytes = try Data(contentsOf: url)
        try bytes.prefix(bytes.count - 2).write(to: url)
        #expect(throws: SafeTensorsError.self) { _ = try SafeTensorsFile(path: url.path) }
        do { _ = try SafeTensorsFile(path: url.path) } catch {
            #expect(error.tensor == "w" && error.problem.hasPrefix("truncated"), "\(error)")
        }
    }

    // MARK: Sharded archives

    func writeShards(_ scratch: Scratch, index: String, shards: [String: [SafeTensorsItem]]) throws -> String {
        for (name, items) in shards { try SafeTensorsWriter.write(items, to: scratch.path(name)) }
        try Data(index.utf8).write(to: URL(fileURLWithPath: scratch.path("model.safetensors.index.json")))
        return scratch.path("model.safetensors.index.json")
    }

    static let a = SafeTensorsItem(name: "a", shape: [2], values: [1, 2])
    static let b = SafeTensorsItem(name: "b", shape: [1], values: [3])

    @Test func readsShards() throws {
        let scratch = Scratch()
        let index = try writeShards(scratch, index: #"{"metadata":{"total_size":12},"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}"#,
                                    shards: ["s1.safetensors": [Self.a], "s2.safetensors": [Self.b]])
        let archive = try SafeTensorsArchive(index: index)
        #expect(archive.names == ["a", "b"])
        #expect(try archive.floats("a") == [1, 2])
        #expect(try archive.floats("b") == [3])
    }

    @Test(arguments: [
        (#"{"weight_map":{"a":"s1.safetensors","b":"s3.safetensors"}}"#, ["s1.safetensors": [a]],
         "model.safetensors.index.json: weight_map.b: names shard s3.safetensors, which does not exist"),
        (#"{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}"#, ["s1.safetensors": [a, b], "s2.safetensors": [b]],
         #"s2.safetensors: tensor "b": is also in shard SCRATCH/s1.safetensors; a tensor must be in one shard"#),
        (#"{"weight_map":{"a":"s1.safetensors","b":"s1.safetensors"}}"#, ["s1.safetensors": [a]],
         "model.safetensors.index.json: weight_map.b: names shard s1.safetensors, which does not hold it"),
        (#"{"weight_map":{"a":"s1.safetensors"}}"#, ["s1.safetensors": [a, b]],
         #"s1.safetensors: tensor "b": is not listed in the index's weight_map (SCRATCH/model.safetensors.index.json)"#),
        (#"{"weight_map":{"a":"../s1.safetensors"}}"#, ["s1.safetensors": [a]],
         #"model.safetensors.index.json: weight_map.a: "../s1.safetensors" is not a file name beside the index"#),
        (#"{"weight_map":{"a":"s1.safetensors","a":"s1.safetensors"}}"#, ["s1.safetensors": [a]],
         #"model.safetensors.index.json: not valid JSON: line 1, column 37: the key "a" appears twice in one object"#),
        (#"{"metadata":{}}"#, ["s1.safetensors": [a]],
         "model.safetensors.index.json: weight_map: is missing or not an object (an index maps each tensor name to its shard file)"),
    ] as [(String, [String: [SafeTensorsItem]], String)])
    func refusesBadIndex(_ index: String, _ shards: [String: [SafeTensorsItem]], _ message: String) throws {
        let scratch = Scratch()
        let path = try writeShards(scratch, index: index, shards: shards)
        do {
            _ = try SafeTensorsArchive(index: path)
            Issue.record("no error for \(index)")
        } catch {
            let text = error.description.replacingOccurrences(of: scratch.url.path + "/", with: "")
            #expect(text == message.replacingOccurrences(of: "SCRATCH/", with: scratch.url.path + "/")
                        .replacingOccurrences(of: scratch.url.path + "/", with: ""))
        }
    }
}
