// The built-in verifiable task of the GRPO demo (Jobs/demo-grpo.yaml): two-digit additions whose answer
// a grader checks exactly. Generated from a seed with the demo's other files (`demo_data`), so the
// demo needs no download.
//
//   prompt   "47+38="        answer  "85"         (a, b in 0...99; the answer has no leading zeros)
//
// Files (rows): arith_sft.jsonl (2000 prompt/completion demonstrations, a few of the 4,794 training
// sums: the demo's SFT gets about half the held-out sums right greedily, a third when sampling),
// arith_prompts.jsonl (4000 prompts with their `answer` column, for GRPO), arith_prompts_eval.jsonl
// (256 held-out prompts with answers). The held-out pairs appear in no training file, in either order.

import Kernels

public enum ArithmeticTask {
    /// The task's files, from its own stream of `seed` (the sentiment files do not depend on it):
    /// operands in 0...`largest`, `demonstrations` SFT rows, `trainingPrompts` GRPO prompts and
    /// `heldOut` evaluation prompts.
    public static func generate(seed: UInt64, largest: Int = 99, demonstrations: Int = 2000, trainingPrompts: Int = 4000,
                                heldOut: Int = 256) -> [DemoTask.File] {
        var random = Xoshiro256(seed: seed ^ 0xA417_4D3E_7A5C_0001)
        // Unordered pairs, so a held-out sum is not trained on as b+a either.
        var pairs: [(Int, Int)] = []
        for a in 0...largest { for b in a...largest { pairs.append((a, b)) } }
        for i in stride(from: pairs.count - 1, to: 0, by: -1) { pairs.swapAt(i, Int(random.next() % UInt64(i + 1))) }
        let evalPairs = pairs.prefix(heldOut), trainPairs = Array(pairs.dropFirst(heldOut))
        func draw() -> (Int, Int) {
            let (a, b) = trainPairs[Int(random.next() % UInt64(trainPairs.count))]
            return random.next() % 2 == 0 ? (a, b) : (b, a)
        }
        func line(_ pair: (Int, Int), completion: Bool) -> String {
            let prompt = "\(pair.0)+\(pair.1)=", answer = String(pair.0 + pair.1)
            return completion ? DemoTask.jsonLine(["prompt": prompt, "completion": answer])
                : DemoTask.jsonLine(["prompt": prompt, "answer": answer])
        }
        func file(_ name: String, _ lines: [String]) -> DemoTask.File {
            DemoTask.File(name: name, rows: lines.count, contents: Array(lines.map { $0 + "\n" }.joined().utf8))
        }
        return [
            file("arith_sft.jsonl", (0..<demonstrations).map { _ in line(draw(), completion: true) }),
            file("arith_prompts.jsonl", (0..<trainingPrompts).map { _ in line(draw(), completion: false) }),
            file("arith_prompts_eval.jsonl", evalPairs.map { line($0, completion: false) }),
        ]
    }
}
