#!/usr/bin/env python3
"""Model check: random tiny `transformers` models -- GPT2LMHeadModel, LlamaForCausalLM (untied head,
grouped kv heads, llama3 rope scaling; and a tied one with head_dim != hidden/heads) and
Qwen2ForCausalLM (q/k/v bias) -- handed to rlhf give the same per-token log-probabilities, to 1e-5
relative.

The weights travel by a test-only conversion: `rlhf _model-init` writes a checkpoint of the same config,
and this script overwrites every tensor of its /model group with h5py, from the Hugging Face state
dict under the same names (GPT-2's `transformer.` prefix dropped; Conv1D weights are [in, out] in both).
`rlhf _logprobs` then prints per-token log-probabilities, compared with transformers' in float64.
Usage: python3 ci/check_models.py RLHF SCRATCH_FOLDER
"""
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import torch
import transformers as tf

ROPE3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
         "original_max_position_embeddings": 16}

CASES = [
    ("gpt2", tf.GPT2LMHeadModel,
     tf.GPT2Config(vocab_size=97, n_positions=32, n_embd=48, n_layer=2, n_head=4, bos_token_id=0, eos_token_id=0),
     {"architecture": "gpt2", "vocab": 97, "context": 32, "layers": 2, "heads": 4, "embedding": 48}),
    ("llama untied, GQA, llama3 scaling", tf.LlamaForCausalLM,
     tf.LlamaConfig(vocab_size=101, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=8,
                    num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=10000.0,
                    rope_scaling=ROPE3, tie_word_embeddings=False),
     {"architecture": "llama", "vocab": 101, "context": 64, "layers": 2, "heads": 8, "kv_heads": 2, "embedding": 64,
      "intermediate": 96, "norm_eps": 1e-5, "rope_theta": 10000, "tied_head": False,
      "rope_scaling": {"type": "llama3", "factor": 8, "low_freq_factor": 1, "high_freq_factor": 4,
                       "original_max_position_embeddings": 16}}),
    ("llama tied, head_dim 16 != 48/4", tf.LlamaForCausalLM,
     tf.LlamaConfig(vocab_size=77, hidden_size=48, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=4, head_dim=16, max_position_embeddings=40, rms_norm_eps=1e-5, rope_theta=100000.0,
                    tie_word_embeddings=True),
     {"architecture": "llama", "vocab": 77, "context": 40, "layers": 2, "heads": 4, "embedding": 48, "head_dim": 16,
      "intermediate": 80, "norm_eps": 1e-5, "rope_theta": 100000}),
    ("qwen2 q/k/v bias", tf.Qwen2ForCausalLM,
     tf.Qwen2Config(vocab_size=89, hidden_size=56, intermediate_size=80, num_hidden_layers=2, num_attention_heads=7,
                    num_key_value_heads=1, max_position_embeddings=48, rms_norm_eps=1e-6, rope_theta=1000000.0,
                    tie_word_embeddings=True),
     {"architecture": "llama", "vocab": 89, "context": 48, "layers": 2, "heads": 7, "kv_heads": 1, "embedding": 56,
      "intermediate": 80, "norm_eps": 1e-6, "rope_theta": 1000000, "qkv_bias": True}),
]


def hf_name(name, state):
    """Our tensor name -> the Hugging Face state-dict key (GPT-2's `wte`, `wpe` are modules there)."""
    for key in (name, "transformer." + name, "transformer." + name + ".weight"):
        if key in state:
            return key
    raise SystemExit(f"{name}: no transformers tensor of that name")


def main():
    rlhf, scratch = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    worst_all = 0.0
    for label, cls, cfg, ours in CASES:
        cfg._attn_implementation = "eager"
        model = cls(cfg).eval()
        with torch.no_grad():                      # off the initial values: biases and norm gains are not 0 and 1
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
        state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
        path = os.path.join(scratch, label.split()[0] + ".h5")
        subprocess.run([rlhf, "_model-init", "--config", json.dumps(ours), "--out", path], check=True)
        used = set()
        with h5py.File(path, "r+") as f:
            for name, dataset in f["model"].items():
                key = hf_name(name, state)
                value = state[key]
                assert value.shape == dataset.shape, f"{label}: {name} is {dataset.shape} here, {value.shape} in transformers"
                dataset[...] = value.astype(np.float32)
                used.add(key)
        unused = [k for k in state if k not in used and not (k == "lm_head.weight" and cfg.tie_word_embeddings)]
        assert not unused, f"{label}: transformers tensors with no counterpart: {unused}"

        context = ours["context"]
        sequences = [rng.integers(0, ours["vocab"], size=n).tolist() for n in (context, context // 2 + 1, 2)]
        lines = "".join(json.dumps({"tokens": s}) + "\n" for s in sequences)
        out = subprocess.run([rlhf, "_logprobs", "--checkpoint", path], input=lines, capture_output=True, text=True)
        assert out.returncode == 0, f"{label}: rlhf _logprobs failed: {out.stderr}"
        got = [json.loads(line)["logp"] for line in out.stdout.splitlines()]
        reference = model.double()
        worst = 0.0
        for tokens, logp in zip(sequences, got):
            with torch.no_grad():
                logits = reference(torch.tensor([tokens])).logits[0].double()
            expected = torch.log_softmax(logits, -1)[torch.arange(len(tokens) - 1), torch.tensor(tokens[1:])].numpy()
            logp = np.array(logp)
            assert logp.shape == expected.shape, f"{label}: {logp.shape} log-probs for {expected.shape}"
            worst = max(worst, float(np.max(np.abs(logp - expected) / np.maximum(np.abs(expected), 1.0))))
        print(f"{label}: {sum(len(s) - 1 for s in sequences)} tokens, worst relative difference {worst:.2e}")
        assert worst < 1e-5, f"{label}: per-token log-probs differ from transformers by {worst:.2e} (relative)"
        worst_all = max(worst_all, worst)
    print(f"models ok: {len(CASES)} transformers models, per-token log-probs within {worst_all:.1e} relative")


if __name__ == "__main__":
    main()
