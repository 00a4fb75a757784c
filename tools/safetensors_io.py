"""Writes safetensors files (https://github.com/huggingface/safetensors) with the standard library and
numpy only, so the export scripts need no package beyond Debian's python3-torch / python3-sklearn."""
import json
import struct

import numpy as np


def save(path, tensors, dtype="F32"):
    """tensors: dict name -> array; stored as little-endian F32 (or dtype="F16", "I64", or a dict name -> dtype), names
    sorted, header padded to 8 bytes."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        kind = dtype.get(name, "F32") if isinstance(dtype, dict) else dtype
        data = np.ascontiguousarray(np.asarray(tensors[name], dtype={"F16": "<f2", "I64": "<i8"}.get(kind, "<f4"))).tobytes()
        header[name] = {"dtype": kind, "shape": list(np.shape(tensors[name])), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)


def state_dict(module):
    """A torch module's parameters as float32 numpy arrays, PyTorch names (fc1.weight, fc1.bias, ...)."""
    return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in module.state_dict().items()}


def load(path):
    """A safetensors file's tensors as numpy arrays (F32, F16, I64), by name."""
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    start = 8 + length
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = {"F32": "<f4", "F16": "<f2", "I64": "<i8"}[entry["dtype"]]
        tensors[name] = np.frombuffer(data[start + begin:start + end], dtype=dtype).reshape(entry["shape"])
    return tensors
