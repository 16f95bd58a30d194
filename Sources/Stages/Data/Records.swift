// The rows of the three dataset kinds, in TRL's JSONL conventions (DESIGN §3.4), and how each is read
// from one parsed JSON object. Keys a record does not use are ignored: TRL datasets carry extra columns.
//
//   SFT          {"prompt": "...", "completion": "..."}   or   {"text": "..."}
//   preferences  {"prompt": "...", "chosen": "...", "rejected": "..."}   + optional numeric "margin"
//   PPO prompts  {"prompt": "..."}

// JSONValue, which rows are made of, is part of this module's interface.
@_exported import JSON

/// A record that can be read from one JSONL row.
public protocol JSONLRecord: Sendable {
    /// Reads the record's fields, or says which field is missing or of the wrong type.
    init(row: JSONRow) throws(DataError.Problem)
}

/// One JSONL row: a JSON object, read field by field with messages that name the field.
public struct JSONRow: Sendable {
    public var fields: [String: JSONValue]

    public init(fields: [String: JSONValue]) { self.fields = fields }

    public func has(_ field: String) -> Bool { fields[field] != nil }

    public func string(_ field: String) throws(DataError.Problem) -> String {
        guard let value = fields[field] else { throw .missingField(field, expected: "a string") }
        guard case .string(let text) = value else {
            throw .wrongType(field: field, found: value.kind, expected: "a string")
        }
        return text
    }

    /// An optional number: absent or null gives nil.
    public func optionalNumber(_ field: String) throws(DataError.Problem) -> Double? {
        switch fields[field] {
        case nil, .null?: return nil
        case .number(let number)?: return number
        case let value?: throw .wrongType(field: field, found: value.kind, expected: "a number")
        }
    }
}

/// A demonstration for supervised fine-tuning. A `{"text"}` row is read as an empty prompt and the
/// text as the completion: the completion-only loss then trains on every token, which is exactly
/// language modelling on the text. A row with "prompt" (or "completion") is a prompt–completion row,
/// even if it also has "text" (TRL decides the same way).
public struct SFTRecord: JSONLRecord, Equatable {
    public var prompt: String
    public var completion: String

    public init(prompt: String, completion: String) {
        self.prompt = prompt
        self.completion = completion
    }

    public init(row: JSONRow) throws(DataError.Problem) {
        if row.has("prompt") || row.has("completion") {
            prompt = try row.string("prompt")
            completion = try row.string("completion")
        } else if row.has("text") {
            prompt = ""
            completion = try row.string("text")
        } else {
            throw .missingField("text", expected: "a string, or \"prompt\" and \"completion\" strings")
        }
    }
}

/// A preference pair: for the same prompt, `chosen` is preferred to `rejected`. `margin` (optional)
/// is subtracted inside the Bradley-Terry loss, −log σ(r_c − r_r − margin): how much better chosen is.
public struct PreferenceRecord: JSONLRecord, Equatable {
    public var prompt: String
    public var chosen: String
    public var rejected: String
    public var margin: Double?

    public init(prompt: String, chosen: String, rejected: String, margin: Double? = nil) {
        self.prompt = prompt
        self.chosen = chosen
        self.rejected = rejected
        self.margin = margin
    }

    public init(row: JSONRow) throws(DataError.Problem) {
        prompt = try row.string("prompt")
        chosen = try row.string("chosen")
        rejected = try row.string("rejected")
        margin = try row.optionalNumber("margin")
    }
}

/// A prompt for PPO rollouts (or for evaluating samples).
public struct PromptRecord: JSONLRecord, Equatable {
    public var prompt: String

    public init(prompt: String) { self.prompt = prompt }

    public init(row: JSONRow) throws(DataError.Problem) {
        prompt = try row.string("prompt")
    }
}
