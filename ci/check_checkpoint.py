#!/usr/bin/env python3
"""Interop check: h5py + numpy read a checkpoint written by `rlhf _checkpoint-sample FILE` and verify
every tensor (name, shape, dtype, Fletcher-32 filter, values) and every attribute (type, value), and
the file's stamp (docs/checkpoints.md): its CRC-32C of the HDF5 part and of every tensor, recomputed
here with a table-driven CRC-32C of our own.

The expected values are recomputed here independently of the Swift code (see CheckpointSample.swift):
tensor value i of dataset `path` is ((i*31 + k*17) % 251) * 0.25 - 31 with k = sum(path bytes) % 97.
Usage: python3 ci/check_checkpoint.py FILE
"""
import json
import sys

import h5py
import numpy as np


def gpt2_shapes(vocab, context, layers, channels):
    """Hugging Face GPT-2 parameter names and shapes, weights [in, out] (DESIGN §3.3)."""
    V, T, C = vocab, context, channels
    shapes = {"wte": (V, C), "wpe": (T, C), "ln_f.weight": (C,), "ln_f.bias": (C,)}
    for i in range(layers):
        shapes.update({
            f"h.{i}.ln_1.weight": (C,), f"h.{i}.ln_1.bias": (C,),
            f"h.{i}.attn.c_attn.weight": (C, 3 * C), f"h.{i}.attn.c_attn.bias": (3 * C,),
            f"h.{i}.attn.c_proj.weight": (C, C), f"h.{i}.attn.c_proj.bias": (C,),
            f"h.{i}.ln_2.weight": (C,), f"h.{i}.ln_2.bias": (C,),
            f"h.{i}.mlp.c_fc.weight": (C, 4 * C), f"h.{i}.mlp.c_fc.bias": (4 * C,),
            f"h.{i}.mlp.c_proj.weight": (4 * C, C), f"h.{i}.mlp.c_proj.bias": (C,),
        })
    return shapes


def expected_values(path, shape):
    k = sum(path.encode()) % 97
    i = np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)
    values = ((i * 31 + k * 17) % 251).astype(np.float32) * np.float32(0.25) - np.float32(31)
    return values.reshape(shape)


def text(value):
    """Fixed-length strings come back as bytes, variable-length ones as str."""
    return value.decode("utf-8") if isinstance(value, (bytes, np.bytes_)) else str(value)


def check(condition, message):
    if not condition:
        sys.exit(f"interop check failed: {message}")


def crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


