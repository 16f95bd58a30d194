// Reading JSONL datasets: good files of each kind, and every kind of bad line with its exact message.

import Foundation
import Stages
import Testing

/// The description of the error `body` throws, or nil if it throws none.
func errorMessage<Result>(_ body: () throws -> Result) -> String? {
    do {
        _ = try body()
        return nil
    } catch {
        return "\(error)"
    }
}

@Suite struct JSONLReaderTests {
    @Test func readsSFTRowsOfBothShapes() throws {
        let bom = "\u{FEFF}"
        let path = TestFiles.write(bom + #"""
            {"prompt": "Q: 2+2?", "completion": " 4", "id": 7, "meta": {"source": ["x", null, true, 1e-3]}}

               \#t
            {"text": "Just text.\nWith caf\u00e9 \ud83d\ude00 and \"quotes\" \\ \/"}\#r
            {"text": "ignored", "prompt": "P", "completion": "C"}
            {"completion":"c","prompt":"p"}
            """#)  // no newline after the last line
        let dataset = try Dataset<SFTRecord>(contentsOf: path)
        #expect(dataset.records == [
            SFTRecord(prompt: "Q: 2+2?", completion: " 4"),
            SFTRecord(prompt: "", completion: "Just text.\nWith café 😀 and \"quotes\" \\ /"),
            SFTRecord(prompt: "P", completion: "C"),
            SFTRecord(prompt: "p", completion: "c"),
        ])
        #expect(dataset.skippedLineCount == 0)
        #expect(dataset.path == path)
    }

    @Test func readsPreferencesWithOptionalMargin() throws {
        let path = TestFiles.write("""
            {"prompt": "p", "chosen": "good", "rejected": "bad", "score_chosen": 9}
            {"prompt": "p2", "chosen": "c", "rejected": "r", "margin": 1.5}
            {"prompt": "p3", "chosen": "c", "rejected": "r", "margin": -2}
            {"prompt": "p4", "chosen": "c", "rejected": "r", "margin": null}

            """)
        let dataset = try Dataset<PreferenceRecord>(contentsOf: path)
        #expect(dataset.records == [
            PreferenceRecord(prompt: "p", chosen: "good", rejected: "bad"),
            PreferenceRecord(prompt: "p2", chosen: "c", rejected: "r", margin: 1.5),
            PreferenceRecord(prompt: "p3", chosen: "c", rejected: "r", margin: -2),
            PreferenceRecord(prompt: "p4", chosen: "c", rejected: "r"),
        ])
    }

    @Test func readsPrompts() throws {
        let path = TestFiles.write("{\"prompt\": \"hello\"}\n{\"prompt\": \"\", \"completion\": \"unused\"}\n")
        #expect(try Dataset<PromptRecord>(contentsOf: path).records == [PromptRecord(prompt: "hello"), PromptRecord(prompt: "")])
    }

    /// A bad line among good ones, read as SFT: its 1-based line number counts the blank line before it.
    @Test(arguments: [
        (#"{"prompt": "a"}"#, #"field "completion" is missing (expected a string)"#),
        (#"{"completion": "a"}"#, #"field "prompt" is missing (expected a string)"#),
        (#"{"prompt": "a", "completion": 3}"#, #"field "completion" is a number (expected a string)"#),
        (#"{"prompt": null, "completion": "b"}"#, #"field "prompt" is null (expected a string)"#),
        (#"{"text": ["a"]}"#, #"field "text" is an array (expected a string)"#),
        (#"{"answer": "x"}"#, #"field "text" is missing (expected a string, or "prompt" and "completion" strings)"#),
        (#"["a"]"#, "expected a JSON object, found an array"),
        (#""just a string""#, "expected a JSON object, found a string"),
        ("null", "expected a JSON object, found null"),
        ("not json", "invalid JSON at column 1: expected null, found 'not'"),
        (#"{"prompt": "a", "completion": "b",}"#, "invalid JSON at column 35: expected a key in double quotes, found '}'"),
        (#"{"prompt" "a"}"#, "invalid JSON at column 11: expected ':' after the key, found '\"'"),
        (#"{"prompt": "a""#, "invalid JSON at column 15: expected ',' or '}' after a value, found the end of the line"),
        (#"{"prompt": tru}"#, "invalid JSON at column 12: expected true, found 'tru'"),
        (#"{"prompt": True}"#, "invalid JSON at column 12: expected a value, found 'T'"),
        (#"{"prompt": nullx}"#, "invalid JSON at column 12: expected null, found 'nullx'"),
        (#"{"prompt": "a\qb"}"#, #"invalid JSON at column 15: invalid escape \q"#),
        (#"{"prompt": "\ud800"}"#, #"invalid JSON at column 13: \u escape of a lone UTF-16 high surrogate"#),
        (#"{"prompt": "\udc00"}"#, #"invalid JSON at column 13: \u escape of a lone UTF-16 low surrogate"#),
        (#"{"prompt": "\u12G4"}"#, #"invalid JSON at column 17: expected 4 hexadecimal digits after \u, found 'G'"#),
        (#"{"n": 01}"#, "invalid JSON at column 8: expected ',' or '}' after a value, found '1'"),
        (#"{"n": -}"#, "invalid JSON at column 8: expected a digit in the number, found '}'"),
        (#"{"n": 1.}"#, "invalid JSON at column 9: expected a digit after the decimal point, found '}'"),
        (#"{"n": 1e999}"#, "invalid JSON at column 7: the number 1e999 is out of range"),
        (#"{"n": [1, 2}"#, "invalid JSON at column 12: expected ',' or ']' after a value, found '}'"),
        (#"{"é": x}"#, "invalid JSON at column 7: expected a value, found 'x'"),  // columns count characters
        (#"{"a": 1} x"#, "invalid JSON at column 10: unexpected text after the JSON value"),
        (#"{"a": "unterminated"#, "invalid JSON at column 20: unterminated string"),
        ("{\"a\": \"tab\there\"}", #"invalid JSON at column 11: control character in a string (write it as an escape such as \n or \t)"#),
        (String(repeating: "[", count: 300), "invalid JSON at column 257: nested more than 256 levels deep"),
    ])
    func badLine(line: String, problem: String) {
        let path = TestFiles.write("{\"prompt\": \"ok\", \"completion\": \"ok\"}\n\n\(line)\n")
        #expect(errorMessage { try Dataset<SFTRecord>(contentsOf: path) } == "\(path):3: \(problem)")
    }

    @Test func badFieldsOfPreferences() {
        let path = TestFiles.write("""
            {"prompt": "p", "chosen": "c", "rejected": "r", "margin": "big"}
            """)
        #expect(errorMessage { try Dataset<PreferenceRecord>(contentsOf: path) }
                == "\(path):1: field \"margin\" is a string (expected a number)")
        let noRejected = TestFiles.write(#"{"prompt": "p", "chosen": "c"}"#)
        #expect(errorMessage { try Dataset<PreferenceRecord>(contentsOf: noRejected) }
                == "\(noRejected):1: field \"rejected\" is missing (expected a string)")
        let noPrompt = TestFiles.write(#"{"text": "p"}"#)
        #expect(errorMessage { try Dataset<PromptRecord>(contentsOf: noPrompt) }
                == "\(noPrompt):1: field \"prompt\" is missing (expected a string)")
    }

    @Test func invalidUTF8IsNamedWithColumnAndByte() {
        // Line 2: `{"prompt": "caf` is 15 characters, then the Latin-1 byte of é instead of UTF-8.
        let path = TestFiles.write(Array("{\"text\": \"fine\"}\n{\"prompt\": \"caf".utf8) + [0xE9]
                                   + Array("\", \"completion\": \"x\"}\n".utf8))
        #expect(errorMessage { try Dataset<SFTRecord>(contentsOf: path) }
                == "\(path):2: invalid UTF-8 at column 16 (byte 0xE9)")
        let stray = TestFiles.write(Array("{\"text\": \"é".utf8) + [0x80] + Array("\"}".utf8))
        #expect(errorMessage { try Dataset<SFTRecord>(contentsOf: stray) }
                == "\(stray):1: invalid UTF-8 at column 12 (byte 0x80)")
    }

    @Test func wholeFileProblems() {
        let empty = TestFiles.write("")
        #expect(errorMessage { try Dataset<SFTRecord>(contentsOf: empty) }
                == "\(empty): the file is empty (expected one JSON object a line)")
        let blank = TestFiles.write("\n   \n\t\r\n")
        #expect(errorMessage { try Dataset<SFTRecord>(contentsOf: blank) }
                == "\(blank): the file has only blank lines (expected one JSON object a line)")
        let missing = TestFiles.folder() + "/missing.jsonl"
        #expect(errorMessage { try Dataset<SFTRecord>(contentsOf: missing) } == "\(missing): no such file")
        let folder = TestFiles.folder()
        #expect(errorMessage { try Dataset<SFTRecord>(contentsOf: folder) }
                == "\(folder): is a directory, not a JSONL file")
    }

    @Test func skipBadLinesCountsAndReports() throws {
        let content = """
            {"prompt": "a", "completion": "b"}
            not json
            {"prompt": "a"}

            {"prompt": 1, "completion": "b"}
            {"prompt": "c", "completion": "d"}

            """
        let path = TestFiles.write(content)
        #expect(errorMessage { try Dataset<SFTRecord>(contentsOf: path) }
                == "\(path):2: invalid JSON at column 1: expected null, found 'not'")
        let dataset = try Dataset<SFTRecord>(contentsOf: path, skipBadLines: true)
        #expect(dataset.records == [SFTRecord(prompt: "a", completion: "b"), SFTRecord(prompt: "c", completion: "d")])
        #expect(dataset.skippedLineCount == 3)
        #expect(dataset.skippedLineErrors.map(\.description) == [
            "\(path):2: invalid JSON at column 1: expected null, found 'not'",
            "\(path):3: field \"completion\" is missing (expected a string)",
            "\(path):5: field \"prompt\" is a number (expected a string)",
        ])
    }

    @Test func skipBadLinesKeepsTheFirstFiveMessages() throws {
        let path = TestFiles.write(String(repeating: "{}\n", count: 8) + "{\"text\": \"t\"}\n")
        let dataset = try Dataset<SFTRecord>(contentsOf: path, skipBadLines: true)
        #expect(dataset.count == 1)
        #expect(dataset.skippedLineCount == 8)
        #expect(dataset.skippedLineErrors.map(\.line) == [1, 2, 3, 4, 5])
    }

    @Test func aFileOfOnlyBadLinesIsAnErrorEvenWhenSkipping() {
        let path = TestFiles.write("{\"prompt\": 1}\n[]\n")
        #expect(errorMessage { try Dataset<PromptRecord>(contentsOf: path, skipBadLines: true) }
                == "\(path): no usable rows: all 2 non-blank lines are bad "
                   + "(the first: line 1: field \"prompt\" is a number (expected a string))")
    }

    @Test func parsesContentInMemory() throws {
        let dataset = try Dataset<PromptRecord>(parsing: Array("{\"prompt\": \"x\"}".utf8), path: "inline")
        #expect(dataset[0] == PromptRecord(prompt: "x"))
        #expect(errorMessage { try Dataset<PromptRecord>(parsing: Array("{".utf8), path: "inline") }
                == "inline:1: invalid JSON at column 2: expected a key in double quotes, found the end of the line")
    }
}
