// Chat formats: how a conversation becomes text, byte for byte what `tokenizer.apply_chat_template`
// renders with the model's template, and which parts of it are the assistant's (trained on).
//
//   chatml     <|im_start|>ROLE\nCONTENT<|im_end|>\n per message; a default system message first
//              when the conversation has none (Qwen2.5: "You are Qwen, created by Alibaba Cloud. You are
//              a helpful assistant."; SmolLM2: "You are a helpful AI assistant named SmolLM, trained by
//              Hugging Face"; plain ChatML: none). Prompt end: <|im_start|>assistant\n
//   llama3     <|begin_of_text|>, then <|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT<|eot_id|> per
//              message, CONTENT stripped of surrounding whitespace (Jinja's `trim`).
//              Prompt end: <|start_header_id|>assistant<|end_header_id|>\n\n
//   llama3.1   as llama3, but always a system message first: "Cutting Knowledge Date: December 2023\n
//              Today Date: DATE\n\n" + the conversation's system message (Llama 3.1 and 3.2; 3.2's
//              template puts today's date there, which would change the data from day to day: we use
//              the templates' own fallback, 26 Jul 2024, unless a date is given)
//
// The assistant's part (trained on) is what TRL's training templates wrap in {% generation %}: for
// ChatML the `\n`, content, `<|im_end|>` and `\n` after `<|im_start|>assistant`; for Llama 3 the
// content and `<|eot_id|>`. Roles other than system, user and assistant are refused (tool calls are
// not supported).
//
// A template in tokenizer_config.json is recognised when it is exactly one of these models' (compared
// by a fingerprint of its text, see `ChatFormat.recognise`); any other needs the manifest to name a
// format.

/// One message of a conversation.
public struct ChatMessage: Equatable, Sendable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    /// The roles a conversation may use.
    public static let roles = ["system", "user", "assistant"]
}

/// A conversation rendered: its text in segments, each the assistant's or not.
public struct RenderedChat: Equatable, Sendable {
    public var segments: [(text: String, assistant: Bool)]

    public var text: String { segments.map(\.text).joined() }

    public static func == (l: RenderedChat, r: RenderedChat) -> Bool {
        l.segments.map(\.text) == r.segments.map(\.text) && l.segments.map(\.assistant) == r.segments.map(\.assistant)
    }

    mutating func append(_ text: String, assistant: Bool = false) {
        if let last = segments.last, last.assistant == assistant {
            segments[segments.count - 1].text += text
        } else {
            segments.append((text, assistant))
        }
    }
}

public enum ChatFormat: Equatable, Sendable {
    case chatml(defaultSystem: String?)
    case llama3
    case llama31(date: String)

    public static let qwenSystem = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    public static let smolLMSystem = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    /// The date Llama 3.1's template uses, and 3.2's when it cannot read the clock.
    public static let llamaDefaultDate = "26 Jul 2024"

    /// The formats a manifest can name, by name.
    public static let named: [(name: String, format: ChatFormat)] = [
        ("chatml", .chatml(defaultSystem: nil)),
        ("qwen2.5", .chatml(defaultSystem: qwenSystem)),
        ("smollm2", .chatml(defaultSystem: smolLMSystem)),
        ("llama3", .llama3),
        ("llama3.1", .llama31(date: llamaDefaultDate)),
        ("llama3.2", .llama31(date: llamaDefaultDate)),
    ]

    public init?(name: String) {
        guard let format = Self.named.first(where: { $0.name == name })?.format else { return nil }
        self = format
    }

    public var name: String {
        switch self {
        case .chatml(let system):
            system == Self.qwenSystem ? "qwen2.5" : system == Self.smolLMSystem ? "smollm2" : "chatml"
        case .llama3: "llama3"
        case .llama31: "llama3.1"
        }
    }

    /// The text that ends a prompt for the model to answer (`add_generation_prompt=True`).
    public var generationPrompt: String {
        switch self {
        case .chatml: "<|im_start|>assistant\n"
        case .llama3, .llama31: "<|start_header_id|>assistant<|end_header_id|>\n\n"
        }
    }

