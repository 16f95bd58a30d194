// The demo task's ground truth (DESIGN §3.5): a transparent lexicon scorer that says how positive a
// completion is. It decides which completion of a demo preference pair is chosen, and reports the
// policy's sentiment before and after PPO, where the reward model (learned from those pairs) is only
// a proxy for it. Anyone can check a score by hand.
//
//   words   lower-cased runs of ASCII letters and apostrophes; everything else separates words
//   P, N    how many words are in the positive and negative lexicons, where a negator ("not",
//           "never", "no", ...) flips the polarity of the next lexicon word if it is at most two
//           words later ("not good" counts as negative, "would not recommend" too, "no regrets"
//           as positive)
//   score   (P − N) / (P + N + 1), in (−1, 1): 0 with no sentiment or as much of each; one positive
//           word 0.5, two 0.67, three 0.75; it rewards a clear lean, with diminishing returns for
//           piling on words, and does not depend on length.

public enum DemoScorer {
    public static let positiveWords: Set<String> = [
        "good", "great", "excellent", "wonderful", "superb", "lovely", "fantastic", "perfect", "brilliant",
        "solid", "impressive", "pleasant", "amazing", "awesome", "outstanding", "delightful", "beautiful",
        "reliable", "sturdy", "comfortable", "smooth", "happy", "happily", "love", "loved", "loves", "enjoy",
        "enjoyed", "enjoys", "recommend", "recommended", "best", "nice", "fun", "charming", "helpful",
        "friendly", "crisp", "fresh", "worth", "glad", "pleased",
    ]

    public static let negativeWords: Set<String> = [
        "bad", "poor", "terrible", "awful", "horrible", "dreadful", "disappointing", "disappointed", "flimsy",
        "useless", "broken", "broke", "weak", "mediocre", "annoying", "ugly", "noisy", "uncomfortable",
        "unreliable", "slow", "boring", "bland", "stale", "rude", "hate", "hated", "regret", "regrets",
        "regretted", "waste", "worst", "faulty", "fragile", "clumsy", "awkward", "sloppy", "dull",
        "frustrating", "overpriced", "sad", "unhappy", "sorry",
    ]

    public static let negators: Set<String> = [
        "not", "never", "no", "hardly", "isn't", "wasn't", "aren't", "weren't", "don't", "doesn't", "didn't",
        "won't", "wouldn't", "can't", "couldn't", "shouldn't",
    ]

    /// A negator reaches a lexicon word at most this many words after it.
    public static let negationReach = 2

    /// How positive `text` is, in (−1, 1): (P − N) / (P + N + 1).
    public static func score(_ text: String) -> Double {
        let (positive, negative) = counts(text)
        return Double(positive - negative) / Double(positive + negative + 1)
    }

    /// P and N: lexicon words of each polarity after negation.
    public static func counts(_ text: String) -> (positive: Int, negative: Int) {
        var positive = 0, negative = 0
        var negatorPosition: Int? = nil  // index of the last negator not yet used
        for (position, word) in words(text).enumerated() {
            if negators.contains(word) {
                negatorPosition = position
                continue
            }
            let polarity = positiveWords.contains(word) ? 1 : negativeWords.contains(word) ? -1 : 0
            guard polarity != 0 else { continue }
            var flipped = false
            if let negator = negatorPosition, position - negator <= negationReach {
                flipped = true
                negatorPosition = nil
            }
            if (polarity == 1) != flipped { positive += 1 } else { negative += 1 }
        }
        return (positive, negative)
    }

    /// Lower-cased runs of ASCII letters and apostrophes.
    public static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        func endWord() {
            let word = current.lowercased().trimmingApostrophes
            if !word.isEmpty { words.append(word) }
            current = ""
        }
        for scalar in text.unicodeScalars {
            if ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || scalar == "'" {
                current.unicodeScalars.append(scalar)
            } else {
                endWord()
            }
        }
        endWord()
        return words
    }
}

private extension String {
    /// `'great'` → `great` (quotes around a word are not part of it).
    var trimmingApostrophes: String {
        var scalars = Substring(self)
        while scalars.first == "'" { scalars = scalars.dropFirst() }
        while scalars.last == "'" { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
