#!/usr/bin/env python3
"""Writes the seed corpus for the fuzz targets (run once; the files are committed): small valid
and malformed IDX files, raw and gzip, and small safetensors models in backprop's layout."""
import gzip
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def idx(dims, payload):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def write(folder, name, data):
    with open(os.path.join(HERE, "corpus", folder, name), "wb") as f:
        f.write(data)


def model(sizes, meta_extra=None):
    data, header = b"", {}
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        for name, count, shape in ((f"layers.{l}.weight", n_in * n_out, [n_out, n_in]),
                                   (f"layers.{l}.bias", n_out, [n_out])):
            start = len(data)
            data += struct.pack(f"<{count}f", *[(i % 7) * 0.25 - 0.5 for i in range(count)])
            header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [start, len(data)]}
    meta = {"format": "backprop", "layers": ",".join(map(str, sizes)), "crc32": str(zlib.crc32(data))}
    meta.update(meta_extra or {})
    header["__metadata__"] = meta
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


images = idx([3, 4, 4], bytes(range(48)))
labels = idx([3], bytes([0, 1, 2]))
write("idx", "images-raw", images)
write("idx", "labels-raw", labels)
write("idx", "images-gz", gzip.compress(images, mtime=0))
write("idx", "labels-gz", gzip.compress(labels, mtime=0))
write("idx", "truncated", images[:-5])
write("idx", "huge-header", idx([4000000000, 28, 28], b"\0" * 16))
write("idx", "rank4", idx([2, 2, 2, 2], bytes(16)))
write("model", "tiny", model([4, 3, 2]))
write("model", "deep", model([5, 4, 3, 2], {"epoch": "3", "seed": "1"}))
write("model", "bad-crc", model([2, 2], {"crc32": "1"}))
print("corpus written")
