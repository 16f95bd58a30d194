#!/usr/bin/env bash
# Every `rlhf bench` workload at 1 and 2 threads, one JSON object per line on stdout (progress on
# stderr). To put the peers' figures beside ours, in the same sitting:
#   bash ../shared/bench/run_all.sh quick > peers.jsonl   (or SWIFT_CMD="bash ci/bench.sh" run_all.sh)
# Benchmarks are never part of the tests: timings on shared machines are noisy; quote medians.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source ci/setup.sh >&2
swift build -c release 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' >&2 || true
rlhf=.build/release/rlhf
for threads in 1 2; do
  echo "[bench] threads $threads" >&2
  "$rlhf" bench gemm --threads "$threads" --json
  "$rlhf" bench gemm --shapes decode --threads "$threads" --json
  "$rlhf" bench gemm --shapes decode-step --threads "$threads" --json
  for config in tiny small; do
    "$rlhf" bench kernels --config "$config" --threads "$threads" --json
    "$rlhf" bench train --config "$config" --threads "$threads" --json
    "$rlhf" bench generate --config "$config" --threads "$threads" --json
  done
  "$rlhf" bench stages --threads "$threads" --json
  "$rlhf" bench ppo --threads "$threads" --json
  "$rlhf" bench grpo --threads "$threads" --json
done
"$rlhf" bench checkpoint --json
