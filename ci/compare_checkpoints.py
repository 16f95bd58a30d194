#!/usr/bin/env python3
"""Exactness check: two checkpoints hold bit-identical state.

Every dataset (weights, AdamW moments, generator states, data order) must be present in both with the
same dtype, shape and bytes, and so must every attribute outside the ones that record when and how
fast a run went: the root's created_utc and code_version, /job (training seconds), and /metrics
entries that are rates. Prints one line per pair; exit 1 on the first difference, naming it.
Usage: python3 ci/compare_checkpoints.py A.h5 B.h5 [A2.h5 B2.h5 ...]
"""
import sys

import h5py
import numpy as np

TIMING_ROOT_ATTRIBUTES = {"created_utc", "code_version"}


def is_timing(path, name):
    return (path == "/" and name in TIMING_ROOT_ATTRIBUTES) or path.startswith("/job") or \
        (path.startswith("/metrics") and ("per_s" in name or name.endswith("_seconds")))


def contents(file):
    datasets, attributes = {}, {}

    def visit(name, obj):
        path = "/" + name
        for key, value in obj.attrs.items():
            if not is_timing(path, key):
                attributes[f"{path}@{key}"] = np.asarray(value)
        if isinstance(obj, h5py.Dataset):
            datasets[path] = obj[()]

    with h5py.File(file, "r") as f:
        for key, value in f.attrs.items():
            if not is_timing("/", key):
                attributes[f"/@{key}"] = np.asarray(value)
        f.visititems(visit)
    return datasets, attributes


def compare(a, b):
    da, aa = contents(a)
    db, ab = contents(b)
    if set(da) != set(db):
        return f"datasets differ: only in {a}: {sorted(set(da) - set(db))}; only in {b}: {sorted(set(db) - set(da))}"
    for path in sorted(da):
        x, y = np.asarray(da[path]), np.asarray(db[path])
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            diff = np.abs(x.astype(np.float64) - y.astype(np.float64)).max() if x.shape == y.shape and x.dtype.kind == "f" else "?"
            return f"{path} differs (dtype {x.dtype}/{y.dtype}, shape {x.shape}/{y.shape}, max |difference| {diff})"
    if set(aa) != set(ab):
        return f"attributes differ: {sorted(set(aa) ^ set(ab))}"
    for key in sorted(aa):
        if aa[key].tobytes() != ab[key].tobytes():
            return f"attribute {key} differs: {aa[key]} vs {ab[key]}"
    return None, len(da)


def main(files):
    if len(files) < 2 or len(files) % 2:
        sys.exit("usage: compare_checkpoints.py A.h5 B.h5 [A2.h5 B2.h5 ...]")
    for a, b in zip(files[::2], files[1::2]):
        result = compare(a, b)
        if isinstance(result, str):
            print(f"DIFFERENT {a} {b}: {result}")
            sys.exit(1)
        print(f"identical: {a} = {b} ({result[1]} datasets, every attribute but timings)")


if __name__ == "__main__":
    main(sys.argv[1:])
