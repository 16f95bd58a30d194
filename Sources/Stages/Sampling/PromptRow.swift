// A prompt row with every column kept: what GRPO and RLOO sample from and what their graders read
// (`{"prompt": "2+3=", "answer": "5"}`). Columns other than `prompt` reach the graders unchanged.

public struct PromptRow: JSONLRecord {
    public var prompt: String
    public var row: JSONRow

    public init(row: JSONRow) throws(DataError.Problem) {
        prompt = try row.string("prompt")
        self.row = row
    }

    public init(prompt: String, columns: [String: JSONValue] = [:]) {
        self.prompt = prompt
        var fields = columns
        fields["prompt"] = .string(prompt)
        row = JSONRow(fields: fields)
    }
}

extension Dataset where Record == PromptRow {
    /// The prompts of `indices`, tokenised and left-truncated to `maxLength` tokens (BOS included).
    public func promptTokens(_ indices: [Int], maxLength: Int) -> [[Int32]] {
        let batch = PromptBatch(indices.map { PromptRecord(prompt: records[$0].prompt) }, maxLength: maxLength)
        return (0..<batch.rows).map { Array(batch.tokens[$0 * batch.width..<$0 * batch.width + batch.lengths[$0]]) }
    }
}
