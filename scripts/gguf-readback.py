"""Reads GGUF files with the `gguf` package (llama.cpp's own Python reader, from PyPI) and prints,
per file, every metadata key with its value and every tensor's name, GGML type and shape (outermost
dimension first, as candle and numpy write it), as one JSON object. Used by
tests/export_gguf_pypi.rs as an independent reader of `bitplan export gguf` files.

Usage: python gguf-readback.py FILE...
"""

import json
import sys

import gguf
import numpy as np

# Fields the reader synthesizes from the header rather than reading key/value pairs.
HEADER_FIELDS = ("GGUF.version", "GGUF.tensor_count", "GGUF.kv_count")


def plain(value):
    """numpy scalars and arrays as JSON values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def read(path):
    reader = gguf.GGUFReader(path)
    metadata = {
        name: plain(field.contents())
        for name, field in reader.fields.items()
        if name not in HEADER_FIELDS
    }
    tensors = [
        {
            "name": tensor.name,
            "type": tensor.tensor_type.name,
            "shape": [int(d) for d in reversed(tensor.shape.tolist())],
        }
        for tensor in reader.tensors
    ]
    return {"metadata": metadata, "tensors": tensors}


if __name__ == "__main__":
    json.dump({path: read(path) for path in sys.argv[1:]}, sys.stdout)
