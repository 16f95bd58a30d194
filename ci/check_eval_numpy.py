#!/usr/bin/env python3
"""check_eval_numpy.py -- an independent NumPy forward pass of a swift-rlhf checkpoint.

Reads the GPT-2 weights of CHECKPOINT (HDF5, via h5py), computes the completion-only loss per token
of the SFT rows in DATA (JSONL: prompt/completion or text) in float64, and compares it with the loss
that `rlhf eval --json` printed (a JSON file). Tokenisation mirrors DESIGN §3.4: BOS(256) + prompt
bytes + completion bytes + EOS(257); when too long the prompt loses tokens from its start, and a
completion that does not fit alone keeps its first T-1 bytes without EOS.

Usage: check_eval_numpy.py CHECKPOINT DATA EVAL_JSON [--tolerance 1e-4]
"""
import argparse
import json
import sys

import h5py
import numpy as np

BOS, EOS = 256, 257


def sequence(prompt, completion, context):
    """(tokens, index of the first completion token)."""
    p, c = list(prompt.encode("utf-8")), list(completion.encode("utf-8"))
    if len(c) + 2 <= context:
        kept = min(len(p), context - 2 - len(c))
        tokens = [BOS] + (p[len(p) - kept:] if kept else []) + c + [EOS]
        return tokens, 1 + kept
    return [BOS] + c[:context - 1], 1


def layer_norm(x, w, b, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def gelu(x):  # GPT-2's tanh form
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def forward(w, config, tokens):
    """Logits [T, V] of one sequence."""
    t, c, h = len(tokens), config["embedding"], config["heads"]
    d = c // h
    x = w["wte"][tokens] + w["wpe"][:t]
    mask = np.triu(np.full((t, t), -np.inf), k=1)
    for i in range(config["layers"]):
        p = f"h.{i}."
        a = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"])
        qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = qkv[:, :c], qkv[:, c:2 * c], qkv[:, 2 * c:]
        heads = []
        for j in range(h):
            s = q[:, j * d:(j + 1) * d] @ k[:, j * d:(j + 1) * d].T / np.sqrt(d) + mask
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            heads.append((s / s.sum(axis=-1, keepdims=True)) @ v[:, j * d:(j + 1) * d])
        x = x + np.concatenate(heads, axis=1) @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        m = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"])
        x = x + gelu(m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"]) @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    return layer_norm(x, w["ln_f.weight"], w["ln_f.bias"]) @ w["wte"].T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("data")
    ap.add_argument("eval_json")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()
    with h5py.File(args.checkpoint, "r") as f:
        config = json.loads(f.attrs["config_json"])
        weights = {name: np.asarray(ds, dtype=np.float64) for name, ds in f["model"].items()}
    total, count = 0.0, 0
    with open(args.data, encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            row = json.loads(line)
            prompt, completion = (row["prompt"], row["completion"]) if "completion" in row else ("", row["text"])
            tokens, start = sequence(prompt, completion, config["context"])
            logits = forward(weights, config, np.array(tokens))
            logits = logits - logits.max(axis=-1, keepdims=True)
            logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
            for position in range(start - 1, len(tokens) - 1):     # predicts tokens[start:]
                total -= logp[position, tokens[position + 1]]
                count += 1
    numpy_loss = total / count
    with open(args.eval_json, encoding="utf-8") as f:
        swift_loss = json.load(f)["loss"]
    difference = abs(numpy_loss - swift_loss)
    print(f"eval loss: rlhf {swift_loss:.8f}, numpy {numpy_loss:.8f} over {count} tokens, |difference| {difference:.2e}")
    if difference > args.tolerance:
        print(f"FAILED: the difference exceeds {args.tolerance}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
