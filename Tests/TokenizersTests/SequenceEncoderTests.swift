// Examples built as TRL builds them (the chat formats are compared with transformers in
// ci/check_chat.py).

import Testing
@testable import Tokenizers

@Suite struct SequenceEncoderTests {
    /// A BPE tokenizer where "a" + "b" merge, with `<|end|>` (EOS) and `<s>` (BOS) added.
    func tokenizer() throws -> BPETokenizer {
        let added = #"""
            [{"id": 257, "content": "<|end|>", "special": true, "normalized": false},
             {"id": 258, "content": "<s>", "special": true, "normalized": false}]
            """#
        let json = tokenizerJSON(tokens: ["ab", "<|end|>", "<s>"], merges: ["a b"], added: added,
                                 preTokenizer: #"{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}"#)
        return try bpe(json).with(special: SpecialTokens(bos: 258, eos: 257))
    }

    @Test func byteTokenizerKeepsTheDemoSequences() throws {
        let encoder = SequenceEncoder(tokenizer: ByteTokenizer())
        let example = try encoder.encode(prompt: .text("ab"), completion: .text("cd"))
        #expect(example == EncodedExample(prefix: [256], prompt: [97, 98], completion: [99, 100], end: [257]))
        #expect(example.tokens == [256, 97, 98, 99, 100, 257])
        // A text row is a completion with an empty prompt; text never stands for EOS.
        #expect(try encoder.encode(prompt: .text(""), completion: .text("<|eos|>")).end == [257])
    }

    @Test func completionStartsWhereThePromptsIdsStopMatching() throws {
        let encoder = SequenceEncoder(tokenizer: try tokenizer())
        // "a" | "b" merge into one token across the boundary: the completion starts at it (as in TRL).
        let merged = try encoder.encode(prompt: .text("ca"), completion: .text("b"))
        #expect(merged == EncodedExample(prefix: [], prompt: [99], completion: [256], end: [257]))
        // A completion that already ends with the EOS text gets no second EOS.
        let ended = try encoder.encode(prompt: .text("x"), completion: .text("y<|end|>"))
        #expect(ended == EncodedExample(prefix: [], prompt: [120], completion: [121, 257], end: []))
        // Preferences share the prompt up to where it stops matching either side.
        let (chosen, rejected) = try encoder.encode(prompt: .text("ca"), chosen: .text("b"), rejected: .text("x"))
        #expect(chosen.prompt == [99] && chosen.completion == [256])
        #expect(rejected.prompt == [99] && rejected.completion == [97, 120])
    }

    @Test func conversationsNeedAFormatAndAnAssistant() throws {
        let plain = SequenceEncoder(tokenizer: try tokenizer())
        let chat = [ChatMessage(role: "user", content: "hi")]
        #expect(throws: SequenceError.noChatFormat) { try plain.encode(messages: chat) }
        let chatml = SequenceEncoder(tokenizer: try tokenizer(), chatFormat: .chatml(defaultSystem: nil))
        #expect(throws: SequenceError.noAssistantMessage) { try chatml.encode(messages: chat) }
        #expect(throws: SequenceError.chat(.unsupportedRole(index: 0, role: "tool"))) {
            try chatml.encode(messages: [ChatMessage(role: "tool", content: "x")])
        }
        // Llama 3 writes BOS as the first token: it is the prefix that a cut keeps.
        let llama = SequenceEncoder(tokenizer: try tokenizer(), chatFormat: .llama3)
        let example = try llama.encode(messages: chat + [ChatMessage(role: "assistant", content: " ab ")])
        #expect(example.prefix == [258])
        #expect(example.completion == [256] + "<|eot_id|>".utf8.map { Int32($0) } && example.trained.allSatisfy { $0 })
    }

    @Test func templatesAreRecognisedByTheirText() {
        let chatml = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
        #expect(ChatFormat.recognise(template: chatml) == .chatml(defaultSystem: nil))
        // The same template with real newlines in its strings renders alike.
        #expect(ChatFormat.recognise(template: chatml.replacingOccurrences(of: "\\n", with: "\n")) == .chatml(defaultSystem: nil))
        #expect(ChatFormat.recognise(template: chatml + " ") == nil)
    }
}
