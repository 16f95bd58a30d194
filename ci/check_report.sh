#!/usr/bin/env bash
# `rlhf report` and TensorBoard event files end to end, on a short SFT → reward → PPO job with
# `logging.tensorboard` that is killed with SIGKILL in PPO after a checkpoint, then resumed:
#   ci/check_tensorboard.py  the event files, read back with the tensorboard package, hold every
#                            metrics.jsonl value at its step, once (no step lost or repeated by the kill)
#   ci/check_report.py       report.html in headless Chromium: screenshot, no console error or request,
#                            every metric's chart series in the DOM, summary numbers = metrics.jsonl
#                            (also on the interrupted job's report, before the resume)
# Usage: ci/check_report.sh [SCREENSHOT.png]   (called by ci/test.sh; needs chromium, see ci/setup.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python3 -c 'import tensorboard' 2>/dev/null || python3 -m pip install -q tensorboard
rlhf="$(swift build --show-bin-path)/rlhf"
root=$(pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
cat >job.yaml <<'YAML'
name: report-check
seed: 7
output: out
demo_data: data
logging: { tensorboard: true }
model: { vocab: byte, context: 96, layers: 2, heads: 2, embedding: 48 }
stages:
  - name: sft
    kind: sft
    data: { train: data/sft.jsonl, eval: data/sft_eval.jsonl }
    steps: 40
    batch: 8
    eval_every: 20
    optimizer: { lr: 3.0e-3, warmup: 5 }
    checkpoint_every: 20
  - name: rm
    kind: reward
    init: sft
    data: { train: data/prefs.jsonl, eval: data/prefs_eval.jsonl }
    steps: 20
    batch: 8
    optimizer: { lr: 1.0e-3, warmup: 2 }
    checkpoint_every: 10
  - name: ppo
    kind: ppo
    policy: sft
    reward: rm
    data: { prompts: data/prompts.jsonl, eval_prompts: data/prompts_eval.jsonl }
    steps: 8
    batch: 8
    eval_every: 4
    optimizer: { lr: 1.0e-4, schedule: constant }
    ppo: { kl_coef: 0.1, target_kl: 6.0, horizon: 1000, epochs: 2, minibatches: 2, response_length: 24 }
    checkpoint_every: 2
YAML
# First run: SIGKILL inside PPO's step-4 checkpoint write (after its step-2 checkpoint, so lines and
# events past the checkpoint exist). The run stops itself there (a stop point, docs/checkpoints.md),
# so the kill lands there however loaded the machine is.
RLHF_TEST_STOP_IN_COMMIT="ppo/step-000004.h5:$RANDOM" "$rlhf" run job.yaml >run1.log 2>&1 &
pid=$!
until [ "$(cut -d' ' -f3 /proc/$pid/stat 2>/dev/null)" = T ] || ! kill -0 $pid 2>/dev/null; do sleep 0.05; done
kill -9 $pid 2>/dev/null || { cat run1.log; echo "the job ended before it could be killed" >&2; exit 1; }
wait $pid 2>/dev/null || true
ls out/ppo | grep -q '^step-000004\.h5\.tmp$' || { ls out/ppo; echo "the kill did not land in the step-4 write" >&2; exit 1; }
# The report of the interrupted job (what a running one has on disk too): what is logged so far.
"$rlhf" report out --out partial.html >/dev/null
python3 "$root/ci/check_report.py" out partial.png partial.html
"$rlhf" run job.yaml >run2.log 2>&1 || { cat run2.log; exit 1; }
grep -q 'stage ppo (ppo): resuming at step' run2.log || { cat run2.log; echo "PPO did not resume" >&2; exit 1; }
grep -q "^report $scratch/out/report.html" run2.log
echo "killed in PPO at step $(grep -o 'resuming at step [0-9]*' run2.log | tail -1 | grep -o '[0-9]*$') and resumed"
python3 "$root/ci/check_tensorboard.py" out
python3 "$root/ci/check_report.py" out "${1:-$scratch/report.png}"
# `rlhf report` on the folder writes the same page as the run did (but for the time it was made).
"$rlhf" report out --out again.html >/dev/null
diff <(grep -v 'class="generated"' out/report.html) <(grep -v 'class="generated"' again.html) >/dev/null
echo "rlhf report of the output folder = the report the run wrote"
