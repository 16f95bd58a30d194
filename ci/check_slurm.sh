#!/usr/bin/env bash
# `rlhf submit --slurm` against a real Slurm (ci/slurm-cluster.sh: slurmctld, slurmd and munged on
# loopback). One SFT → reward job is submitted, then, each time it is running again:
#   1. requeued mid-stage by an administrator (`scontrol requeue`: TERM to every process of the job);
#   2. warned of its time limit (`scancel --signal=TERM --batch`, what --signal=B:TERM@S sends);
#      the batch script requeues the job itself;
#   3. preempted by a job of a higher-priority partition (Slurm's own PreemptMode=REQUEUE);
#   4. requeued again, and rlhf killed (SIGKILL) inside the checkpoint write that the requeue's TERM
#      started: a second preemption in the middle of a checkpoint write.
# Every interruption must end in a clean resume: the final weights, moments, generator and data
# states must be bit-identical to an uninterrupted `rlhf run` of the same manifest (with another
# thread count). Skips, saying why, only where the daemons cannot start.
# Usage: ci/check_slurm.sh RLHF_BINARY
set -euo pipefail
rlhf=$(realpath "${1:?usage: check_slurm.sh RLHF_BINARY}")
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
scratch=$(mktemp -d /tmp/rlhf-slurm.XXXXXX)
cluster="$scratch/cluster"
cleanup() {
  status=$?
  bash "$root/ci/slurm-cluster.sh" stop "$cluster" >/dev/null 2>&1 || true
  if [ "$status" != 0 ]; then
    echo "--- slurmctld.log (tail)"; tail -n 25 "$cluster/slurmctld.log" 2>/dev/null || true
    echo "--- slurmd.log (tail)"; tail -n 25 "$cluster/slurmd.log" 2>/dev/null || true
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT

if ! started=$(bash "$root/ci/slurm-cluster.sh" start "$cluster" 2>"$scratch/cluster.err"); then
  echo "SKIPPED: the Slurm test needs slurmctld/slurmd/munged, which cannot start here:"
  sed 's/^/  /' "$scratch/cluster.err"
  exit 0
fi
eval "$started"
echo "slurm cluster up: $(sinfo -h -o '%P %a %D %t' | tr '\n' ' ')(SLURM_CONF=$SLURM_CONF)"

# Waits (polling every 0.2 s) until the command succeeds; fails at once when the job ended
# unexpectedly, and after 10 minutes in any case.
wait_for() {
  local what=$1; shift
  for _ in $(seq 1 3000); do
    "$@" && return 0
    case "$(slurm_state)" in
      FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE) echo "FAILED: job $id ended $(slurm_state)"; break ;;
      COMPLETED) [ "$*" = "is_state COMPLETED" ] || { echo "FAILED: job $id completed before the test could interrupt it"; break; } ;;
    esac
    sleep 0.2
  done
  echo "FAILED: gave up waiting for: $what"
  echo "--- job.log"; tail -n 20 "$scratch/slurm/job.log" 2>/dev/null || true
  echo "--- slurm output"; cat "$scratch"/slurm/slurm-*.out 2>/dev/null || true
  squeue -j "${id:-0}" 2>/dev/null || true
  exit 1
}
slurm_state() { squeue -h --states=all -j "$id" -o %T 2>/dev/null; }
is_state() { [ "$(slurm_state)" = "$1" ]; }
runs() { grep -c "^job slurm-check:" "$scratch/slurm/job.log" 2>/dev/null || true; }
# The last logged step of a stage in this run of the job (0 before any).
last_step() { { grep -oE "^stage $1 step [0-9]+" "$scratch/slurm/job.log" 2>/dev/null || true; } | tail -1 | grep -oE '[0-9]+$' || echo 0; }
running_run() { [ "$(runs)" -ge "$1" ] && is_state RUNNING; }
stage_past() { [ "$(last_step "$1")" -ge "$2" ] && is_state RUNNING; }
# After a requeue Slurm holds a job back for its credential lifetime (reason BeginTime; the test
# cluster's cred_expire is 5 s) and then starts it again by itself.
requeued() { wait_for "job $id requeued after $1" is_state PENDING; }

