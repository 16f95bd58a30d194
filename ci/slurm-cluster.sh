#!/usr/bin/env bash
# A one-node Slurm cluster on loopback, for tests: munged, slurmctld and slurmd from Debian's
# packages, every file (key, sockets, state, logs, config) under one folder, nothing under /etc.
#
#   ci/slurm-cluster.sh start DIR   writes DIR/slurm.conf, starts the daemons, waits for the node to
#                                   be idle; prints `export SLURM_CONF=DIR/slurm.conf` for the caller.
#                                   Exit 1 (with the reason and the daemons' log tails) if they cannot start.
#   ci/slurm-cluster.sh stop DIR    stops them (by the pids in DIR).
#
# Made for a container without systemd or a cgroup hierarchy of its own, run as root:
# proctrack/linuxproc (process tracking by parent pid), task/none, no accounting database. Two
# partitions share the node: `batch` (default; its jobs can be requeued by preemption) and
# `urgent` (a higher priority tier, which preempts `batch` jobs: the preemption test).
set -euo pipefail

command=${1:?usage: slurm-cluster.sh start|stop DIR}
dir=${2:?usage: slurm-cluster.sh start|stop DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

stop() {
  for daemon in slurmd slurmctld munged; do
    [ -f "$dir/$daemon.pid" ] && kill "$(cat "$dir/$daemon.pid")" 2>/dev/null || true
  done
  for daemon in slurmd slurmctld munged; do
    for _ in $(seq 1 50); do
      [ -f "$dir/$daemon.pid" ] && kill -0 "$(cat "$dir/$daemon.pid")" 2>/dev/null || break
      sleep 0.1
    done
    rm -f "$dir/$daemon.pid"
  done
}

fail() {
  echo "slurm-cluster: $*" >&2
  for log in munged.log slurmctld.log slurmd.log; do
    [ -f "$dir/$log" ] && { echo "--- $log" >&2; tail -n 15 "$dir/$log" >&2; }
  done
  stop
  exit 1
}

if [ "$command" = stop ]; then stop; exit 0; fi
[ "$command" = start ] || { echo "usage: slurm-cluster.sh start|stop DIR" >&2; exit 2; }
for tool in munged slurmctld slurmd sbatch scontrol; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (apt-get install munge slurmctld slurmd slurm-client)"
done
[ "$(id -u)" = 0 ] || fail "the daemons run as root here (SlurmUser=root); run as root"

# munged refuses a world-writable path to its socket; the folder is ours alone.
chmod 755 "$dir"
mkdir -p "$dir/state" "$dir/spool"
[ -f "$dir/munge.key" ] || { head -c 1024 /dev/urandom >"$dir/munge.key"; }
chmod 600 "$dir/munge.key"
munged --force --socket="$dir/munge.sock" --key-file="$dir/munge.key" --pid-file="$dir/munged.pid" \
  --log-file="$dir/munged.log" --seed-file="$dir/munged.seed" || fail "munged did not start"

# Two free TCP ports on loopback for slurmctld and slurmd.
read -r ctld_port slurmd_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')
host=$(hostname -s)
cpus=$(nproc)
cat >"$dir/slurm.conf" <<EOF
ClusterName=rlhfci
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge.sock,cred_expire=5
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
KillWait=30
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
NodeName=rlhfci NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=2000 State=UNKNOWN
PartitionName=batch Nodes=rlhfci Default=YES MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=60
PartitionName=urgent Nodes=rlhfci MaxTime=INFINITE State=UP PriorityTier=2 PreemptMode=OFF
EOF
export SLURM_CONF=$dir/slurm.conf
slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start"
slurmd -f "$SLURM_CONF" -N rlhfci || fail "slurmd did not start"
for _ in $(seq 1 100); do
  state=$(sinfo -h -n rlhfci -o %t 2>/dev/null | head -1 || true)
  [ "$state" = idle ] && { echo "export SLURM_CONF=$SLURM_CONF"; exit 0; }
  sleep 0.2
done
fail "the node did not become idle (state: ${state:-none})"
