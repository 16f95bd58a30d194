// The one error type of the tokenizer layer: what is wrong with a tokenizer file, in one line that names
// the file and the key (a path into the JSON, `pre_tokenizer.pretokenizers[1].type`) or the line:
//
//   models/qwen/tokenizer.json: normalizer.type: "NFKC" is not supported (supported: NFC, or none)
//   models/gpt2/merges.txt:17: expected two tokens separated by one space
//
// Unsupported components are refused, never approximated: a tokenizer that splits text differently
// from the one the model was trained with silently damages every sequence.

public struct TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file as the caller named it.
    public var file: String
    /// Where in the file: a JSON key path, or `line:column`, or empty for the whole file.
    public var location: String
    public var message: String

    public init(file: String, at location: String = "", _ message: String) {
        self.file = file
        self.location = location
        self.message = message
    }

    /// `file: key.path: message`, or `file:line:column: message` for a place in a text file.
    public var description: String {
        if location.isEmpty { return "\(file): \(message)" }
        if location.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ":") }) { return "\(file):\(location): \(message)" }
        return "\(file): \(location): \(message)"
    }
}

/// A position in a JSON document, for messages: `model.vocab`, `added_tokens[3].content`.
struct KeyPath: CustomStringConvertible {
    var components: [String] = []

    func appending(_ key: String) -> KeyPath {
        var path = self
        path.components.append(path.components.isEmpty ? key : "." + key)
        return path
    }

    func appending(index: Int) -> KeyPath {
        var path = self
        path.components.append("[\(index)]")
        return path
    }

    var description: String { components.joined() }
}
