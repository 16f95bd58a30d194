#!/usr/bin/env bash
# README's first command: set up a fresh machine, build in release mode, run the main job.
# Until the pipeline lands, the main job is the kernel benchmark.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source ci/setup.sh
swift build -c release 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
.build/release/rlhf bench gemm
