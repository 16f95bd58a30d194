// Training examples as tokens, built the way TRL builds them (SFTTrainer, DPOTrainer, RewardTrainer):
//
//   plain prompt + completion   ids(prompt) and ids(prompt + completion), both with the post-processor's
//                               tokens (BOS for Llama 3 and the byte tokenizer); the completion starts
//                               where the two first differ (usually the end of the prompt; earlier when
//                               a token merges across the boundary); then EOS, unless the completion's
//                               text already ends with it, then the post-processor's suffix (if any).
//                               A `text` row is a completion with an empty prompt.
//   conversational prompt +     the chat format renders the prompt with the generation prompt, and the
//   completion                  whole conversation without; both tokenized as they are (the format
//                               writes BOS itself); the completion starts where they first differ. No
//                               EOS: the format ends the turn (`<|im_end|>`, `<|eot_id|>`).
//   messages                    the whole conversation rendered; trained: the assistant's parts
//                               (ChatFormat.swift), the end-of-turn token included.
//   preference pairs            the shared prompt ends where the prompt's ids stop matching either the
//                               chosen or the rejected sequence.
//
// An example is kept in four parts so that it can be cut to a context later (docs/data.md): a prefix
// that always stays (BOS), the prompt (cut from the left), the completion (with which of its tokens
// are trained) and the end (EOS and suffix, dropped when the completion must be cut).

/// Plain text or a conversation: what one field of a dataset row holds.
public enum Turns: Equatable, Sendable {
    case text(String)
    case messages([ChatMessage])
}

/// One example as tokens, before it is cut to fit a context.
public struct EncodedExample: Equatable, Sendable {
    /// Kept whatever the cut: BOS (the post-processor's prefix, or the chat format's first token).
    public var prefix: [Int32]
    /// Not trained; cut from the left when the example is too long.
    public var prompt: [Int32]
    /// What follows the prompt; `trained[i]` says whether `completion[i]` is a training target.
    public var completion: [Int32]
    public var trained: [Bool]
    /// Trained, after the completion: EOS when added, then the post-processor's suffix.
    public var end: [Int32]

    public init(prefix: [Int32], prompt: [Int32], completion: [Int32], trained: [Bool]? = nil, end: [Int32]) {
        self.prefix = prefix
        self.prompt = prompt
        self.completion = completion
        self.trained = trained ?? Array(repeating: true, count: completion.count)
        self.end = end
    }

    /// All the tokens in order.
    public var tokens: [Int32] { prefix + prompt + completion + end }
}

/// Why a row cannot become an example.
public enum SequenceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The row is a conversation but the tokenizer has no chat format.
    case noChatFormat
    case chat(ChatFormatError)
    /// A conversation with no assistant message has nothing to train on.
    case noAssistantMessage
    /// A prompt to answer ends with an assistant message.
    case promptEndsWithAssistant
    /// The tokenizer names no EOS, which every plain completion ends with.
    case noEOS
    /// The format renders BOS into the text but the tokenizer has none.
    case noBOS(format: String)
    /// Rendered parts tokenized apart differ from the whole (a token would span the assistant's part).
    case assistantBoundary

    public var description: String {
        switch self {
        case .noChatFormat: "the row is a conversation but the model's tokenizer has no chat format"
        case .chat(let error): "\(error)"
        case .noAssistantMessage: "the conversation has no assistant message to train on"
        case .promptEndsWithAssistant: "a prompt to answer must not end with an assistant message"
        case .noEOS: "the tokenizer names no EOS token (set eos_token in tokenizer_config.json)"
        case .noBOS(let format): "the \(format) chat format starts with BOS, but the tokenizer names no BOS token"
        case .assistantBoundary:
            "a token spans the boundary of an assistant message, so its loss mask is not well defined"
        }
    }
}

/// Makes training examples and prompts from rows, with a tokenizer and (for conversations) a chat format.
public struct SequenceEncoder: Sendable {
    public let tokenizer: any Tokenizer
    public let chatFormat: ChatFormat?

    public init(tokenizer: any Tokenizer, chatFormat: ChatFormat? = nil) {
        self.tokenizer = tokenizer
        self.chatFormat = chatFormat
    }

    // MARK: Examples

    /// A prompt/completion row (SFT), or a `text` row as `.text("")` + `.text(text)`.
    public func encode(prompt: Turns, completion: Turns) throws(SequenceError) -> EncodedExample {
        try encode(prompt: prompt, completions: [completion])[0]
    }

    /// A preference pair: the chosen and rejected examples after one shared prompt.
    public func encode(prompt: Turns, chosen: Turns, rejected: Turns) throws(SequenceError) -> (chosen: EncodedExample, rejected: EncodedExample) {
        let pair = try encode(prompt: prompt, completions: [chosen, rejected])
        return (pair[0], pair[1])
    }

