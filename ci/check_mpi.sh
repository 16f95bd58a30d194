#!/usr/bin/env bash
# MPI data parallelism with Open MPI's mpirun: builds rlhf with RLHF_MPI=1 (in the same .build, where
# only the Launch target differs, so this recompiles little), keeps that binary aside, and builds the
# default one again at the end. Then:
#   1. the fixed-order sum over 1, 2 and 3 real ranks equals one process's, bit for bit;
#   2. the default build refuses to run as one of several ranks (exit 2), and the MPI build runs
#      alone like the default one.
# Skips, saying why, only where Open MPI is not installed.
# Usage: ci/check_mpi.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
if ! command -v mpirun >/dev/null || ! pkg-config --exists ompi 2>/dev/null; then
  echo "SKIPPED: the MPI check needs Open MPI (apt-get install libopenmpi-dev openmpi-bin)"
  exit 0
fi
scratch=$(mktemp -d /tmp/rlhf-mpi.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
# Containers run as root; CI machines have 2 cores, and the checks start up to 3 ranks.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none   # no ptrace-based copies between ranks in containers

default_rlhf="$(swift build --show-bin-path)/rlhf"
echo "building rlhf with MPI (RLHF_MPI=1)"
RLHF_MPI=1 swift build --product rlhf 2>&1 | grep -E 'error|warning: |Compiling Launch|complete' || true
mpi_rlhf="$scratch/rlhf-mpi"
cp "$(RLHF_MPI=1 swift build --show-bin-path)/rlhf" "$mpi_rlhf"
echo "building the default rlhf again"
swift build --product rlhf 2>&1 | grep -E 'error|warning: |complete' || true

echo "1. the ordered sum over real ranks"
for ranks in 1 2 3; do
  mpirun -np "$ranks" "$mpi_rlhf" _collective-check --micro-batches 7 --floats 100003 --segment 4096 | sort | sed 's/^/   /'
done

echo "2. builds and launchers"
status=0
mpirun -np 2 "$default_rlhf" _collective-check >"$scratch/refused.txt" 2>&1 || status=$?
test "$status" != 0
grep -q "built without MPI but started as one of 2 ranks" "$scratch/refused.txt"
echo "   the default build under mpirun -np 2 refuses (exit $status): $(grep -m1 -o 'this rlhf was built without MPI[^;]*' "$scratch/refused.txt")"
"$mpi_rlhf" _collective-check --micro-batches 3 --floats 1000 | sed 's/^/   the MPI build alone: /'

echo "mpi ok"
