#!/usr/bin/env python3
"""A second interruption in the middle of a checkpoint write, for ci/check_slurm.sh (and ci/check_mpi.sh).

Finds the rlhf process(es) running MANIFEST, runs the interrupting COMMAND (e.g. `scontrol requeue ID`:
rlhf finishes its step and starts writing a checkpoint), then polls FOLDER every 0.2 ms and sends
SIGKILL to the first rlhf process the moment a `*.h5.tmp` appears there. Prints what happened: whether
the kill landed inside the write (the rerun must then remove the partial file) or the write finished
first (the process is gone: nothing to kill).
Usage: kill_during_checkpoint.py FOLDER MANIFEST COMMAND...
"""
import os
import signal
import subprocess
import sys
import time


def rlhf_processes(manifest):
    found = []
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"/rlhf") and manifest.encode() in argv:
            found.append(pid)
    return sorted(found)


def main(folder, manifest, command):
    victims = rlhf_processes(manifest)
    if not victims:
        sys.exit(f"no rlhf process runs {manifest}")
    subprocess.run(command, check=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        partial = [f for f in os.listdir(folder) if f.endswith(".h5.tmp")] if os.path.isdir(folder) else []
        if partial:
            os.kill(victims[0], signal.SIGKILL)
            print(f"killed rlhf (pid {victims[0]}) while {partial[0]} was being written")
            return
        if not os.path.exists(f"/proc/{victims[0]}"):
            print("rlhf committed its checkpoint and ended before the kill (no partial file this time)")
            return
        time.sleep(0.0002)
    sys.exit("gave up: no checkpoint write began within 120 s")


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit("usage: kill_during_checkpoint.py FOLDER MANIFEST COMMAND...")
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
