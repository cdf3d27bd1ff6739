"""Shared by the anchors: arguments, the MNIST loader and the per-epoch JSON line.

Thread counts are set through the environment before numpy or torch is imported, so call
parse_args() first in each anchor.
"""
import argparse
import gzip
import json
import os
import sys


def parse_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data", default="data/mnist")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--layers", default="784,30,10")
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--eta", type=float, default=3.0)
    p.add_argument("--train-size", type=int, default=50000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", help="pytorch only: cpu or cuda")
    args = p.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    args.sizes = [int(s) for s in args.layers.split(",")]
    return args


def _read_idx(path, offset):
    import numpy as np
    for name in (path, path + ".gz"):
        if os.path.exists(name):
            opener = gzip.open if name.endswith(".gz") else open
            with opener(name, "rb") as f:
                return np.frombuffer(f.read(), np.uint8, offset=offset)
    sys.exit(f"anchor: {path}[.gz] not found (run scripts/fetch-mnist)")


def load_mnist(folder, train_size):
    """(train_x (n,784) float64 in [0,1], train_y (n,), test_x, test_y), Nielsen's first n images."""
    import numpy as np
    tx = _read_idx(os.path.join(folder, "train-images-idx3-ubyte"), 16).reshape(-1, 784)[:train_size]
    ty = _read_idx(os.path.join(folder, "train-labels-idx1-ubyte"), 8)[:train_size]
    vx = _read_idx(os.path.join(folder, "t10k-images-idx3-ubyte"), 16).reshape(-1, 784)
    vy = _read_idx(os.path.join(folder, "t10k-labels-idx1-ubyte"), 8)
    return tx / 255.0, ty.astype(np.int64), vx / 255.0, vy.astype(np.int64)


def report(anchor, epoch, seconds, correct, total):
    print(json.dumps({"anchor": anchor, "epoch": epoch, "train_seconds": seconds,
                      "test_correct": int(correct), "test_count": int(total)}), flush=True)