    /// The conversation as the template renders it. `bos` is the tokenizer's BOS text (Llama 3 writes
    /// it into the text). Throws a message for a role the format cannot render.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool, bos: String = "<|begin_of_text|>")
        throws(ChatFormatError) -> RenderedChat {
        guard !messages.isEmpty else { throw .emptyConversation }
        for (index, message) in messages.enumerated() where !ChatMessage.roles.contains(message.role) {
            throw .unsupportedRole(index: index, role: message.role)
        }
        var out = RenderedChat(segments: [])
        switch self {
        case .chatml(let defaultSystem):
            if messages[0].role != "system", let defaultSystem {
                out.append("<|im_start|>system\n" + defaultSystem + "<|im_end|>\n")
            }
            for message in messages {
                if message.role == "assistant" {
                    out.append("<|im_start|>assistant")
                    out.append("\n" + message.content + "<|im_end|>\n", assistant: true)
                } else {
                    out.append("<|im_start|>" + message.role + "\n" + message.content + "<|im_end|>\n")
                }
            }
        case .llama3:
            out.append(bos)
            for message in messages { Self.appendLlamaTurn(message, to: &out) }
        case .llama31(let date):
            out.append(bos)
            var rest = messages[...]
            var system = ""
            if messages[0].role == "system" {
                system = Self.pythonStrip(messages[0].content)
                rest = rest.dropFirst()
            }
            out.append("<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: "
                       + date + "\n\n" + system + "<|eot_id|>")
            for message in rest { Self.appendLlamaTurn(message, to: &out) }
        }
        if addGenerationPrompt { out.append(generationPrompt) }
        return out
    }

    private static func appendLlamaTurn(_ message: ChatMessage, to out: inout RenderedChat) {
        out.append("<|start_header_id|>" + message.role + "<|end_header_id|>\n\n")
        out.append(pythonStrip(message.content) + "<|eot_id|>", assistant: message.role == "assistant")
    }

    /// Python's `str.strip()` (Jinja's `trim`): whitespace as `str.isspace` defines it.
    static func pythonStrip(_ text: String) -> String {
        func isSpace(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar.value {
            case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
                return true
            default:
                return false
            }
        }
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !isSpace($0) })!
        return String(scalars[first...last])
    }

    // MARK: Recognising a template

    /// The format a chat template renders, when it is exactly one of the templates these models ship;
    /// nil otherwise. Templates are compared by an FNV-1a fingerprint of their text with every `\n`
    /// escape written as a newline (the two spellings render alike).
    public static func recognise(template: String) -> ChatFormat? {
        knownTemplates[fingerprint(template)]
    }

    /// Fingerprints of the templates of Qwen2.5-Instruct, SmolLM2-Instruct, Llama 3, 3.1 and 3.2
    /// Instruct, and the common ChatML template (see ci/check_chat.py, which recomputes them from the
    /// templates TRL keeps for identity checks).
    static let knownTemplates: [UInt64: ChatFormat] = [
        0x3A18_A26C_EB17_6A6D: .chatml(defaultSystem: qwenSystem),        // Qwen2.5-*-Instruct
        0x45EC_583D_4D25_BC3A: .chatml(defaultSystem: smolLMSystem),      // SmolLM2-*-Instruct
        0x88BF_4138_D5C8_26F0: .chatml(defaultSystem: nil),               // ChatML as Hugging Face's docs give it
        0x0E60_067A_5537_498E: .llama3,                                   // Meta-Llama-3-*-Instruct
        0xB12E_C0F1_8B29_5B82: .llama31(date: llamaDefaultDate),          // Llama-3.1-*-Instruct
        0xD766_3F4E_244B_4A5A: .llama31(date: llamaDefaultDate),          // Llama-3.2-*-Instruct
    ]

    /// FNV-1a (64-bit) of the template's UTF-8 with the two characters `\` `n` replaced by a newline.
    public static func fingerprint(_ template: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        var pendingBackslash = false
        for byte in template.utf8 {
            if pendingBackslash {
                pendingBackslash = false
                if byte == UInt8(ascii: "n") { mix(0x0A); continue }
                mix(UInt8(ascii: "\\"))
            }
            if byte == UInt8(ascii: "\\") { pendingBackslash = true; continue }
            mix(byte)
        }
        if pendingBackslash { mix(UInt8(ascii: "\\")) }
        return hash
    }
}

/// Why a conversation cannot be rendered.
public enum ChatFormatError: Error, Equatable, Sendable, CustomStringConvertible {
    case emptyConversation
    case unsupportedRole(index: Int, role: String)

    public var description: String {
        switch self {
        case .emptyConversation: "the conversation has no messages"
        case .unsupportedRole(let index, let role):
            "message \(index) has role \"\(role)\" (expected \(ChatMessage.roles.joined(separator: ", ")))"
        }
    }
}
