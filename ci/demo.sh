#!/usr/bin/env bash
# README's first command: set up a fresh machine, build in release mode, run the main job
# (Jobs/demo.yaml: SFT → reward model → PPO on the built-in demo task; datasets generated on first use).
# Rerunning resumes or skips what is done; Ctrl-C stops with a checkpoint (exit 3), run again to resume.
# Ends by printing the path of the job's report.html; TensorBoard: tensorboard --logdir Checkpoints/demo-sentiment/tensorboard
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source ci/setup.sh
swift build -c release 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
.build/release/rlhf run Jobs/demo.yaml "$@"
# The run's curves, before → after summary and samples, one self-contained page (rlhf report):
echo "open $(pwd)/Checkpoints/demo-sentiment/report.html"
