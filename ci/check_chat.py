#!/usr/bin/env python3
"""Our chat formats against transformers' apply_chat_template: text, ids and assistant masks.

    python3 ci/check_chat.py RLHF SCRATCH

For each model family we render (Qwen2.5, SmolLM2, plain ChatML, Llama 3, 3.1 and 3.2 Instruct), a
model directory with a tokenizer trained here (ci/check_tokenizers.py) and the family's real chat
template in tokenizer_config.json (TRL keeps byte-exact copies of them for identity checks; SmolLM2's
is written out below). `rlhf tokenize --chat` must recognise the template and give, for every
conversation:
  - the text apply_chat_template renders (with and without the generation prompt; system messages
    present or not, so Qwen2.5's and SmolLM2's default system prompts appear; Llama 3.2 with
    date_string="26 Jul 2024", the date we pin);
  - its ids (apply_chat_template(tokenize=True));
  - the trained ids: transformers' assistant mask (return_assistant_tokens_mask=True) with the family's
    training template: TRL's for Qwen2.5 and Llama 3, the same {% generation %} markers added here
    to the others.
Exits 1 on any mismatch.
"""
import json
import os
import random
import subprocess
import sys

import importlib.util

from transformers import PreTrainedTokenizerFast

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_tokenizers as tk  # noqa: E402

# TRL's copies of the models' templates (found without importing TRL, whose dependencies CI skips).
TEMPLATES = os.path.join(importlib.util.find_spec("trl").submodule_search_locations[0], "chat_templates")
SMOLLM2 = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
           "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}"
           "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
           "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
CHATML_TURN = "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
CHATML_TRAINING_TURN = ("{% if message['role'] == 'assistant' %}{{ '<|im_start|>assistant' }}{% generation %}"
                        "{{ '\n' + message['content'] + '<|im_end|>\n' }}{% endgeneration %}{% else %}" + CHATML_TURN + "{% endif %}")
LLAMA31_TURN = "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}"
LLAMA31_TRAINING_TURN = ("{%- if message['role'] == 'assistant' %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
                         "{%- generation %}{{- message['content'] | trim + '<|eot_id|>' }}{%- endgeneration %}"
                         "{%- else %}" + LLAMA31_TURN + "{%- endif %}")


def read(name):
    with open(os.path.join(TEMPLATES, name), encoding="utf-8") as f:
        return f.read()


def families():
    """name → (tokenizer trained in check_tokenizers, template, training template, bos, eos, pad, extra kwargs)."""
    llama31, llama32 = read("llama3_1.jinja"), read("llama3_2.jinja")
    for template in (llama31, llama32):
        assert LLAMA31_TURN in template, "Llama 3.1/3.2 template changed: update LLAMA31_TURN"
    date = {"date_string": "26 Jul 2024"}
    return {
        "qwen2.5": ("qwen2", read("qwen2_5.jinja"), read("qwen2_5_training.jinja"), None, "<|im_end|>", "<|endoftext|>", {}),
        "smollm2": ("smollm2", SMOLLM2, SMOLLM2.replace(CHATML_TURN, CHATML_TRAINING_TURN), "<|im_start|>", "<|im_end|>",
                    "<|im_end|>", {}),
        "chatml": ("qwen2", CHATML, CHATML.replace(CHATML_TURN, CHATML_TRAINING_TURN), None, "<|im_end|>", "<|endoftext|>", {}),
        "llama3": ("llama3", read("llama3.jinja"), read("llama3_training.jinja"), "<|begin_of_text|>", "<|eot_id|>",
                   "<|eot_id|>", {}),
        "llama3.1": ("llama3", llama31, llama31.replace(LLAMA31_TURN, LLAMA31_TRAINING_TURN), "<|begin_of_text|>",
                     "<|eot_id|>", "<|eot_id|>", date),
        "llama3.2": ("llama3", llama32, llama32.replace(LLAMA31_TURN, LLAMA31_TRAINING_TURN), "<|begin_of_text|>",
                     "<|eot_id|>", "<|eot_id|>", date),
    }