CRC32C_TABLE = crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = (crc >> 8) ^ CRC32C_TABLE[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFFFFFF


def check_stamp(path):
    """The stamp in the user block: magic line, JSON line, stamp_crc32c line, zero padding."""
    data = open(path, "rb").read()
    magic = b"swift-rlhf checkpoint stamp\n"
    check(data.startswith(magic), "no stamp at the start of the file")
    json_end = data.index(b"\n", len(magic))
    stamp = json.loads(data[len(magic):json_end])
    crc_line = data[json_end + 1:json_end + 1 + 22]
    check(crc_line.startswith(b"stamp_crc32c ") and crc_line.endswith(b"\n"), f"stamp_crc32c line {crc_line!r}")
    check(int(crc_line[13:21], 16) == crc32c(data[:json_end + 1]), "stamp_crc32c")
    offset = stamp["hdf5_offset"]
    check(stamp["version"] == 1 and offset >= 512 and offset & (offset - 1) == 0, f"stamp {stamp}")
    check(data[json_end + 1 + 22:offset] == bytes(offset - json_end - 1 - 22), "stamp padding is not zero")
    check(stamp["file_size"] == len(data), "file_size")
    check(int(stamp["file_crc32c"], 16) == crc32c(data[offset:]), "file_crc32c")
    check(data[offset:offset + 8] == b"\x89HDF\r\n\x1a\n", "HDF5 superblock after the user block")
    return stamp


def main(path):
    stamp = check_stamp(path)
    with h5py.File(path, "r") as f:
        root = f.attrs
        check(text(root["format"]) == "swift-rlhf-checkpoint", f"format {root['format']!r}")
        check(root["format_version"] == 1 and root["format_version"].dtype == np.int64, "format_version")
        check(text(root["stage_kind"]) == "reward" and text(root["stage_name"]) == "sample", "stage")
        check(root["step"] == 7 and root["total_steps"] == 10, "step / total_steps")
        check(text(root["created_utc"]) == "2025-01-01T00:00:00Z", "created_utc")
        check(text(root["code_version"]) == "sample", "code_version")
        config = json.loads(text(root["config_json"]))
        check(config["vocab"] == 259, f"config {config}")
        check(json.loads(text(root["manifest_json"]))["note"] == "ünïcode ✓", "manifest_json UTF-8")

        # Every tensor: the expected set, nothing more, shapes, dtype, checksums, values.
        expected = {}
        for name, shape in gpt2_shapes(config["vocab"], config["context"], config["layers"], config["embedding"]).items():
            for prefix in ("/model/", "/optimizer/policy/m/", "/optimizer/policy/v/"):
                expected[prefix + name] = shape
        for prefix in ("/model/", "/optimizer/policy/m/", "/optimizer/policy/v/"):
            expected[prefix + "score.weight"] = (config["embedding"],)
            expected[prefix + "score.bias"] = (1,)
        expected.update({"/extra/scalar": (), "/extra/vector": (5,), "/extra/matrix": (2, 3),
                         "/extra/cube": (2, 3, 4), "/extra/hyper": (2, 3, 4, 5), "/extra/empty": (0,)})
        found = {}
        f.visititems(lambda name, obj: found.__setitem__("/" + name, obj) if isinstance(obj, h5py.Dataset) else None)
        check(set(found) == set(expected), f"datasets differ: missing {set(expected) - set(found)}, extra {set(found) - set(expected)}")
        index = json.loads(text(root["tensors_json"]))
        check({k: tuple(v) for k, v in index.items()} == expected, "tensors_json index")
        for name, shape in expected.items():
            dataset = found[name]
            check(dataset.shape == shape, f"{name} shape {dataset.shape} != {shape}")
            check(dataset.dtype == np.dtype("<f4"), f"{name} dtype {dataset.dtype}")
            checksummed = len(shape) > 0 and 0 not in shape
            check(dataset.fletcher32 == checksummed, f"{name} fletcher32 {dataset.fletcher32}")
            check(np.array_equal(dataset[()], expected_values(name, shape)), f"{name} values differ")
            stored = np.ascontiguousarray(dataset[()], dtype="<f4").tobytes()
            check(int(stamp["tensor_crc32c"][name], 16) == crc32c(stored), f"{name} tensor_crc32c")

        # Every attribute below the root: type and value.
        policy = f["/optimizer/policy"].attrs
        check(policy["step"] == 7 and policy["beta1"] == 0.9 and policy["beta2"] == 0.95, "optimizer attributes")
        check(policy["eps"] == 1e-8 and policy["weight_decay"] == 0.1, "optimizer attributes")
        schedule = f["/schedule"].attrs
        check(schedule["step"] == 7 and schedule["lr"] == 3e-4 and text(schedule["kind"]) == "cosine", "schedule")
        state = f["/rng/init"].attrs["state"]
        check(state.dtype == np.uint64 and state.tolist() == [1, 0x9E3779B97F4A7C15, 2**64 - 1, 42], f"rng state {state}")
        data = f["/data/train"].attrs
        check(data["epoch"] == 1 and data["position"] == 3, "data cursor")
        check(data["permutation"].dtype == np.int64 and data["permutation"].tolist() == [4, 0, 3, 1, 2], "permutation")
        check(len(data["empty"]) == 0, "empty array")
        ppo = f["/ppo"].attrs
        check(ppo["kl_coef"] == 0.05 and ppo["negative"] == -5, "ppo")
        metrics = f["/metrics"].attrs
        check(metrics["loss"] == 1.5 and text(metrics["note"]) == "", "metrics scalars")
        check(metrics["recent"].dtype == np.float32 and metrics["recent"].tolist() == [0.5, 0.25, -1.0], "float array")
        check(metrics["accuracy"].dtype == np.float64 and metrics["accuracy"].tolist() == [0.75, 0.8125], "double array")
        check(json.loads(text(metrics["last_json"])) == {"kl": 0.125}, "JSON attribute")
        attributes = sum(len(f[g].attrs) for g in ("/", "/optimizer/policy", "/schedule", "/rng/init", "/data/train", "/ppo", "/metrics"))
    print(f"interop ok: h5py {h5py.version.version} read {len(expected)} tensors and {attributes} attributes from {path}; "
          f"stamp CRC-32C {stamp['file_crc32c']} of {stamp['file_size']} bytes verified")


if __name__ == "__main__":
    main(sys.argv[1])
