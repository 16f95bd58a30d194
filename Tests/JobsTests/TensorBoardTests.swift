// TensorBoard event files: the checksum against published test vectors, the Event encoding against
// bytes Python's protobuf serialized (tensorboard.compat.proto, see each test), the record framing
// against TensorBoard's own RecordWriter, and the resume rule: events past the restored step and a
// torn last record go; those up to it stay as they were. (CI reads the files back with the
// tensorboard package too: ci/check_tensorboard.py.)

import Foundation
import Stages
import Testing
@testable import Jobs
@testable import TensorBoard

func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

struct TensorBoardFormatTests {
    @Test func crc32cMatchesPublishedVectors() {
        // RFC 3720 B.4 and the usual check value.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test func eventsEncodeAsProtobufDoes() {
        // event_pb2.Event(wall_time=1700000000.25, file_version="brain.Event:2").SerializeToString()
        let version = Event(wallTime: 1_700_000_000.25, step: 0, content: .fileVersion("brain.Event:2"))
        #expect(hex(version.encoded()) == "0900001040fc54d9411a0d627261696e2e4576656e743a32")
        // Event(wall_time=1700000001.5, step=42, summary=Summary(value=[Value(tag="train/loss",
        // simple_value=2.5), Value(tag="train/lr", simple_value=3e-4)]))
        let scalars = Event(wallTime: 1_700_000_001.5, step: 42, content: .scalars([("train/loss", 2.5), ("train/lr", 3e-4)]))
        #expect(hex(scalars.encoded()) == "0900006040fc54d941102a2a240a110a0a747261696e2f6c6f737315000020400a0f0a08747261696e2f6c721552499d39")
        // Event(wall_time=1700000002.0, step=301) with session_log.status = START
        let start = Event(wallTime: 1_700_000_002, step: 301, content: .sessionStart)
        #expect(hex(start.encoded()) == "0900008040fc54d94110ad023a020801")
        // Event(wall_time=1.0, step=3, summary=Summary(value=[Value(tag="eval/kl", simple_value=0.0),
        // Value(tag="n", simple_value=float("nan"))])): a zero is written (simple_value is in a oneof).
        let zero = Event(wallTime: 1, step: 3, content: .scalars([("eval/kl", 0), ("n", .nan)]))
        #expect(hex(zero.encoded()) == "09000000000000f03f10032a1a0a0e0a076576616c2f6b6c15000000000a080a016e150000c07f")
        for event in [version, scalars, start, zero] {
            #expect(Event(decoding: event.encoded()) == event)
            #expect(Event.step(ofEncoded: event.encoded()) == event.step)
        }
    }

    @Test func recordsAreFramedAsTensorBoardsRecordWriterDoes() {
        // tensorboard.summary.writer.record_writer.RecordWriter(...).write(bytes.fromhex("0a0b"))
        #expect(hex(EventFile.record([0x0A, 0x0B])) == "020000000000000078270b340a0b4a900202")
    }

    @Test func aTornOrCorruptRecordEndsTheReadableRecords() throws {
        let scratch = Scratch()
        let writer = try EventFileWriter(folder: scratch.url)
        for step in 1...3 { try writer.write(Event(wallTime: 1, step: Int64(step), content: .scalars([("a", Float(step))]))) }
        let whole = try #require(FileManager.default.contents(atPath: writer.url.path))
        #expect(try EventFile.records(at: writer.url).records.count == 4)
        #expect(try EventFile.records(at: writer.url).clean)
        // A kill in the middle of the last record.
        try whole.dropLast(3).write(to: writer.url)
        #expect(try EventFile.records(at: writer.url).records.count == 3)
        #expect(try !EventFile.records(at: writer.url).clean)
        // A flipped bit in the second record's data: its CRC fails, reading stops before it.
        var damaged = [UInt8](whole)
        let secondData = 16 + (try EventFile.records(at: writer.url).records[0].count) + 12
        damaged[secondData + 2] ^= 0x10
        try Data(damaged).write(to: writer.url)
        #expect(try EventFile.records(at: writer.url).records.count == 1)
    }
}

