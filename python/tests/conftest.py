"""Shared fixtures: the module, the CLI binary, and small MNIST-format data sets on disk."""
import os
import struct
import subprocess
import json
from pathlib import Path

import numpy as np
import pytest

import backprop

SOURCE = Path(__file__).resolve().parents[2]


def write_idx(path, array):
    """An IDX file (ubyte elements) holding `array`, as the MNIST files are laid out."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    Path(path).write_bytes(header + array.tobytes())


def write_dataset(folder, train_x, train_y, test_x, test_y, rows, cols):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / "train-images-idx3-ubyte", train_x.reshape(-1, rows, cols))
    write_idx(folder / "train-labels-idx1-ubyte", train_y)
    write_idx(folder / "t10k-images-idx3-ubyte", test_x.reshape(-1, rows, cols))
    write_idx(folder / "t10k-labels-idx1-ubyte", test_y)
    return folder


def synthetic(n, pixels, classes, seed):
    """Images with some structure: each class brightens its own band of pixels, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.integers(0, 120, (n, pixels))
    band = pixels // classes
    for c in range(classes):
        x[y == c, c * band:(c + 1) * band] += 120
    return x.astype(np.uint8), y.astype(np.int64)


@pytest.fixture(scope="session")
def cli():
    path = os.environ.get("BACKPROP_BINARY")
    if not path or not Path(path).exists():
        pytest.skip("BACKPROP_BINARY is not set to the built backprop tool (ctest sets it)")

    def run(*args):
        r = subprocess.run([path, *map(str, args)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        return r

    return run


@pytest.fixture(scope="session")
def small_data(tmp_path_factory):
    """8x8 images in 4 classes: 720 training (600 train + 120 validation, as the CLI splits) and 100 test."""
    rows, cols, classes = 8, 8, 4
    train_x, train_y = synthetic(720, rows * cols, classes, 1)
    test_x, test_y = synthetic(100, rows * cols, classes, 2)
    folder = write_dataset(tmp_path_factory.mktemp("small"), train_x, train_y, test_x, test_y, rows, cols)
    return folder, [rows * cols, 12, classes]


def read_log(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


@pytest.fixture(scope="session")
def mnist_dir():
    folder = Path(os.environ.get("BACKPROP_DATA", SOURCE / "data" / "mnist"))
    if not any((folder / f"train-images-idx3-ubyte{ext}").exists() for ext in ("", ".gz")):
        if os.environ.get("BACKPROP_REQUIRE_DATA") == "1":
            pytest.fail(f"BACKPROP_REQUIRE_DATA=1 but there is no MNIST in {folder}")
        pytest.skip(f"no MNIST in {folder} (run scripts/fetch-mnist)")
    return folder
