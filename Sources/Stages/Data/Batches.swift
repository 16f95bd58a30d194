// Batches as the model consumes them: flat row-major buffers with their shapes in comments.
//
//   B  rows in a batch (a preference batch holds B pairs as 2B rows)
//   T  width of a row: the longest sequence in the batch, or a fixed width (e.g. the context) if given
//   P  width of a prompt row (PPO)
//
// Padding is on the RIGHT with PAD for training batches: row b holds its `lengths[b]` real tokens in
// columns 0..<lengths[b], so a causal model never attends to padding from a real position. Targets are
// the tokens shifted by one (targets[b, t] = tokens[b, t+1]) and PAD past the last real token; PAD is a
// valid id (< V), so a cross-entropy kernel may read every target and let the mask zero what is not
// trained. The mask is 1 where the target is a completion token or the EOS (completion-only loss);
// `{"text"}` rows, having an empty prompt, are trained on every token.

/// Sequences for next-token training (SFT, distillation, DPO log-probabilities).
public struct TokenBatch: Equatable, Sendable {
    public let rows: Int   // B
    public let width: Int  // T
    public var tokens: [Int32]   // [B, T] BOS prompt completion EOS, PAD after
    public var targets: [Int32]  // [B, T] tokens[b, t+1]; PAD from column lengths[b] − 1 on
    public var lossMask: [Float] // [B, T] 1 where targets[b, t] is a completion token or EOS, else 0
    public var lengths: [Int]    // [B] real tokens in each row, BOS..EOS

    /// The column of each row's last real token: its EOS, or the last kept completion token when the
    /// completion was cut (TokenSequence). The reward model reads the hidden state here.
    public var lastTokenIndices: [Int] { lengths.map { $0 - 1 } }  // [B]
    /// How many targets the loss averages over (the sum of the mask).
    public var trainedTokenCount: Int { Int(lossMask.reduce(0, +)) }

    /// Pads `sequences` to `width` (nil: the longest of them). Every sequence must fit.
    public init(_ sequences: [TokenSequence], width: Int? = nil) {
        precondition(!sequences.isEmpty, "a batch needs at least one sequence")
        let longest = sequences.map(\.tokens.count).max()!
        let width = width ?? longest
        precondition(longest <= width, "a sequence of \(longest) tokens does not fit a row of \(width)")
        rows = sequences.count
        self.width = width
        tokens = Array(repeating: ByteTokenizer.pad, count: rows * width)
        targets = tokens
        lossMask = Array(repeating: 0, count: rows * width)
        lengths = sequences.map(\.tokens.count)
        for (b, sequence) in sequences.enumerated() {
            let row = b * width, length = sequence.tokens.count
            for t in 0..<length { tokens[row + t] = sequence.tokens[t] }
            for t in 0..<(length - 1) { targets[row + t] = sequence.tokens[t + 1] }
            // The target at column t is token t+1: completion tokens start at completionStart.
            for t in (sequence.completionStart - 1)..<(length - 1) { lossMask[row + t] = 1 }
        }
    }
}

/// Preference pairs for the reward model and DPO: 2B rows in one `TokenBatch`, the B chosen
/// sequences first (rows 0..<B), then the B rejected ones in the same order (rows B..<2B), so pair i
/// is rows i and B + i. Chosen and rejected are truncated independently.
public struct PreferenceBatch: Equatable, Sendable {
    public let pairs: Int  // B
    public var sequences: TokenBatch  // [2B, T]
    public var margins: [Float]       // [B] the pair's margin, 0 where the row has none

    public init(_ records: [PreferenceRecord], context: Int, width: Int? = nil) {
        let chosen = records.map { TokenSequence(prompt: $0.prompt, completion: $0.chosen, context: context) }
        let rejected = records.map { TokenSequence(prompt: $0.prompt, completion: $0.rejected, context: context) }
        pairs = records.count
        sequences = TokenBatch(chosen + rejected, width: width)
        margins = records.map { Float($0.margin ?? 0) }
    }
}

/// Prompts for PPO rollouts: `BOS prompt`, the prompt cut from its left to at most `maxLength` tokens
/// (BOS included), so that the response still fits the context (maxLength = T − response length).
///
/// `tokens` is right-padded, with each row's length: a sampler with a KV cache can run each row from
/// its own length. `leftPaddedTokens` holds the same rows ending at column P − 1, for a sampler that
/// wants every row's next token in the same column (it must then mask the leading PAD in attention
/// and shift positions by P − lengths[b]).
public struct PromptBatch: Equatable, Sendable {
    public let rows: Int   // B
    public let width: Int  // P
    public var tokens: [Int32]  // [B, P] BOS prompt, PAD after
    public var lengths: [Int]   // [B] real tokens in each row, BOS included
    /// Prompt tokens cut from the left, per row.
    public var droppedTokens: [Int]  // [B]

    public init(_ records: [PromptRecord], maxLength: Int, width: Int? = nil) {
        precondition(!records.isEmpty, "a batch needs at least one prompt")
        precondition(maxLength >= 1, "a prompt row needs room for BOS")
        let prompts = records.map { ByteTokenizer.encode($0.prompt) }
        let kept = prompts.map { [ByteTokenizer.bos] + $0.suffix(maxLength - 1) }
        lengths = kept.map(\.count)
        droppedTokens = zip(prompts, kept).map { $0.count - ($1.count - 1) }
        rows = records.count
        self.width = width ?? lengths.max()!
        precondition(lengths.max()! <= self.width, "a prompt of \(lengths.max()!) tokens does not fit \(self.width)")
        tokens = Array(repeating: ByteTokenizer.pad, count: rows * self.width)
        for (b, row) in kept.enumerated() {
            for (t, token) in row.enumerated() { tokens[b * self.width + t] = token }
        }
    }

    /// The same rows padded on the LEFT: row b's tokens occupy columns P − lengths[b] ..< P.
    public var leftPaddedTokens: [Int32] {  // [B, P]
        var padded = Array(repeating: ByteTokenizer.pad, count: rows * width)
        for b in 0..<rows {
            let shift = width - lengths[b]
            for t in 0..<lengths[b] { padded[b * width + shift + t] = tokens[b * width + t] }
        }
        return padded
    }
}

// MARK: - From datasets

extension Dataset where Record == SFTRecord {
    /// The rows at `indices` as one batch (see `TokenBatch`).
    public func batch(_ indices: [Int], context: Int, width: Int? = nil) -> TokenBatch {
        TokenBatch(indices.map { TokenSequence(records[$0], context: context) }, width: width)
    }
}

extension Dataset where Record == PreferenceRecord {
    /// The pairs at `indices` as one batch of 2 × indices.count rows (see `PreferenceBatch`).
    public func batch(_ indices: [Int], context: Int, width: Int? = nil) -> PreferenceBatch {
        PreferenceBatch(indices.map { records[$0] }, context: context, width: width)
    }
}

extension Dataset where Record == PromptRecord {
    /// The prompts at `indices`, each at most `maxLength` tokens with BOS (see `PromptBatch`).
    public func batch(_ indices: [Int], maxLength: Int, width: Int? = nil) -> PromptBatch {
        PromptBatch(indices.map { records[$0] }, maxLength: maxLength, width: width)
    }
}
