// One training sequence, `BOS prompt completion EOS`, cut to fit the context T (DESIGN §3.4).
//
// Truncation, when 1 + prompt + completion + 1 > T:
// 1. the prompt loses tokens from its LEFT (its start), keeping the part next to the completion,
//    which is what the completion depends on most;
// 2. if the completion alone does not fit (completion + 2 > T), the prompt is dropped entirely and
//    the completion keeps its first T − 1 tokens, WITHOUT EOS — as TRL truncates the end. Appending an
//    EOS to a cut completion would teach the model to stop mid-sentence. Such a sequence is exactly T
//    long; its last real token stands where the reward model would read EOS.
// BOS always stays. `{"text"}` rows arrive as an empty prompt, so long texts keep their start.

public struct TokenSequence: Equatable, Sendable {
    /// BOS, the kept prompt tokens, the kept completion tokens, then EOS unless the completion was cut.
    public var tokens: [Int32]  // [L], 2 ≤ L ≤ T
    /// Index in `tokens` of the first completion token (of EOS when the completion is empty).
    public var completionStart: Int
    /// Tokens cut from the start of the prompt and from the end of the completion.
    public var droppedPromptTokens: Int
    public var droppedCompletionTokens: Int

    public var endsWithEOS: Bool { tokens.last == ByteTokenizer.eos }
    public var wasTruncated: Bool { droppedPromptTokens > 0 || droppedCompletionTokens > 0 }

    /// Builds the sequence for a context of `context` tokens (T ≥ 2).
    public init(prompt: [Int32], completion: [Int32], context: Int) {
        precondition(context >= 2, "a sequence needs room for BOS and one more token (T ≥ 2)")
        if completion.count + 2 <= context {
            let keptPrompt = min(prompt.count, context - 2 - completion.count)
            tokens = [ByteTokenizer.bos] + prompt.suffix(keptPrompt) + completion + [ByteTokenizer.eos]
            completionStart = 1 + keptPrompt
            droppedPromptTokens = prompt.count - keptPrompt
            droppedCompletionTokens = 0
        } else {
            tokens = [ByteTokenizer.bos] + completion.prefix(context - 1)
            completionStart = 1
            droppedPromptTokens = prompt.count
            droppedCompletionTokens = completion.count - (context - 1)
        }
    }

    public init(prompt: String, completion: String, context: Int) {
        self.init(prompt: ByteTokenizer.encode(prompt), completion: ByteTokenizer.encode(completion), context: context)
    }

    /// An SFT row's sequence (a `{"text"}` row has an empty prompt: every token is trained).
    public init(_ record: SFTRecord, context: Int) {
        self.init(prompt: record.prompt, completion: record.completion, context: context)
    }
}
