#!/usr/bin/env python3
"""Encode throughput at one thread: `rlhf bench tokenizer` beside Hugging Face `tokenizers` (Rust), on
the same files and corpus, in one sitting.

    /work/tools/cpu bench python3 ci/bench_tokenizers.py RELEASE_RLHF SCRATCH [--megabytes 4]

Tokenizers: GPT-2's real vocab.json + merges.txt (50 257 tokens), and 32 000-token tokenizers trained
here with Llama 3's (ignore_merges), Qwen2's (NFC) and SmolLM2's (Digits) pre-tokenizers. Corpus:
about 4 MB of mixed text, one text a line: Python sources and docstrings (English prose and code),
and the mixed lines of check_tokenizers.py (CJK, emoji, accents in NFC and NFD, whitespace runs,
contractions, numbers, random scalars). Hugging Face encodes with `encode_batch_fast` (no offsets)
and TOKENIZERS_PARALLELISM=false: its fastest path on one thread, the loop in Rust; we encode line
by line. Warm: caches full from a warm-up run; cold: caches emptied before each run. Medians of at
least 5 runs. Prints a table and a JSON line per tokenizer.
"""
import json
import os
import random
import statistics
import subprocess
import sys
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_tokenizers as tk  # noqa: E402
from tokenizers import Regex, Tokenizer, pre_tokenizers, normalizers  # noqa: E402


def corpus(megabytes):
    rng = random.Random(2024)
    prose = []
    for text in tk.english_and_code():
        prose += [line for line in text.split("\n") if line.strip()]
    mixed = tk.mixed_lines(rng)
    lines, size = [], 0
    while size < megabytes * 1_000_000:
        line = rng.choice(prose) if rng.random() < 0.8 else rng.choice(mixed)
        lines.append(line)
        size += len(line.encode("utf-8"))
    return lines


def hf_seconds(tokenizer, lines, cold, runs=5):
    """Median seconds of Hugging Face's faster batch encoder (encode_batch_fast skips offsets), and tokens."""
    encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)
    encode(lines)
    samples = []
    for _ in range(runs):
        if cold:
            tokenizer.model._clear_cache()
        start = time.perf_counter()
        encodings = encode(lines)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), sum(len(e.ids) for e in encodings)


def main():
    rlhf, scratch = sys.argv[1], sys.argv[2]
    megabytes = float(sys.argv[sys.argv.index("--megabytes") + 1]) if "--megabytes" in sys.argv else 4
    os.makedirs(scratch, exist_ok=True)
    lines = corpus(megabytes)
    corpus_file = os.path.join(scratch, "corpus.jsonl")
    with open(corpus_file, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    size = sum(len(l.encode("utf-8")) for l in lines)

    # GPT-2's real files, and 32k tokenizers trained on a part of the prose.
    built = tk.build_tokenizers(os.path.join(scratch, "small"), lines[:2000])
    directories = {"gpt2": built["gpt2-json"][0]}
    training = lines[: len(lines) // 2]
    for name, pre, norm, ignore in [
        ("llama3-32k", pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(tk.LLAMA3_REGEX), behavior="isolated"),
                                                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), None, True),
        ("qwen2-32k", pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(tk.QWEN2_REGEX), behavior="isolated"),
                                               pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
         normalizers.NFC(), None),
        ("smollm2-32k", pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]), None, None),
    ]:
        trained = tk.train(training, pre, normalizer=norm, vocab_size=32000)
        directory = os.path.join(scratch, name)
        tk.write_json_dir(directory, trained, ignore_merges=ignore)
        directories[name] = directory

    print(f"corpus: {len(lines)} lines, {size / 1e6:.2f} MB; one thread; medians of ≥ 5 runs")
    print(f"{'tokenizer':12} {'cache':5} {'HF MB/s':>9} {'ours MB/s':>10} {'ratio':>6}")
    for name, directory in directories.items():
        hf = Tokenizer.from_file(os.path.join(directory, "tokenizer.json"))
        for cold in (False, True):
            seconds, hf_tokens = hf_seconds(hf, lines, cold)
            run = subprocess.run([rlhf, "bench", "tokenizer", "--model", directory, "--file", corpus_file, "--json-lines",
                                  "--json"] + (["--cold"] if cold else []), capture_output=True, check=True)
            ours = json.loads(run.stdout)
            assert ours["tokens"] == hf_tokens, f"{name}: {ours['tokens']} tokens vs Hugging Face's {hf_tokens}"
            hf_rate = size / seconds / 1e6
            print(f"{name:12} {'cold' if cold else 'warm':5} {hf_rate:9.2f} {ours['megabytesPerSecond']:10.2f} "
                  f"{ours['megabytesPerSecond'] / hf_rate:6.2f}")
            print(json.dumps({"tokenizer": name, "cold": cold, "bytes": size, "tokens": hf_tokens,
                              "hf_mb_per_s": round(hf_rate, 3), "ours_mb_per_s": round(ours["megabytesPerSecond"], 3)}))


if __name__ == "__main__":
    main()