"$rlhf" data demo --out "$scratch/data" >/dev/null
manifest() {
  cat <<YAML
name: slurm-check
seed: 11
output: $scratch/$1
model: { vocab: byte, context: 64, layers: 2, heads: 2, embedding: 64 }
stages:
  - name: sft
    kind: sft
    data: { train: $scratch/data/sft.jsonl }
    steps: 400
    batch: 8
    checkpoint_every: 25
    keep: 2
  - name: rm
    kind: reward
    init: sft
    data: { train: $scratch/data/prefs.jsonl }
    steps: 300
    batch: 8
    checkpoint_every: 25
    keep: 2
YAML
}
manifest slurm >"$scratch/slurm.yaml"
manifest reference >"$scratch/reference.yaml"

echo "the uninterrupted reference run (2 threads)"
"$rlhf" run --threads 2 "$scratch/reference.yaml" >"$scratch/reference.log" 2>&1 || { cat "$scratch/reference.log"; exit 1; }
id=$(cd "$scratch" && "$rlhf" submit --slurm --cpus 1 --signal-seconds 60 --queue "$scratch/queue" slurm.yaml)
echo "submitted Slurm job $id (1 thread)"

wait_for "sft past step 20 in run 1" stage_past sft 20
"$rlhf" status --queue "$scratch/queue" | tee "$scratch/status-running.txt" | head -3
grep -q "slurm job $id  RUNNING" "$scratch/status-running.txt"
echo "1. scontrol requeue at sft step $(last_step sft)"
scontrol requeue "$id"
requeued "scontrol requeue"

wait_for "run 2 running" running_run 2
wait_for "sft past step 90 in run 2" stage_past sft 90
echo "2. time-limit warning (TERM to the batch script) at sft step $(last_step sft)"
scancel --signal=TERM --batch "$id"
requeued "the time-limit warning"

wait_for "run 3 running" running_run 3
wait_for "rm past step 20 in run 3" stage_past rm 20
echo "3. preemption by a job of partition urgent at rm step $(last_step rm)"
urgent=$(sbatch --parsable -p urgent -c "$(nproc)" -o /dev/null --wrap true)
requeued "the preemption"
urgent_done() { [ "$(squeue -h --states=all -j "$urgent" -o %T 2>/dev/null)" = COMPLETED ]; }
wait_for "the preempting job $urgent to run" urgent_done

wait_for "run 4 running" running_run 4
wait_for "rm past step 120 in run 4" stage_past rm 120
echo "4. scontrol requeue at rm step $(last_step rm), and SIGKILL to rlhf inside the checkpoint write it starts"
python3 "$root/ci/kill_during_checkpoint.py" "$scratch/slurm/rm" "$scratch/slurm/slurm-manifest.json" scontrol requeue "$id" \
  | tee "$scratch/kill.txt" | sed 's/^/   /'
requeued "the requeue and the kill"

wait_for "job $id to complete" is_state COMPLETED
echo "job completed after $(runs) runs:"
grep -E "^(rlhf:|slurmstepd)" "$scratch"/slurm/slurm-"$id".out | sed 's/^/  /'
grep -E "^(interrupted|stage .*: resuming)" "$scratch/slurm/job.log" | sed 's/^/  /'
test "$(grep -c '^stage .*: resuming' "$scratch/slurm/job.log")" -ge 4
if grep -q "^killed rlhf" "$scratch/kill.txt"; then
  grep -q "^warning: removed step-.*\.h5\.tmp, left by an interrupted checkpoint write" "$scratch/slurm/job.log"
fi
"$rlhf" status --queue "$scratch/queue" "$id" | tee "$scratch/status-done.txt" | head -2
grep -q "slurm job $id  COMPLETED" "$scratch/status-done.txt"
grep -q "^slurm-check  done" "$scratch/status-done.txt"

python3 -c 'import h5py, numpy' 2>/dev/null || python3 -m pip install -q h5py numpy
python3 "$root/ci/compare_checkpoints.py" \
  "$scratch/slurm/sft/final.h5" "$scratch/reference/sft/final.h5" \
  "$scratch/slurm/rm/final.h5" "$scratch/reference/rm/final.h5"
echo "slurm ok: requeue, time-limit warning, preemption, and a kill inside a checkpoint write resumed bit-identically"
