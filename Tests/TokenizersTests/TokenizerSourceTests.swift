// What a checkpoint records about its tokenizer: attributes that rebuild it, and the files an export writes.

import Testing
@testable import Tokenizers

@Suite struct TokenizerSourceTests {
    @Test func attributesRoundTrip() throws {
        #expect(try TokenizerSource(attributes: TokenizerSource.bytes.attributes, source: "c.h5") == .bytes)
        let files = TokenizerFiles(files: ["tokenizer.json": Array(BadTokenizerFileTests.valid.utf8),
                                           "tokenizer_config.json": Array(#"{"eos_token": "ab"}"#.utf8)],
                                   modelIDs: ModelSpecialIDs(bos: 1, eos: [2, 3], pad: nil))
        let source = TokenizerSource.files(files)
        let read = try TokenizerSource(attributes: source.attributes, source: "c.h5")
        #expect(read == source && read.fingerprint == source.fingerprint && source.fingerprint.hasPrefix("huggingface "))
        #expect(try read.tokenizer().special == SpecialTokens(bos: 1, eos: 256, stop: [2, 3]))
        #expect(throws: TokenizerError(file: "c.h5", at: "/tokenizer@kind", #"is "x" (expected "byte" or "huggingface")"#)) {
            try TokenizerSource(attributes: ["kind": "x"], source: "c.h5")
        }
    }

    @Test func theByteTokenizerExportsAsByteLevelBPE() throws {
        let files = TokenizerSource.bytes.huggingFaceFiles()
        let exported = try TokenizerFiles(files: files).tokenizer()
        let bytes = ByteTokenizer()
        #expect(exported.special == bytes.special)
        for text in ["", "plain text", "  spaces\n\nand lines", "café e\u{301} 漢字 😀", "<|eos|> <|bos|>", "\u{0}\u{7F}"] {
            #expect(exported.encode(text, addSpecialTokens: true) == bytes.encode(text, addSpecialTokens: true))
            #expect(exported.decode(bytes.encode(text)) == text)
        }
    }
}