def conversations(rng):
    contents = ["Hello!", "What is 2+2?", "4", "  padded with spaces  ", "\nleading newline", "trailing newline\n\n",
                "line one\nline two", "", " ", "café naïve — ok", "漢字とかな", "😀 emoji", "123 starts with digits",
                "'s a contraction", "code: def f(x):\n    return x", "<|im_end|> inside", "tab\tseparated", "\u00a0nbsp\u3000",
                "x" * 50, "Sure, here's the answer: 42."]
    result = []
    for _ in range(160):
        messages = []
        if rng.random() < 0.5:
            messages.append({"role": "system", "content": rng.choice(contents + ["You are terse."])})
        for turn in range(rng.randint(1, 3)):
            messages.append({"role": "user", "content": rng.choice(contents)})
            messages.append({"role": "assistant", "content": rng.choice(contents)})
        result.append(messages)
    return result


def run(rlhf, directory, lines, *extra):
    inp = "".join(json.dumps(l, ensure_ascii=False) + "\n" for l in lines)
    done = subprocess.run([rlhf, "tokenize", "--model", directory, "--chat", *extra], input=inp.encode("utf-8"),
                          capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"rlhf tokenize --chat --model {directory} failed: {done.stderr.decode()[:2000]}")
    return [json.loads(l) for l in done.stdout.decode("utf-8").split("\n")[:-1]]


def main():
    rlhf, scratch = sys.argv[1], sys.argv[2]
    os.makedirs(scratch, exist_ok=True)
    rng = random.Random(4)
    corpus = tk.english_and_code()[:2] + tk.mixed_lines(rng)
    failures = 0
    chats = conversations(random.Random(5))
    tk.build_tokenizers(os.path.join(scratch, "base"), corpus)
    for family, (base, template, training, bos, eos, pad, kwargs) in families().items():
        base_dir = os.path.join(scratch, "base", base)
        directory = os.path.join(scratch, family)
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(base_dir, "tokenizer.json"), encoding="utf-8") as f:
            tokenizer_json = f.read()
        with open(os.path.join(directory, "tokenizer.json"), "w", encoding="utf-8") as f:
            f.write(tokenizer_json)
        config = {"tokenizer_class": "PreTrainedTokenizerFast", "chat_template": template, "eos_token": eos,
                  "pad_token": pad, "bos_token": bos}
        with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f, ensure_ascii=False)
        hf = PreTrainedTokenizerFast(tokenizer_file=os.path.join(directory, "tokenizer.json"), eos_token=eos,
                                     pad_token=pad, bos_token=bos)
        ours = run(rlhf, directory, chats)
        prompts = [c[:-1] for c in chats]
        ours_prompts = run(rlhf, directory, prompts, "--generation-prompt")
        bad = 0
        for chat, got, prompt, got_prompt in zip(chats, ours, prompts, ours_prompts):
            text = hf.apply_chat_template(chat, tokenize=False, chat_template=template, **kwargs)
            ids = hf.apply_chat_template(chat, tokenize=True, return_dict=True, chat_template=template, **kwargs)["input_ids"]
            masked = hf.apply_chat_template(chat, tokenize=True, return_dict=True, chat_template=training,
                                            return_assistant_tokens_mask=True, **kwargs)
            prompt_text = hf.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True, chat_template=template, **kwargs)
            prompt_ids = hf.apply_chat_template(prompt, tokenize=True, return_dict=True, add_generation_prompt=True,
                                                chat_template=template, **kwargs)["input_ids"]
            problems = []
            if got["text"] != text:
                problems.append(f"text\n      hf   {text!r}\n      ours {got['text']!r}")
            if got["ids"] != ids:
                problems.append(f"ids\n      hf   {ids}\n      ours {got['ids']}")
            if masked["input_ids"] != ids:
                problems.append("the training template renders other ids than the template (test setup)")
            if got["trained"] != list(masked["assistant_masks"]):
                problems.append(f"trained\n      hf   {list(masked['assistant_masks'])}\n      ours {got['trained']}")
            if got_prompt["text"] != prompt_text or got_prompt["ids"] != prompt_ids:
                problems.append(f"generation prompt\n      hf   {prompt_text!r}\n      ours {got_prompt['text']!r}")
            if problems:
                bad += 1
                if bad <= 3:
                    print(f"    {family}: {json.dumps(chat, ensure_ascii=False)[:200]}")
                    for p in problems:
                        print(f"      {p}")
        print(f"  {family:9} {len(chats)} conversations and prompts: {bad} mismatched")
        failures += bad
    print(f"chat: {len(chats) * len(families())} conversations, {failures} mismatches")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
