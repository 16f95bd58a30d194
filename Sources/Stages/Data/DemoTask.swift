// The built-in demo task (DESIGN §3.5): a templated "review continuation" corpus, generated from a
// seed, so the main job runs on a fresh machine with no download. It is the miniature of TRL's
// gpt2-sentiment example: the prompt opens a product review, the completion continues it with a
// positive, neutral or negative judgement, and preferences favour the more positive one.
//
//   prompt      "Review of the kettle: the lid was"               (templates × products × aspects)
//   completion  " truly superb, and I love it."                   (≤ 47 bytes: with EOS it fits the
//                                                                   48 tokens a PPO rollout samples)
//
// Files (rows): sft.jsonl (4000, a third each positive, neutral, negative, so the SFT model is neutral
// on average), sft_eval.jsonl (400), prefs.jsonl (3000) and prefs_eval.jsonl (300) where chosen is the
// completion `DemoScorer` scores higher (always strictly), prompts.jsonl (every training prompt once)
// and prompts_eval.jsonl (128). Eval files draw from a held-out eighth of the prompts, disjoint from
// the prompts of every training file. Everything is ASCII; the whole is about 1 MB. The GRPO demo's
// arithmetic files (ArithmeticTask.swift) are written beside them.

import Foundation
import Kernels

public enum DemoTask {
    public static let defaultSeed: UInt64 = 1234
    /// The longest completion in bytes: with its EOS it fits a 48-token PPO response.
    public static let maxCompletionBytes = 47

    /// One generated JSONL file.
    public struct File: Sendable, Equatable {
        public var name: String
        public var rows: Int
        public var contents: [UInt8]
    }

    /// The corpus for `seed`, file by file; the same seed gives the same bytes.
    public static func generate(seed: UInt64 = defaultSeed) -> [File] {
        var generator = DemoGenerator(seed: seed)
        let (trainPrompts, evalPrompts) = generator.splitPrompts()
        func file(_ name: String, _ lines: [String]) -> File {
            File(name: name, rows: lines.count, contents: Array(lines.map { $0 + "\n" }.joined().utf8))
        }
        return [
            file("sft.jsonl", generator.demonstrations(4000, from: trainPrompts)),
            file("sft_eval.jsonl", generator.demonstrations(400, from: evalPrompts)),
            file("prefs.jsonl", generator.preferences(3000, from: trainPrompts)),
            file("prefs_eval.jsonl", generator.preferences(300, from: evalPrompts)),
            file("prompts.jsonl", trainPrompts.map { jsonLine(["prompt": $0]) }),
            file("prompts_eval.jsonl", evalPrompts.prefix(128).map { jsonLine(["prompt": $0]) }),
        ] + ArithmeticTask.generate(seed: seed)
    }

    /// Generates the corpus and writes its files into `directory` (created if needed; files replaced
    /// atomically). Returns what it wrote.
    @discardableResult
    public static func write(to directory: String, seed: UInt64 = defaultSeed) throws(DataError) -> [File] {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw DataError(file: directory, .unwritable(reason: error.localizedDescription))
        }
        let files = generate(seed: seed)
        for file in files {
            let path = (directory as NSString).appendingPathComponent(file.name)
            do {
                try Data(file.contents).write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw DataError(file: path, .unwritable(reason: error.localizedDescription))
            }
        }
        return files
    }

    /// One JSON object on one line, keys in the order given, strings escaped as RFC 8259 requires.
    static func jsonLine(_ fields: KeyValuePairs<String, String>) -> String {
        "{" + fields.map { "\(jsonString($0.key)):\(jsonString($0.value))" }.joined(separator: ",") + "}"
    }

    static func jsonString(_ text: String) -> String {
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\t": quoted += "\\t"
            case _ where scalar.value < 0x20:
                quoted += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }
}

// MARK: - Generation

/// The vocabulary of the demo task and one seeded stream that draws from it, in a fixed order.
struct DemoGenerator {
    var random: Xoshiro256

    init(seed: UInt64) { random = Xoshiro256(seed: seed) }

    /// Products grouped with the aspects that make sense for them.
    static let categories: [(products: [String], aspects: [String])] = [
        (["laptop", "phone", "tablet", "camera", "speaker", "headphones", "smartwatch", "monitor", "keyboard",
          "router", "e-reader", "printer"],
         ["battery", "screen", "sound", "design", "setup", "price"]),
        (["blender", "toaster", "kettle", "coffee maker", "frying pan", "rice cooker", "knife set", "mixer"],
         ["design", "price", "lid", "handle", "cleanup", "size"]),
        (["tent", "backpack", "sleeping bag", "rain jacket", "lantern", "hiking boots", "bike helmet"],
         ["weight", "zipper", "fabric", "price", "fit", "design"]),
        (["sofa", "desk lamp", "office chair", "bookshelf", "mattress", "rug"],
         ["fabric", "color", "assembly", "frame", "price", "size"]),
        (["cafe", "hotel", "pizza place", "bakery", "diner", "bistro"],
         ["service", "food", "coffee", "staff", "decor", "price"]),
        (["novel", "film", "series", "play", "audiobook", "comic"],
         ["plot", "ending", "pacing", "music", "dialogue", "humor"]),
    ]

