#!/usr/bin/env bash
# Sets up what a fresh Debian machine lacks, builds, and runs every test. README's test command.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RLHF_SETUP_CHROMIUM=1 RLHF_SETUP_CLUSTER=1 source ci/setup.sh

echo "== swift build"
swift build --build-tests 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
echo "== swift test"
log=$(mktemp)
swift test --skip-build 2>&1 | tee "$log" | grep -vE '^(Test Case|◇|􀟈).*started' || true
grep -qE 'Test run with [0-9]+ tests? .*passed' "$log"
if grep -qE '(Test run with .* failed|with [1-9][0-9]* failures?)' "$log"; then exit 1; fi
swift_tests=$(grep -oE 'Test run with [0-9]+ tests?' "$log" | grep -oE '[0-9]+' | tail -1)
rm -f "$log"

echo "== checkpoint interop: h5dump and h5py read a file written by rlhf"
python3 -c 'import h5py, numpy' 2>/dev/null || python3 -m pip install -q h5py numpy
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
rlhf="$(swift build --show-bin-path)/rlhf"
"$rlhf" _checkpoint-sample "$scratch/sample.h5"
h5dump -H "$scratch/sample.h5" >/dev/null
h5dump -d /model/wte -s 0,0 -c 1,4 "$scratch/sample.h5" | grep '(0,0): 20.75, 28.5, -26.5, -18.75' >/dev/null
python3 ci/check_checkpoint.py "$scratch/sample.h5"
# A file edited with h5py (its strings are variable-length) still loads; a damaged one exits 2.
python3 - "$scratch/sample.h5" "$scratch/edited.h5" "$scratch/damaged.h5" <<'PY'
import shutil, sys, h5py
sample, edited, damaged = sys.argv[1:]
shutil.copy(sample, edited)
with h5py.File(edited, "r+") as f:
    f.attrs["stage_name"] = "renamed by h5py"
    f["/model/wte"][0, 0] = 1.5
shutil.copy(sample, damaged)
with h5py.File(damaged, "r+") as f:
    del f["/model/h.1.mlp.c_fc.bias"]
PY
"$rlhf" inspect "$scratch/edited.h5" | grep 'stage     renamed by h5py (kind reward)' >/dev/null
status=0
"$rlhf" inspect "$scratch/damaged.h5" 2>"$scratch/err" >/dev/null || status=$?
test "$status" = 2
grep -q '/model/h.1.mlp.c_fc.bias: missing' "$scratch/err"
test "$(wc -l <"$scratch/err")" = 1
echo "interop ok: h5py-edited file loads, damaged one refused with exit 2: $(cat "$scratch/err")"

echo "== rlhf eval against an independent NumPy forward pass of the checkpoint"
cat >"$scratch/job.yaml" <<YAML
name: numpy-check
seed: 5
output: $scratch/out
demo_data: data
model: { vocab: byte, context: 64, layers: 2, heads: 2, embedding: 32 }
stages:
  - name: sft
    kind: sft
    data: { train: data/sft.jsonl, eval: data/sft_eval.jsonl }
    steps: 40
    batch: 8
    optimizer: { lr: 3.0e-3, warmup: 5 }
YAML
"$rlhf" run "$scratch/job.yaml" >"$scratch/run.log" 2>&1 || { cat "$scratch/run.log"; exit 1; }
# The held-out rows plus rows that exercise truncation at T = 64: a long text, a long completion.
cp "$scratch/data/sft_eval.jsonl" "$scratch/mixed.jsonl"
python3 - "$scratch/mixed.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "a", encoding="utf-8") as f:
    f.write(json.dumps({"text": "A long review that does not fit: " + "the lamp is bright and warm, " * 6}) + "\n")
    f.write(json.dumps({"prompt": "Review of the kettle: the lid was", "completion": " sturdy, quiet and quick to boil; " * 3}) + "\n")
    f.write(json.dumps({"prompt": "Short prompt with unicode: café", "completion": " naïve — but fine."}) + "\n")
PY
"$rlhf" eval --checkpoint "$scratch/out/sft/final.h5" --data "$scratch/mixed.jsonl" --json >"$scratch/eval.json"
python3 ci/check_eval_numpy.py "$scratch/out/sft/final.h5" "$scratch/mixed.jsonl" "$scratch/eval.json"

echo "== tokenizers: ids, pieces and decoding against Hugging Face tokenizers; malformed files"
python3 ci/check_tokenizers.py "$rlhf" "$scratch/tokenizers"
echo "== chat formats: text, ids and assistant masks against transformers' apply_chat_template"
python3 ci/check_chat.py "$rlhf" "$scratch/chat"

echo "== models: per-token log-probs of random transformers GPT-2, Llama and Qwen2 models given to rlhf"
mkdir -p "$scratch/models" && python3 ci/check_models.py "$rlhf" "$scratch/models"

echo "== rlhf report in headless Chromium; TensorBoard event files read back, across a kill -9 and resume"
bash ci/check_report.sh

echo "== Slurm: rlhf submit --slurm on real slurmctld/slurmd; requeue, time-limit warning, preemption, kill inside a checkpoint write"
bash ci/check_slurm.sh "$rlhf"

echo "== MPI: the fixed-order sum over real ranks; builds with and without MPI"
bash ci/check_mpi.sh

# Every parser's libFuzzer target for a short run (RLHF_FUZZ_SECONDS, default 30; docs/fuzzing.md).
bash ci/fuzz.sh all "${RLHF_FUZZ_SECONDS:-30}"

# Reached only when everything above passed (set -e): the Swift tests plus the eight scripted checks
# and the six fuzz targets.
echo "ci: $((swift_tests + 8 + 6)) passed, 0 failed"
