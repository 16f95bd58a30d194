// How the report labels a metric: a readable title and its unit, from the metric's name alone (so a
// new stage kind's metrics are labelled as long as they follow the usual names). Evaluation
// metrics are named `eval_X` and share X's chart and label.

enum MetricCatalog {
    /// The chart a metric belongs to: its name without the `eval_` prefix.
    static func base(_ name: String) -> String {
        name.hasPrefix("eval_") && name.count > 5 ? String(name.dropFirst(5)) : name
    }

    static func label(_ base: String) -> (title: String, unit: String) {
        if let known = exact[base] { return known }
        let words = base.replacingOccurrences(of: "_", with: " ")
        if base.hasSuffix("tokens_per_s") { return (words.replacingOccurrences(of: " per s", with: "/s"), "tokens/s") }
        if base.hasSuffix("_fraction") || base.hasSuffix("accuracy") { return (words, "fraction") }
        if base.hasSuffix("length") { return (words, "tokens") }
        if base.hasSuffix("_kl") { return (words, "nats") }
        if base.hasSuffix("loss") { return (words, "") }
        if base.hasPrefix("score") || base.hasPrefix("reward_") { return (words, "reward-model score") }
        if base.hasSuffix("_seconds") || base.hasSuffix("_s") { return (words, "s") }
        return (words, "")
    }

    static let exact: [String: (title: String, unit: String)] = [
        "loss": ("loss", "nats"),
        "unigram_loss": ("unigram baseline loss", "nats per token"),
        "perplexity": ("perplexity", ""),
        "kl": ("KL to the reference", "nats per sequence"),
        "approx_kl": ("approx. KL, new vs rollout policy", "nats per token"),
        "beta": ("β, the KL coefficient", ""),
        "entropy": ("policy entropy", "nats per token"),
        "grad_norm": ("gradient norm (before clipping)", "L2 norm"),
        "lr": ("learning rate", ""),
        "epoch": ("epoch", "passes over the data"),
        "policy_loss": ("policy loss (clipped surrogate)", ""),
        "value_loss": ("value loss (clipped)", "squared error"),
        "margin": ("reward margin, chosen − rejected", ""),
        "logp_margin": ("log-prob margin, chosen − rejected", "nats"),
        "chosen_reward": ("implicit reward of chosen", ""),
        "rejected_reward": ("implicit reward of rejected", ""),
        "lexicon_mean": ("demo lexicon score, mean", "−1…1"),
        "lexicon_std": ("demo lexicon score, std", ""),
        "eos_fraction": ("responses ending with EOS", "fraction"),
    ]
}
