#!/usr/bin/env bash
# Sets up what a fresh Debian machine lacks, builds, and runs every test. README's test command.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source ci/setup.sh

echo "== swift build"
swift build --build-tests 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
echo "== swift test"
swift test --skip-build 2>&1 | tee /tmp/swift-rlhf-test.log | grep -vE '^(Test Case|◇|􀟈).*started' || true
grep -qE '(Test run with .* passed|Executed .* with 0 failures)' /tmp/swift-rlhf-test.log
! grep -qE '(Test run with .* failed|with [1-9][0-9]* failures?)' /tmp/swift-rlhf-test.log

echo "== checkpoint interop: h5dump and h5py read a file written by rlhf"
python3 -c 'import h5py, numpy' 2>/dev/null || python3 -m pip install -q h5py numpy
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$(swift build --show-bin-path)/rlhf" _checkpoint-sample "$scratch/sample.h5"
h5dump -H "$scratch/sample.h5" >/dev/null
h5dump -d /model/wte -s 0,0 -c 1,4 "$scratch/sample.h5" | grep -q '(0,0): 20.75, 28.5, -26.5, -18.75'
python3 ci/check_checkpoint.py "$scratch/sample.h5"
