#!/usr/bin/env python3
"""Reads a job's TensorBoard event files with the tensorboard package and compares them with metrics.jsonl.

Usage: check_tensorboard.py OUTPUT_FOLDER

For every stage: the raw events of all its files (EventFileLoader, in TensorBoard's file order) hold
every metrics.jsonl value, as float32, under the tag split/name ("eval_" dropped from eval names), at
its step, exactly once; and TensorBoard's own EventAccumulator (which applies restarts) shows the
same scalars.
"""
import json, os, sys
import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.util import tensor_util

output = sys.argv[1]
job = json.load(open(os.path.join(output, "job.json")))
problems = []

def tag(split, name):
    prefix = split + "_"
    return split + "/" + (name[len(prefix):] if name.startswith(prefix) and len(name) > len(prefix) else name)

for spec in job["stages"]:
    stage = spec["name"]
    folder = os.path.join(output, "tensorboard", stage)
    expected = {}
    for line in open(os.path.join(output, stage, "metrics.jsonl")):
        entry = json.loads(line)
        for name, value in entry["metrics"].items():
            expected[(tag(entry["split"], name), entry["step"])] = float(np.float32(value))
    files = sorted(f for f in os.listdir(folder) if f.startswith("events.out.tfevents."))
    seen = {}
    for f in files:
        for event in EventFileLoader(os.path.join(folder, f)).Load():
            for value in event.summary.value:
                key = (value.tag, event.step)
                if key in seen:
                    problems.append(f"{stage}: {value.tag} step {event.step} appears twice")
                # The loader migrates simple_value into a scalar tensor, as TensorBoard does.
                seen[key] = float(tensor_util.make_ndarray(value.tensor).item()) if value.HasField("tensor") else value.simple_value
    missing = sorted(set(expected) - set(seen))
    extra = sorted(set(seen) - set(expected))
    same = lambda a, b: a == b or (a != a and b != b)   # NaN is logged as NaN
    wrong = [(k, expected[k], seen[k]) for k in expected if k in seen and not same(seen[k], expected[k])]
    if missing: problems.append(f"{stage}: {len(missing)} scalars missing, e.g. {missing[:3]}")
    if extra: problems.append(f"{stage}: {len(extra)} scalars not in metrics.jsonl, e.g. {extra[:3]}")
    if wrong: problems.append(f"{stage}: {len(wrong)} values differ, e.g. {wrong[:3]}")
    accumulator = EventAccumulator(folder, size_guidance={"scalars": 0})
    accumulator.Reload()
    shown = {(t, s.step): s.value for t in accumulator.Tags()["scalars"] for s in accumulator.Scalars(t)}
    if shown.keys() != expected.keys() or any(not same(shown[k], expected[k]) for k in expected):
        problems.append(f"{stage}: TensorBoard shows {len(shown)} scalars, metrics.jsonl has {len(expected)}")
    print(f"tensorboard {stage}: {len(files)} file(s), {len(seen)} scalars, {len({t for t, _ in seen})} tags")

if problems:
    print("\n".join("tensorboard problem: " + p for p in problems), file=sys.stderr)
    sys.exit(1)
print("tensorboard ok: every metrics.jsonl value at its step, once")
