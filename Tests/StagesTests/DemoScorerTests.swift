// The demo task's lexicon scorer: word splitting, counting, negation, normalisation.

import Stages
import Testing

@Suite struct DemoScorerTests {
    @Test(arguments: [
        ("", 0.0),
        ("the lid was", 0.0),                         // no lexicon word
        (" great.", 0.5),                             // P = 1: 1 / 2
        (" GREAT!", 0.5),                             // case and punctuation do not matter
        ("'great'", 0.5),                             // quotes around a word are not part of it
        (" great and wonderful", 2.0 / 3),            // P = 2: 2 / 3
        (" superb, and I love it. Best ever", 0.75),  // P = 3: 3 / 4
        (" terrible", -0.5),
        (" great at first, but later it felt flimsy.", 0.0),  // P = N = 1
        (" not good", -0.5),                          // negated: counts as negative
        (" I would not recommend it.", -0.5),
        (" not very good", -0.5),                     // a negator reaches two words ahead
        (" not at all good", 0.5),                    // ... but not three
        (" No regrets at all.", 0.5),                 // a negated negative word counts as positive
        (" It was never worth the price.", -0.5),
        (" isn't bad, isn't great", 0.0),             // each negator flips one word
        (" not great, awful", -2.0 / 3),              // the negator is used up by "great"
    ])
    func scores(text: String, expected: Double) {
        #expect(abs(DemoScorer.score(text) - expected) < 1e-12, "\(text)")
    }

    @Test func splitsWords() {
        #expect(DemoScorer.words("It's GREAT, isn't it? café-bar 42x") == ["it's", "great", "isn't", "it", "caf", "bar", "x"])
    }

    @Test func countsEachPolarity() {
        #expect(DemoScorer.counts("good good bad, not bad") == (positive: 3, negative: 1))
    }

    @Test func lexiconsAreDisjoint() {
        #expect(DemoScorer.positiveWords.isDisjoint(with: DemoScorer.negativeWords))
        #expect(DemoScorer.negators.isDisjoint(with: DemoScorer.positiveWords.union(DemoScorer.negativeWords)))
    }
}