    /// Prompt templates: {p} product, {P} product capitalised, {a} aspect. Each ends before the word
    /// that judges, so the completion starts with a space.
    static let templates = [
        "Review of the {p}: the {a} was", "{P} review. The {a} is", "My {p} a month on: the {a} is",
        "Rating the {p}: its {a} felt", "I tried the {p}. The {a} was", "About this {p}: the {a} seemed",
        "{P}, rated: the {a} was", "Verdict on the {p}: the {a} is",
    ]

    static let intensifiers = ["", "really ", "truly ", "quite ", "simply "]
    static let positiveAdjectives = [
        "great", "excellent", "wonderful", "superb", "lovely", "fantastic", "brilliant", "solid", "impressive",
        "pleasant", "amazing", "outstanding", "delightful",
    ]
    static let negativeAdjectives = [
        "terrible", "awful", "poor", "disappointing", "flimsy", "mediocre", "dreadful", "horrible", "annoying",
        "clumsy", "dull", "frustrating", "sloppy", "weak",
    ]
    static let neutralAdjectives = ["okay", "average", "fairly ordinary", "adequate", "standard", "unremarkable"]
    static let positiveEndings = [
        ", and I love it.", ". I recommend it to everyone.", ", well worth the money.", ". Best purchase this year.",
        ", and the whole family enjoys it.", ". No regrets at all.", ", and I would buy it again.",
        ". I am very happy with it.",
    ]
    static let negativeEndings = [
        ", and I regret buying it.", ". It broke within a week.", ". I would not recommend it.",
        ", a complete waste of money.", ", and I want a refund.", ". Worst purchase this year.",
        ". It was never worth the price.", ". I am sorry I bought it.",
    ]
    static let neutralEndings = [
        ", nothing more to say.", ", about what I expected.", ". It does the job.", ", neither here nor there.",
        ". I might keep it, I might not.", ", like most others out there.",
    ]

    enum Sentiment: CaseIterable { case positive, neutral, negative }

    mutating func pick<Element>(_ list: [Element]) -> Element { list[random.uniformIndex(below: list.count)] }

    /// Every prompt the templates make, shuffled, split into training prompts and a held-out eighth.
    mutating func splitPrompts() -> (train: [String], eval: [String]) {
        var prompts: [String] = []
        for category in Self.categories {
            for product in category.products {
                for aspect in category.aspects {
                    for template in Self.templates {
                        prompts.append(template
                            .replacingOccurrences(of: "{p}", with: product)
                            .replacingOccurrences(of: "{P}", with: product.prefix(1).uppercased() + product.dropFirst())
                            .replacingOccurrences(of: "{a}", with: aspect))
                    }
                }
            }
        }
        for i in stride(from: prompts.count - 1, to: 0, by: -1) {
            prompts.swapAt(i, random.uniformIndex(below: i + 1))
        }
        let held = prompts.count / 8
        return (Array(prompts[held...]), Array(prompts[..<held]))
    }

    /// A completion of the given sentiment, at most `maxCompletionBytes` long. A neutral one is either
    /// plain (no lexicon word) or mixed (one positive and one negative word): both score 0.
    mutating func completion(_ sentiment: Sentiment) -> String {
        while true {
            let text: String
            switch sentiment {
            case .positive:
                text = " " + pick(Self.intensifiers) + pick(Self.positiveAdjectives) + pick(Self.positiveEndings)
            case .negative:
                text = " " + pick(Self.intensifiers) + pick(Self.negativeAdjectives) + pick(Self.negativeEndings)
            case .neutral where random.uniformIndex(below: 10) < 3:
                text = " \(pick(Self.positiveAdjectives)) at first, but later it felt \(pick(Self.negativeAdjectives))."
            case .neutral:
                text = " " + pick(Self.neutralAdjectives) + pick(Self.neutralEndings)
            }
            if text.utf8.count <= DemoTask.maxCompletionBytes { return text }
        }
    }

    /// `count` SFT rows: prompts drawn from `prompts`, sentiments in equal shares.
    mutating func demonstrations(_ count: Int, from prompts: [String]) -> [String] {
        (0..<count).map { _ in
            let prompt = pick(prompts)
            return DemoTask.jsonLine(["prompt": prompt, "completion": completion(pick(Sentiment.allCases))])
        }
    }

    /// `count` preference rows: two completions of different sentiment for one prompt (positive against
    /// negative half the time, else against neutral, or neutral against negative); chosen is the one
    /// the scorer rates higher.
    mutating func preferences(_ count: Int, from prompts: [String]) -> [String] {
        let pairings: [(Sentiment, Sentiment)] = [
            (.positive, .negative), (.positive, .negative), (.positive, .neutral), (.neutral, .negative),
        ]
        return (0..<count).map { _ in
            let prompt = pick(prompts)
            let (better, worse) = pick(pairings)
            var (chosen, rejected) = (completion(better), completion(worse))
            if DemoScorer.score(chosen) < DemoScorer.score(rejected) { swap(&chosen, &rejected) }
            return DemoTask.jsonLine(["prompt": prompt, "chosen": chosen, "rejected": rejected])
        }
    }
}
