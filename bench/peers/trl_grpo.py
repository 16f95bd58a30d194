#!/usr/bin/env python3
"""TRL's GRPOTrainer on the workload of `rlhf bench grpo`, for timings taken beside ours in one sitting.

Workload (the same as Sources/rlhf/Bench/BenchGRPO.swift):
  model   GPT-2 "tiny": vocab 259 (bytes + <bos> <eos> <pad>), 128 positions, 4 layers, 128 channels,
          4 heads, fp32, dropout 0, random init (torch seed 0); the Swift model is the same shape.
  batch   8 prompts of 15 printable bytes (16 tokens with BOS) per iteration, G = 8 completions each
          (64 completions), up to 32 sampled tokens at temperature 1 with the KV cache; random weights
          rarely sample EOS, so completions are 32 tokens long on both sides.
  reward  one Python function doing what the `contains` grader does: 1 when the completion contains
          the row's `answer` column (one letter), else 0 -- so groups differ and the loss has a gradient.
  update  GRPO, beta 0 (no reference), loss_type dapo, num_iterations 1, one optimizer step per
          generation batch (AdamW lr 3e-4, weight decay 0.1, grad clip 1.0); no gradient checkpointing.
Timing: a TrainerCallback records on_step_end; the figure is the median step-to-step wall time after 3
warm-up steps (what a user waits per GRPO iteration: generation, reward, loss forward/backward, AdamW).

Run (HF_HUB_OFFLINE: nothing is downloaded; the tokenizer is built here):
  python3 bench/peers/trl_grpo.py --threads 1 --steps 13 --json
Requires: torch (CPU), transformers, trl, tokenizers, datasets, accelerate.
"""
import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_DISABLED", "true")
warnings.filterwarnings("ignore")

import torch  # noqa: E402

BOS, EOS, PAD = 256, 257, 258
LAYERS, CHANNELS, HEADS, POSITIONS = 4, 128, 4, 128
PROMPTS, G, PROMPT_BYTES, COMPLETION = 8, 8, 15, 32
WARMUP = 3


def byte_level_tokenizer():
    """Byte tokens with id = byte value, plus <bos> <eos> <pad>: the project's byte tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    printable = set(range(ord("!"), ord("~") + 1)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    stand_ins, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            stand_ins[byte] = chr(byte)
        else:
            stand_ins[byte] = chr(256 + extra)
            extra += 1
    vocab = {stand_ins[b]: b for b in range(256)}
    vocab.update({"<bos>": BOS, "<eos>": EOS, "<pad>": PAD})
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<bos>", eos_token="<eos>",
                                        pad_token="<pad>", model_max_length=POSITIONS)
    tokenizer.padding_side = "left"
    # Prompts start with BOS, as ours do.
    tokenizer.add_bos_token = True
    assert tokenizer("hi!", add_special_tokens=False)["input_ids"] == list(b"hi!")
    assert len(tokenizer) == 259
    return tokenizer


def contains_answer(completions, answer, **_):
    """The `contains` grader: 1 when the completion contains the row's answer."""
    return [float(a in c) for c, a in zip(completions, answer)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=13, help="GRPO iterations, the first 3 are warm-up")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from datasets import Dataset
    from transformers import GPT2Config, GPT2LMHeadModel, TrainerCallback
    import trl
    from trl import GRPOConfig, GRPOTrainer

    rng = random.Random(7)
    rows = PROMPTS * (args.steps + 1)
    letters = "abcdefghijklmnopqrstuvwxyz "
    dataset = Dataset.from_dict({
        "prompt": ["<bos>" + "".join(rng.choice(letters) for _ in range(PROMPT_BYTES)) for _ in range(rows)],
        "answer": [rng.choice("etaoin") for _ in range(rows)],
    })
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=259, n_positions=POSITIONS, n_embd=CHANNELS, n_layer=LAYERS, n_head=HEADS,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=BOS, eos_token_id=EOS,
                        pad_token_id=PAD)
    model = GPT2LMHeadModel(config)

    ends = []

    class Timer(TrainerCallback):
        def on_step_end(self, args_, state, control, **kwargs):
            ends.append(time.perf_counter())

    tokenizer = byte_level_tokenizer()
    tokenizer.add_bos_token = False          # the prompts above carry <bos> as text
    first = dataset[0]["prompt"]
    assert tokenizer(first, add_special_tokens=False)["input_ids"] == [BOS] + list(first[5:].encode()), "prompt ids"
    with tempfile.TemporaryDirectory() as out:
        grpo = GRPOConfig(
            output_dir=out, per_device_train_batch_size=PROMPTS * G, gradient_accumulation_steps=1,
            num_generations=G, max_completion_length=COMPLETION, temperature=1.0, top_k=0, top_p=1.0,
            beta=0.0, loss_type="dapo", num_iterations=1, scale_rewards="group", learning_rate=3e-4,
            weight_decay=0.1, max_grad_norm=1.0, lr_scheduler_type="constant", max_steps=args.steps,
            logging_steps=10_000, save_strategy="no", report_to="none", use_cpu=True, bf16=False, fp16=False,
            gradient_checkpointing=False, dataloader_num_workers=0, seed=0, disable_tqdm=True,
            shuffle_dataset=False, log_completions=False)
        trainer = GRPOTrainer(model=model, reward_funcs=contains_answer, args=grpo, train_dataset=dataset,
                              processing_class=tokenizer, callbacks=[Timer()])
        trainer.train()
    steps = [ends[i] - ends[i - 1] for i in range(WARMUP + 1, len(ends))]
    median_ms = statistics.median(steps) * 1e3
    row = {"peer": "trl", "trl": trl.__version__, "torch": torch.__version__, "workload": "grpo", "config": "tiny",
           "threads": args.threads, "prompts": PROMPTS, "generations": G, "prompt_tokens": PROMPT_BYTES + 1,
           "completion_tokens": COMPLETION, "median_ms": median_ms, "best_ms": min(steps) * 1e3, "runs": len(steps)}
    if args.json:
        print(json.dumps(row))
    else:
        print(f"trl {trl.__version__} GRPOTrainer tiny {PROMPTS}x{G} prompt {PROMPT_BYTES + 1} completion {COMPLETION} "
              f"threads {args.threads}: {median_ms:.1f} ms/iteration over {len(steps)} steps", file=sys.stdout)


if __name__ == "__main__":
    main()
