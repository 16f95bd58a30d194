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
