// `rlhf tokenize`: text to token ids and back with a model's tokenizer, one line at a time. The work is
// in the Tokenizers target; this maps options and formats lines.

import ArgumentParser
import Foundation
import JSON
import Tokenizers

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Encode text to token ids (or decode ids to text) with a model's tokenizer.",
        discussion: """
            Each input line is one text, and gives one line: a JSON array of token ids. With --json each \
            input line is a JSON string instead, so texts may hold newlines. With --decode each input line \
            is a JSON array of ids, and gives the text (a JSON string with --json).

            --model is a Hugging Face model directory (tokenizer.json, or vocab.json and merges.txt, with \
            tokenizer_config.json), or `byte` for the byte tokenizer of the demos.

            Encoding adds what the tokenizer's post-processor adds around a text (BOS for Llama 3 and the \
            byte tokenizer), as Hugging Face's tokenizer(text) does; --no-special-tokens leaves it out. \
            Special-token text in the input (e.g. <|im_end|>) becomes that token.
            """)

    @Option(help: "A Hugging Face model directory, or `byte`.") var model: String
    @Option(help: "Read lines from this file instead of standard input.") var file: String?
    @Flag(help: "Input (and --decode output) lines are JSON strings.") var json = false
    @Flag(help: "Decode lines of ids to text.") var decode = false
    @Flag(help: "Encode without the post-processor's tokens (BOS, ...).") var noSpecialTokens = false
    @Flag(help: "Decode without special tokens.") var skipSpecialTokens = false
    @Flag(help: "Print where the tokenizer cuts each text before merging (a JSON array of strings).") var pieces = false
    @Flag(help: """
        Input lines are conversations, JSON arrays of {"role", "content"}; each gives {"text", "ids", "trained"}: \
        the text the chat format renders, its ids, and 1 for each id trained on (the assistant's).
        """) var chat = false
    @Flag(help: "With --chat: render each conversation as a prompt to answer (the generation prompt at its end).")
    var generationPrompt = false
    @Option(help: "Write the tokenizer's Hugging Face files (tokenizer.json, tokenizer_config.json, ...) into this folder and stop.")
    var save: String?
    @Option(help: "With --chat: the chat format (\(ChatFormat.named.map(\.name).joined(separator: ", "))); default: the one the model's chat template is.")
    var chatFormat: String?

    func run() throws {
        if let save {
            try FileManager.default.createDirectory(atPath: save, withIntermediateDirectories: true)
            for (name, bytes) in try loadSource(model).huggingFaceFiles() {
                try Data(bytes).write(to: URL(fileURLWithPath: save).appendingPathComponent(name), options: .atomic)
            }
            return
        }
        let tokenizer = try loadSource(model).tokenizer()
        let encoder = chat ? SequenceEncoder(tokenizer: tokenizer, chatFormat: try loadChatFormat()) : nil
        let input: Data
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("\(file): no such file, or it cannot be read.")
            }
            input = data
        } else {
            input = FileHandle.standardInput.readDataToEndOfFile()
        }
        let name = file ?? "<stdin>"
        var lines = input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        var output = ""
        for (number, line) in lines.enumerated() {
            let place = "\(name):\(number + 1)"
            if let encoder {
                output += try Self.chatLine(try Self.parseMessages(line, place: place), encoder: encoder,
                                            generationPrompt: generationPrompt, place: place)
            } else if pieces {
                let text = json ? try Self.parseString(line, place: place) : String(decoding: line, as: UTF8.self)
                guard let bpe = tokenizer as? BPETokenizer else { throw ValidationError("--pieces needs a BPE tokenizer") }
                output += JSONValue.array(bpe.preTokenize(text).map { .string($0) }).serialized
            } else if decode {
                let ids = try Self.parseIDs(line, place: place)
                let text = tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
                output += json ? Self.jsonString(text) : text
            } else {
                let text = json ? try Self.parseString(line, place: place) : String(decoding: line, as: UTF8.self)
                let ids = tokenizer.encode(text, addSpecialTokens: !noSpecialTokens)
                output += "[" + ids.map(String.init).joined(separator: ", ") + "]"
            }
            output += "\n"
            if output.utf8.count > 1 << 20 {
                FileHandle.standardOutput.write(Data(output.utf8))
                output = ""
            }
        }
        FileHandle.standardOutput.write(Data(output.utf8))
    }

    /// A tokenizer by name: `byte`, or a model directory.
    func loadSource(_ model: String) throws -> TokenizerSource {
        if model == "byte" { return .bytes }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("--model \(model): expected a Hugging Face model directory or `byte`.")
        }
        let files = try TokenizerFiles(directory: model)
        _ = try files.tokenizer(directory: model)  // errors name the directory's files
        return .files(files)
    }

    /// The chat format: --chat-format, else the model's template when it is one we know.
    func loadChatFormat() throws -> ChatFormat {
        if let chatFormat {
            guard let format = ChatFormat(name: chatFormat) else {
                throw ValidationError("--chat-format \(chatFormat): expected one of \(ChatFormat.named.map(\.name).joined(separator: ", ")).")
            }
            return format
        }
        guard model != "byte", let template = try TokenizerFiles(directory: model).chatTemplate(directory: model) else {
            throw ValidationError("--model \(model) has no chat template: name one with --chat-format.")
        }
        guard let format = ChatFormat.recognise(template: template) else {
            throw ValidationError("--model \(model): its chat template is not one of \(ChatFormat.named.map(\.name).joined(separator: ", ")); "
                                  + "name the format to use with --chat-format.")
        }
        return format
    }

    /// One conversation as {"text", "ids", "trained"} (or {"text", "ids"} for a prompt).
    static func chatLine(_ messages: [ChatMessage], encoder: SequenceEncoder, generationPrompt: Bool, place: String) throws -> String {
        do throws(SequenceError) {
            let text = JSONValue.string(try encoder.render(messages, generationPrompt: generationPrompt).text)
            if generationPrompt {
                let (prefix, prompt) = try encoder.encodePrompt(.messages(messages))
                let ids = prefix + prompt
                return JSONValue.object(JSONObject([("text", text), ("ids", .array(ids.map { .number(Double($0)) }))])).serialized
            }
            let example = try encoder.encode(messages: messages)
            let trained = Array(repeating: false, count: example.prefix.count + example.prompt.count) + example.trained
            return JSONValue.object(JSONObject([
                ("text", text),
                ("ids", .array(example.tokens.map { .number(Double($0)) })),
                ("trained", .array(trained.map { .number($0 ? 1 : 0) })),
            ])).serialized
        } catch {
            throw TokenizerError(file: place, error.description)
        }
    }

    static func parseMessages(_ line: Data.SubSequence, place: String) throws -> [ChatMessage] {
        guard let list = try parseJSON(line, place: place).array else {
            throw TokenizerError(file: place, "expected a JSON array of {\"role\", \"content\"} messages")
        }
        return try list.enumerated().map { index, element in
            guard let role = element.object?["role"]?.string, let content = element.object?["content"]?.string else {
                throw TokenizerError(file: place, "message \(index) needs \"role\" and \"content\" strings")
            }
            return ChatMessage(role: role, content: content)
        }
    }

    static func parseIDs(_ line: Data.SubSequence, place: String) throws -> [Int32] {
        guard let list = try parseJSON(line, place: place).array else {
            throw TokenizerError(file: place, "expected a JSON array of token ids")
        }
        return try list.map { element in
            guard let number = element.number, let id = Int32(exactly: number) else {
                throw TokenizerError(file: place, "expected a JSON array of token ids, found \(element.serialized)")
            }
            return id
        }
    }

    static func parseString(_ line: Data.SubSequence, place: String) throws -> String {
        guard let text = try parseJSON(line, place: place).string else {
            throw TokenizerError(file: place, "expected a JSON string (--json)")
        }
        return text
    }

    static func parseJSON(_ line: Data.SubSequence, place: String) throws -> JSONValue {
        do throws(JSONSyntaxError) {
            return try JSONValue.parse(ArraySlice(line))
        } catch {
            throw TokenizerError(file: place, "invalid JSON at column \(error.column): \(error.reason)")
        }
    }

    static func jsonString(_ text: String) -> String { JSONValue.string(text).serialized }
}