    /// Examples sharing one prompt: it ends where the prompt's ids stop matching any of the full ones.
    func encode(prompt: Turns, completions: [Turns]) throws(SequenceError) -> [EncodedExample] {
        switch prompt {
        case .text(let promptText):
            guard let eos = tokenizer.special?.eos else { throw .noEOS }
            let promptIDs = tokenizer.encode(promptText)
            var fulls: [[Int32]] = [], ends: [[Int32]] = []
            for completion in completions {
                guard case .text(let completionText) = completion else { throw .noChatFormat }
                fulls.append(tokenizer.encode(promptText + completionText))
                let eosText = tokenizer.textOfSpecialToken(eos)
                let hasEOS = eosText.map { !$0.isEmpty && completionText.hasSuffixScalars($0) } ?? false
                ends.append((hasEOS ? [] : [eos]) + tokenizer.sequenceSuffix)
            }
            let shared = fulls.map { commonPrefixLength(promptIDs, $0) }.min()!
            return zip(fulls, ends).map { full, end in
                EncodedExample(prefix: tokenizer.sequencePrefix, prompt: Array(full[..<shared]),
                               completion: Array(full[shared...]), end: end)
            }
        case .messages(let promptMessages):
            let format = try requireChatFormat()
            try checkPrompt(promptMessages)
            let promptIDs = tokenizer.encode(try render(format, promptMessages, generationPrompt: true).text)
            var fulls: [[Int32]] = []
            for completion in completions {
                guard case .messages(let completionMessages) = completion else { throw .noChatFormat }
                fulls.append(tokenizer.encode(try render(format, promptMessages + completionMessages, generationPrompt: false).text))
            }
            let shared = fulls.map { commonPrefixLength(promptIDs, $0) }.min()!
            let prefixCount = leadingBOS(fulls[0], shared)
            return fulls.map { full in
                EncodedExample(prefix: Array(full[..<prefixCount]), prompt: Array(full[prefixCount..<shared]),
                               completion: Array(full[shared...]), end: [])
            }
        }
    }

    /// A `messages` row: the whole conversation, its assistant parts trained.
    public func encode(messages: [ChatMessage]) throws(SequenceError) -> EncodedExample {
        let format = try requireChatFormat()
        let rendered = try render(format, messages, generationPrompt: false)
        var tokens: [Int32] = [], trained: [Bool] = []
        for segment in rendered.segments {
            let ids = tokenizer.encode(segment.text)
            tokens += ids
            trained += Array(repeating: segment.assistant, count: ids.count)
        }
        // The parts tokenized apart must be the whole tokenized at once (Hugging Face masks the tokens that
        // overlap the assistant's text; the two agree exactly when no token crosses a boundary).
        guard tokens == tokenizer.encode(rendered.text) else { throw .assistantBoundary }
        guard let first = trained.firstIndex(of: true) else { throw .noAssistantMessage }
        let prefixCount = leadingBOS(tokens, first)
        return EncodedExample(prefix: Array(tokens[..<prefixCount]), prompt: Array(tokens[prefixCount..<first]),
                              completion: Array(tokens[first...]), trained: Array(trained[first...]), end: [])
    }

    // MARK: Prompts to answer

    /// A prompt for generation: plain text with the post-processor's prefix, or a conversation with the
    /// chat format's generation prompt. Returns the prefix (kept when the prompt is cut) and the rest.
    public func encodePrompt(_ prompt: Turns) throws(SequenceError) -> (prefix: [Int32], prompt: [Int32]) {
        switch prompt {
        case .text(let text):
            return (tokenizer.sequencePrefix, tokenizer.encode(text))
        case .messages(let messages):
            let format = try requireChatFormat()
            try checkPrompt(messages)
            let ids = tokenizer.encode(try render(format, messages, generationPrompt: true).text)
            let prefixCount = leadingBOS(ids, ids.count)
            return (Array(ids[..<prefixCount]), Array(ids[prefixCount...]))
        }
    }

    // MARK: Helpers

    private func requireChatFormat() throws(SequenceError) -> ChatFormat {
        guard let chatFormat else { throw .noChatFormat }
        return chatFormat
    }

    private func checkPrompt(_ messages: [ChatMessage]) throws(SequenceError) {
        if messages.last?.role == "assistant" { throw .promptEndsWithAssistant }
    }

    /// The BOS text a Llama 3 format writes first ("" for ChatML, which writes none).
    private func bosText(_ format: ChatFormat) throws(SequenceError) -> String {
        guard case .chatml = format else {
            guard let bos = tokenizer.special?.bos, let text = tokenizer.textOfSpecialToken(bos) else {
                throw .noBOS(format: format.name)
            }
            return text
        }
        return ""
    }

    /// A conversation as the chat format renders it (with the tokenizer's BOS text where it writes one).
    public func render(_ messages: [ChatMessage], generationPrompt: Bool) throws(SequenceError) -> RenderedChat {
        try render(try requireChatFormat(), messages, generationPrompt: generationPrompt)
    }

    private func render(_ format: ChatFormat, _ messages: [ChatMessage], generationPrompt: Bool) throws(SequenceError) -> RenderedChat {
        let bos = try bosText(format)
        do throws(ChatFormatError) {
            return try format.render(messages, addGenerationPrompt: generationPrompt, bos: bos)
        } catch {
            throw .chat(error)
        }
    }

    /// 1 when `tokens` starts with the tokenizer's BOS (within the first `limit` tokens), else 0.
    private func leadingBOS(_ tokens: [Int32], _ limit: Int) -> Int {
        guard limit > 0, let bos = tokenizer.special?.bos, tokens.first == bos else { return 0 }
        return 1
    }
}

/// How many leading ids two sequences share.
public func commonPrefixLength(_ a: [Int32], _ b: [Int32]) -> Int {
    var n = 0
    while n < a.count && n < b.count && a[n] == b[n] { n += 1 }
    return n
}

extension String {
    /// Whether the text ends with `suffix`, scalar for scalar (Python's `str.endswith`).
    func hasSuffixScalars(_ suffix: String) -> Bool {
        let text = Array(unicodeScalars), end = Array(suffix.unicodeScalars)
        return text.count >= end.count && Array(text[(text.count - end.count)...]) == end
    }
}
