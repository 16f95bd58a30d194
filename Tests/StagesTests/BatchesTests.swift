// Sequences and batches on hand-made examples: truncation, targets, loss masks, padding, EOS index.

import Stages
import Testing

private let bos = ByteTokenizer.bos, eos = ByteTokenizer.eos, pad = ByteTokenizer.pad

@Suite struct TokenSequenceTests {
    @Test func fitsWhole() {
        let sequence = TokenSequence(prompt: [1, 2, 3], completion: [4, 5], context: 10)
        #expect(sequence.tokens == [bos, 1, 2, 3, 4, 5, eos])
        #expect(sequence.completionStart == 4)
        #expect(sequence.endsWithEOS && !sequence.wasTruncated)
    }

    @Test func promptLosesItsStart() {
        let sequence = TokenSequence(prompt: [1, 2, 3, 4, 5], completion: [6, 7], context: 6)
        #expect(sequence.tokens == [bos, 4, 5, 6, 7, eos])
        #expect(sequence.completionStart == 3)
        #expect(sequence.droppedPromptTokens == 3 && sequence.droppedCompletionTokens == 0)
    }

    @Test func completionThatJustFitsDropsThePrompt() {
        let sequence = TokenSequence(prompt: [1, 2], completion: [3, 4, 5], context: 5)
        #expect(sequence.tokens == [bos, 3, 4, 5, eos])
        #expect(sequence.completionStart == 1 && sequence.droppedPromptTokens == 2)
    }

    @Test func completionTooLongKeepsItsStartWithoutEOS() {
        let sequence = TokenSequence(prompt: [1, 2], completion: [3, 4, 5, 6, 7], context: 5)
        #expect(sequence.tokens == [bos, 3, 4, 5, 6])
        #expect(sequence.completionStart == 1)
        #expect(!sequence.endsWithEOS)
        #expect(sequence.droppedPromptTokens == 2 && sequence.droppedCompletionTokens == 1)
    }

    @Test func emptyCompletionStillTrainsEOS() {
        let sequence = TokenSequence(prompt: "ab", completion: "", context: 8)
        #expect(sequence.tokens == [bos, 97, 98, eos])
        #expect(sequence.completionStart == 3)
        #expect(TokenBatch([sequence]).lossMask == [0, 0, 1, 0])
    }
}

@Suite struct BatchTests {
    /// Row 0 is prompt "ab" + completion "c"; row 1 is the text row "hi" (empty prompt).
    static let rows = [
        TokenSequence(prompt: "ab", completion: "c", context: 16),
        TokenSequence(prompt: "", completion: "hi", context: 16),
    ]

    @Test func paddedToAFixedWidth() {
        let batch = TokenBatch(Self.rows, width: 8)
        #expect(batch.rows == 2 && batch.width == 8)
        #expect(batch.tokens == [bos, 97, 98, 99, eos, pad, pad, pad,
                                 bos, 104, 105, eos, pad, pad, pad, pad])
        #expect(batch.targets == [97, 98, 99, eos, pad, pad, pad, pad,
                                  104, 105, eos, pad, pad, pad, pad, pad])
        #expect(batch.lossMask == [0, 0, 1, 1, 0, 0, 0, 0,
                                   1, 1, 1, 0, 0, 0, 0, 0])
        #expect(batch.lengths == [5, 4])
        #expect(batch.lastTokenIndices == [4, 3])
        #expect(batch.trainedTokenCount == 5)
    }

    @Test func paddedToTheLongestRow() {
        let batch = TokenBatch(Self.rows)
        #expect(batch.width == 5)
        #expect(batch.tokens == [bos, 97, 98, 99, eos,
                                 bos, 104, 105, eos, pad])
        #expect(batch.lossMask == [0, 0, 1, 1, 0,
                                   1, 1, 1, 0, 0])
    }

    @Test func truncatedCompletionTrainsToTheEnd() {
        // Context 4: "abcdef" keeps "abc", no EOS; every target but the last (none) is trained.
        let batch = TokenBatch([TokenSequence(prompt: "xy", completion: "abcdef", context: 4)])
        #expect(batch.tokens == [bos, 97, 98, 99])
        #expect(batch.targets == [97, 98, 99, pad])
        #expect(batch.lossMask == [1, 1, 1, 0])
        #expect(batch.lastTokenIndices == [3])
    }

    @Test func preferencePairsPutChosenRowsFirst() {
        let records = [
            PreferenceRecord(prompt: "p", chosen: "ab", rejected: "c", margin: 0.5),
            PreferenceRecord(prompt: "q", chosen: "d", rejected: "efg"),
        ]
        let batch = PreferenceBatch(records, context: 16)
        #expect(batch.pairs == 2)
        #expect(batch.margins == [0.5, 0])
        let s = batch.sequences
        #expect(s.rows == 4 && s.width == 6)
        #expect(s.tokens == [bos, 112, 97, 98, eos, pad,    // chosen 0: p + ab
                             bos, 113, 100, eos, pad, pad,  // chosen 1: q + d
                             bos, 112, 99, eos, pad, pad,   // rejected 0: p + c
                             bos, 113, 101, 102, 103, eos]) // rejected 1: q + efg
        #expect(s.lossMask == [0, 1, 1, 1, 0, 0,
                               0, 1, 1, 0, 0, 0,
                               0, 1, 1, 0, 0, 0,
                               0, 1, 1, 1, 1, 0])
        #expect(s.lastTokenIndices == [4, 3, 3, 5])
    }

    @Test func promptsRightAndLeftPadded() {
        let batch = PromptBatch([PromptRecord(prompt: "abc"), PromptRecord(prompt: "x")], maxLength: 3)
        #expect(batch.rows == 2 && batch.width == 3)
        #expect(batch.tokens == [bos, 98, 99,
                                 bos, 120, pad])
        #expect(batch.lengths == [3, 2])
        #expect(batch.droppedTokens == [1, 0])
        #expect(batch.leftPaddedTokens == [bos, 98, 99,
                                           pad, bos, 120])
        let wide = PromptBatch([PromptRecord(prompt: "x")], maxLength: 3, width: 4)
        #expect(wide.tokens == [bos, 120, pad, pad])
        #expect(wide.leftPaddedTokens == [pad, pad, bos, 120])
    }

    @Test func datasetBatchesTakeRowsInTheGivenOrder() {
        let sft = Dataset(records: [SFTRecord(prompt: "", completion: "a"), SFTRecord(prompt: "", completion: "bb")])
        #expect(sft.batch([1, 0], context: 8).tokens == [bos, 98, 98, eos, bos, 97, eos, pad])
        let prompts = Dataset(records: [PromptRecord(prompt: "a"), PromptRecord(prompt: "b")])
        #expect(prompts.batch([1], maxLength: 8).tokens == [bos, 98])
        let prefs = Dataset(records: [PreferenceRecord(prompt: "", chosen: "a", rejected: "b", margin: 2)])
        #expect(prefs.batch([0, 0], context: 8).margins == [2, 2])
    }
}
