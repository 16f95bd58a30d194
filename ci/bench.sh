#!/usr/bin/env bash
# Every `rlhf bench` workload at 1 and 2 threads, for each instruction set this machine can run: the
# native build (-march=native: AVX-512 on Zen 4/5) and an x86-64-v3 build (AVX2 + FMA, what most
# users' CPUs have), one JSON object per line on stdout, each labelled with the instruction set its
# kernels were compiled for ("isa": "avx512" | "avx2" | "neon"); progress on stderr.
# docs/performance.md has one table per instruction set.
#
#   bash ci/bench.sh                    both builds (the v3 one is skipped where native is AVX2 already)
#   BENCH_MARCH=x86-64-v3 bash ci/bench.sh    one build only (also: native)
#   BENCH_QUICK=1 bash ci/bench.sh      GEMM, training and generation only, no stage/PPO/GRPO/checkpoint
#
# With ../shared/bench/peak.c beside the repository (or PEAK_C=path), each build's instruction set also
# gets the machine's FMA peak and memory bandwidth ({"peer": "c-peak", ...}), compiled for the same
# -march. To put the peers' figures beside ours, in the same sitting:
#   bash ../shared/bench/run_all.sh quick > peers.jsonl   (or SWIFT_CMD="bash ci/bench.sh" run_all.sh)
# Benchmarks are never part of the tests: timings on shared machines are noisy; quote medians.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source ci/setup.sh >&2
peak_c=${PEAK_C:-../shared/bench/peak.c}

# One build per -march, each in its own scratch folder (.build-*/ is ignored by git).
builds=${BENCH_MARCH:-native x86-64-v3}
native_isa=""
for march in $builds; do
  scratch=.build; [ "$march" = native ] || scratch=.build-$march
  echo "[bench] building -march=$march in $scratch" >&2
  RLHF_MARCH=$march swift build -c release --scratch-path "$scratch" 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' >&2 || true
  rlhf=$scratch/release/rlhf
  isa=$("$rlhf" bench gemm --shapes decode --threads 1 --json | head -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["isa"])')
  if [ "$march" = native ]; then native_isa=$isa
  elif [ "$isa" = "$native_isa" ]; then echo "[bench] -march=$march is $isa, as native: skipped" >&2; continue; fi
  echo "[bench] -march=$march: $isa kernels" >&2

  if [ -f "$peak_c" ] && command -v gcc >/dev/null; then
    gcc -O3 -march="$march" -fopenmp "$peak_c" -o "$scratch/peak" \
      && "$scratch/peak" --json | python3 -c '
import json, sys
for line in sys.stdin:
    row = json.loads(line); row["isa"] = sys.argv[1]; print(json.dumps(row))' "$isa"
  fi
  for threads in 1 2; do
    echo "[bench] $isa, threads $threads" >&2
    "$rlhf" bench gemm --threads "$threads" --json
    "$rlhf" bench gemm --shapes decode --threads "$threads" --json
    "$rlhf" bench gemm --shapes decode-step --threads "$threads" --json
    for config in tiny small; do
      "$rlhf" bench kernels --config "$config" --threads "$threads" --json
      "$rlhf" bench train --config "$config" --threads "$threads" --json
      "$rlhf" bench generate --config "$config" --threads "$threads" --json
    done
    [ -n "${BENCH_QUICK:-}" ] && continue
    "$rlhf" bench stages --threads "$threads" --json
    "$rlhf" bench ppo --threads "$threads" --json
    "$rlhf" bench grpo --threads "$threads" --json
  done
  [ -n "${BENCH_QUICK:-}" ] || "$rlhf" bench checkpoint --json
done