struct TensorBoardLogTests {
    static func entry(_ step: Int, _ metrics: [(String, Double)], split: String = "train") -> MetricsEntry {
        MetricsEntry(step: step, split: split, elapsedSeconds: Double(step), metrics: Metrics(metrics))
    }

    /// Every scalar event of a folder's files, in reading order, as "step tag value".
    static func scalars(in folder: URL) throws -> [String] {
        try EventFile.files(in: folder).flatMap { try EventFile.records(at: $0).records }.compactMap { Event(decoding: $0) }
            .flatMap { event -> [String] in
                guard case .scalars(let values) = event.content else { return [] }
                return values.map { "\(event.step) \($0.tag) \($0.value)" }
            }
    }

    @Test func tagsFollowHuggingFacesTensorBoardCallback() {
        #expect(TensorBoardLog.tag(split: "train", name: "loss") == "train/loss")
        #expect(TensorBoardLog.tag(split: "eval", name: "eval_loss") == "eval/loss")
        #expect(TensorBoardLog.tag(split: "eval", name: "accuracy") == "eval/accuracy")
    }

    @Test func resumeDropsTheStepsPastTheCheckpointAndWritesARestartMarker() throws {
        let scratch = Scratch()
        var first = TensorBoardLog(folder: scratch.url)
        try first.start(restoredStep: nil, logged: [])
        try first.append(Self.entry(0, [("eval_loss", 5)], split: "eval"))
        for step in 1...5 { try first.append(Self.entry(step, [("loss", Double(10 - step))])) }
        let firstFile = try #require(EventFile.files(in: scratch.url).first)
        // A kill mid-write of step 6.
        let torn = EventFile.record(Event(wallTime: 1, step: 6, content: .scalars([("train/loss", 4)])).encoded()).dropLast(5)
        let handle = try FileHandle(forWritingTo: firstFile)
        handle.seekToEndOfFile(); handle.write(Data(torn)); try handle.close()

        // Resumed from the checkpoint of step 3: steps 4, 5 and the torn record go.
        var second = TensorBoardLog(folder: scratch.url)
        #expect(try second.start(restoredStep: 3, logged: []) == 3)
        for step in 4...6 { try second.append(Self.entry(step, [("loss", Double(10 - step))])) }
        #expect(try Self.scalars(in: scratch.url) == ["0 eval/loss 5.0", "1 train/loss 9.0", "2 train/loss 8.0", "3 train/loss 7.0",
                                                      "4 train/loss 6.0", "5 train/loss 5.0", "6 train/loss 4.0"])
        let files = EventFile.files(in: scratch.url)
        #expect(files.count == 2 && files[0] == firstFile)
        let newEvents = try EventFile.records(at: files[1]).records.compactMap { Event(decoding: $0) }
        #expect(newEvents.prefix(2).map(\.content) == [.fileVersion("brain.Event:2"), .sessionStart])
        #expect(newEvents[1].step == 4)

        // A fresh start removes the earlier files.
        var third = TensorBoardLog(folder: scratch.url)
        try third.start(restoredStep: nil, logged: [])
        #expect(EventFile.files(in: scratch.url).count == 1)
        #expect(try Self.scalars(in: scratch.url).isEmpty)
    }

    @Test func switchingTensorBoardOnLaterWritesTheLoggedStepsFirst() throws {
        let scratch = Scratch()
        var log = TensorBoardLog(folder: scratch.url)
        try log.start(restoredStep: 2, logged: [Self.entry(0, [("eval_kl", 0)], split: "eval"), Self.entry(1, [("kl", 0.5)]),
                                                Self.entry(2, [("kl", 1.5), ("beta", 0.1)])])
        #expect(try Self.scalars(in: scratch.url) == ["0 eval/kl 0.0", "1 train/kl 0.5", "2 train/beta 0.1", "2 train/kl 1.5"])
    }
}
