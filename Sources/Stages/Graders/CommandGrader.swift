// `type: command`: an external program, started once per stage, graded over JSON lines (docs/graders.md).
//
//   request  (one line on its stdin per prompt row)
//     {"prompt": "...", "completions": ["...", ...], "truncated": [false, ...], <every other column of the row>}
//   answer   (one line on its stdout)
//     {"rewards": [1.0, null, 0.5, ...]}        one number or null per completion, in order
//
// Its stderr goes to the job log. It must answer each request within `timeout` seconds; a program that
// exits, hangs or answers anything else stops the stage (GraderError) with its state as before the
// step, so the job's last checkpoint resumes it once the program is fixed.
//
// Foundation's Process, not swift-subprocess: the exchange is synchronous (the stage's step waits for
// each answer) and needs a read with a timeout on the answer pipe, which poll(2) on Process's pipes
// gives directly; swift-subprocess (1.0.2 in the package mirror) exposes its pipes only as async
// sequences inside an async closure, which the synchronous stage would have to bridge with a semaphore,
// and it would add a dependency for what Foundation already does.

import Foundation

final class CommandGrader: Grader {
    let name: String
    let weight: Double
    let command: [String]
    let directory: String
    let timeout: Double
    private var process: GraderProcess?

    init(name: String, weight: Double, command: [String], directory: String, timeout: Double) {
        self.name = name
        self.weight = weight
        self.command = command
        self.directory = directory
        self.timeout = timeout
    }

    func grade(_ rows: [GradingRow]) throws -> [[Double?]] {
        if process == nil || !process!.isRunning {
            process = try GraderProcess(command: command, directory: directory, grader: name)
        }
        let process = process!
        return try rows.map { row in
            var request = JSONObject([("prompt", .string(row.prompt)), ("completions", .array(row.completions.map { .string($0) })),
                                      ("truncated", .array(row.truncated.map { .bool($0) }))])
            for key in row.row.fields.keys.sorted() where request[key] == nil { request.append(key, row.row.fields[key]!) }
            let answer = try process.exchange(JSONValue.object(request).serialized, timeout: timeout)
            return try Self.rewards(in: answer, count: row.completions.count, grader: name)
        }
    }

    func drainLog() -> [String] { process?.drainStderr() ?? [] }

    /// The rewards of one answer line: `{"rewards": [number or null, ...]}` with `count` entries.
    static func rewards(in line: String, count: Int, grader: String) throws -> [Double?] {
        func fail(_ message: String) -> GraderError {
            GraderError(grader: grader, message: message + ": " + String(line.prefix(200)).debugDescription)
        }
        let value: JSONValue
        do { value = try JSONValue.parse(Array(line.utf8)) } catch { throw fail("answered malformed JSON (\(error.reason) at column \(error.column))") }
        guard case .object(let fields) = value, case .array(let items)? = fields["rewards"] else {
            throw fail("answered JSON without a \"rewards\" list")
        }
        guard items.count == count else { throw fail("answered \(items.count) rewards for \(count) completions") }
        return try items.map { item in
            switch item {
            case .null: return nil
            case .number(let x): return x
            default: throw fail("answered \(item.kind) where a reward (a number or null) belongs")
            }
        }
    }
}

/// A running grader program: a line out on its stdin, a line back from its stdout within a timeout, and
/// its stderr collected line by line for the job log.
final class GraderProcess {
    let grader: String
    let description: String
    private let process = Process()
    private let input = Pipe(), output = Pipe(), errors = Pipe()
    private var pending: [UInt8] = []
    private let stderr: StderrCollector

    /// The path of `program`: as given when it has a '/' (relative to `directory`), else found on PATH.
    static func executable(_ program: String, in directory: String) -> String? {
        let manager = FileManager.default
        if program.contains("/") {
            let path = program.hasPrefix("/") ? program : (directory as NSString).appendingPathComponent(program)
            return manager.isExecutableFile(atPath: path) ? path : nil
        }
        let searchPath = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for folder in searchPath.split(separator: ":") {
            let path = (String(folder) as NSString).appendingPathComponent(program)
            var isFolder: ObjCBool = false
            if manager.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue, manager.isExecutableFile(atPath: path) {
                return path
            }
        }
        return nil
    }

    init(command: [String], directory: String, grader: String) throws {
        self.grader = grader
        description = command.joined(separator: " ")
        stderr = StderrCollector(errors.fileHandleForReading)
        guard let path = Self.executable(command[0], in: directory) else {
            throw GraderError(grader: grader, message: "cannot start '\(command[0])': not an executable file"
                                  + (command[0].contains("/") ? " (in \(directory))" : " on PATH"))
        }
        // A grader that exits makes our next write fail with EPIPE; without this, SIGPIPE would kill us.
        signal(SIGPIPE, SIG_IGN)
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = Array(command.dropFirst())
        process.currentDirectoryURL = URL(fileURLWithPath: directory, isDirectory: true)
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw GraderError(grader: grader, message: "cannot start '\(description)': \(error.localizedDescription)")
        }
        let collector = stderr
        Thread.detachNewThread { collector.collect() }
    }

    var isRunning: Bool { process.isRunning }

    /// The stderr lines written since the last call.
    func drainStderr() -> [String] { stderr.drain() }

    /// Sends one line and waits up to `timeout` seconds for one line back.
    func exchange(_ line: String, timeout: Double) throws -> String {
        let bytes = Array((line + "\n").utf8)
        let fd = input.fileHandleForWriting.fileDescriptor
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw died(doing: "while reading its request")
            }
            sent += n
        }
        let deadline = Date().addingTimeInterval(timeout)
        let readFD = output.fileHandleForReading.fileDescriptor
        while true {
            if let newline = pending.firstIndex(of: 0x0A) {
                let answer = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return answer
            }
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 {
                stop()
                throw GraderError(grader: grader, message: "'\(description)' did not answer within \(plain(timeout)) s; it was stopped"
                                  + tail())
            }
            var poller = pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(remaining * 1000, 1000).rounded(.up)))
            if ready < 0 && errno != EINTR { throw died(doing: "while we waited for its answer") }
            guard ready > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let n = buffer.withUnsafeMutableBytes { read(readFD, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { throw died(doing: "before answering") }
            pending += buffer[..<n]
        }
    }

    /// The error for a program that went away: its exit status and the end of its stderr.
    private func died(doing what: String) -> GraderError {
        stop(waitFirst: true)
        let status = process.terminationReason == .uncaughtSignal ? "was killed by signal \(process.terminationStatus)"
            : "exited with status \(process.terminationStatus)"
        return GraderError(grader: grader, message: "'\(description)' \(status) \(what)" + tail())
    }

    /// "; its last stderr lines: …" when it wrote any.
    private func tail() -> String {
        let lines = stderr.tail  // the program has exited: all it wrote is in the pipe
        return lines.isEmpty ? "" : "; its last stderr lines: " + lines.joined(separator: " | ")
    }

    /// Ends the program: closes its stdin, waits up to a second (when `waitFirst` or it is idle), then kills it.
    func stop(waitFirst: Bool = false) {
        try? input.fileHandleForWriting.close()
        if process.isRunning && waitFirst {
            for _ in 0..<100 where process.isRunning { usleep(10_000) }
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit {
        try? input.fileHandleForWriting.close()
        for _ in 0..<100 where process.isRunning { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        if process.processIdentifier != 0 { process.waitUntilExit() }
    }
}

/// A grader's stderr, split into lines. A thread reads it as it comes (so a program that writes much
/// of it never blocks), and `drain()` and `tail` first read what is still in the pipe themselves. Both
/// read only while holding the lock, so no byte is ever read but not yet a line: everything the
/// program wrote before its answer (or before it exited) is in the lines `drain()` returns right
/// after that answer, whatever the machine's load.
final class StderrCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    private var last: [String] = []
    private var partial: [UInt8] = []
    private var done = false
    /// The pipe's read end (kept open by `handle` for as long as this collector lives), non-blocking.
    private let handle: FileHandle
    private let fd: Int32

    init(_ handle: FileHandle) {
        self.handle = handle
        fd = handle.fileDescriptor
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    /// Reads on the calling thread until the program closes its stderr.
    func collect() {
        while !lock.withLock({ done }) {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, -1) < 0 && errno != EINTR { return }
            lock.withLock { readAvailable() }
        }
    }

    /// With the lock held: reads what the pipe holds now, without waiting, into lines.
    private func readAvailable() {
        guard !done else { return }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return }  // EAGAIN: nothing more for now
            if n == 0 {
                if !partial.isEmpty { append(String(decoding: partial, as: UTF8.self)) }
                partial = []
                done = true
                return
            }
            partial += buffer[..<n]
            while let newline = partial.firstIndex(of: 0x0A) {
                append(String(decoding: partial[..<newline], as: UTF8.self))
                partial.removeSubrange(...newline)
            }
        }
    }

    /// With the lock held.
    private func append(_ line: String) {
        lines.append(line)
        last.append(line)
        if last.count > 5 { last.removeFirst() }
    }

    /// The lines written so far and not drained before.
    func drain() -> [String] {
        lock.withLock {
            readAvailable()
            defer { lines = [] }
            return lines
        }
    }

    /// The last five lines.
    var tail: [String] { lock.withLock { readAvailable(); return last } }
}
