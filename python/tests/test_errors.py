"""Bad input raises ValueError with one sentence naming the argument; never a crash."""
import json
import re
import zlib

import numpy as np
import pytest

import backprop
from conftest import synthetic

SIZES = [64, 12, 4]


@pytest.fixture
def net():
    return backprop.Network(SIZES, seed=1)


@pytest.fixture
def data():
    return synthetic(50, 64, 4, 3)


@pytest.mark.parametrize("make, message", [
    (lambda x, y: (x.astype(np.int32), y), "x must be uint8 (0-255) or float32/float64 in [0, 1], got int32"),
    (lambda x, y: (x[:, :60], y), "x must have shape (n, 64) for the network's 64 inputs, got (50, 60)"),
    (lambda x, y: (x.reshape(-1), y), "x must have shape (n, 64)"),
    (lambda x, y: (x[:0], y[:0]), "x holds no images"),
    (lambda x, y: (x, y[:49]), "y must have shape (50,), one label per image, got (49,)"),
    (lambda x, y: (x, y.astype(np.float64)), "y must be integer labels, got float64"),
    (lambda x, y: (x, np.where(np.arange(50) == 7, 4, y)), "y: labels must be in [0, 4) for the network's 4 outputs, got 4 at [7]"),
    (lambda x, y: (x, np.where(np.arange(50) == 3, -1, y)), "got -1 at [3]"),
    (lambda x, y: (x, np.where(np.arange(50) == 3, np.uint64(2**64 - 1), y.astype(np.uint64))),
     "got 18446744073709551615 at [3]"),  # issue 25: was "got -1"
    (lambda x, y: (np.where(np.arange(64) == 5, np.nan, x / 255.0), y), "x: pixel values must be finite and in [0, 1], got nan at [0, 5]"),
    (lambda x, y: (x / 100.0, y), "x: pixel values must be finite and in [0, 1]"),
    (lambda x, y: ("images", y), "x must be a NumPy array, got <class 'str'>"),
])
def test_bad_training_arrays(net, data, make, message):
    x, y = make(*data)
    with pytest.raises(ValueError) as e:
        net.train(x, y, epochs=1, device="cpu")
    assert message in str(e.value)


@pytest.mark.parametrize("kwargs, message", [
    (dict(eta=0), "eta must be > 0"),
    (dict(lmbda=-1), "lmbda must be >= 0"),
    (dict(batch=0), "batch must be >= 1"),
    (dict(batch=2**32), "batch 4294967296 exceeds the 50 training images"),  # issue 25: was MemoryError
    (dict(epochs=0), "epochs must be >= 1"),
    (dict(cost="hinge"), "cost must be quadratic, cross-entropy or log-likelihood, got 'hinge'"),
    (dict(device="tpu"), "--device must be auto, cpu, cuda or reference, got 'tpu'"),
    (dict(engine="tensor"), "--engine must be auto, cublas or fused, got 'tensor'"),
    (dict(engine="fused"), "--engine fused chooses how the GPU trains; --device cpu has no GPU engine"),
    (dict(threads=-2), "threads must be >= 0"),
    (dict(validation=(1, 2, 3)), "validation must be a pair (x, y) of arrays or None"),
    (dict(momentum=1.0), "momentum must be >= 0 and < 1, got 1"),
    (dict(momentum=float("nan")), "momentum must be >= 0 and < 1, got nan"),
    (dict(schedule="plateau:0"), "schedule must be none or plateau:N with N >= 1 epochs, got 'plateau:0'"),
    (dict(expand="rotations"), "expand must be none or shifts, got 'rotations'"),
    (dict(schedule="plateau:2"), "schedule and early_stop need validation data: pass validation=(x, y)"),
    (dict(early_stop=3), "schedule and early_stop need validation data"),
])
def test_bad_settings(net, data, kwargs, message):
    with pytest.raises(ValueError) as e:
        net.train(*data, **{"epochs": 1, "device": "cpu", **kwargs})
    assert message in str(e.value)


def test_shifted_images_must_be_square():
    x, y = synthetic(50, 60, 4, 3)
    with pytest.raises(ValueError, match=r"expand='shifts' needs square images \(60 pixels"):
        backprop.Network([60, 5, 4]).train(x, y, epochs=1, device="cpu", expand="shifts")


def test_validation_arrays_are_checked_by_name(net, data):
    x, y = data
    with pytest.raises(ValueError, match=r"y_validation: labels must be in \[0, 4\)"):
        net.train(x, y, epochs=1, device="cpu", validation=(x, y + 4))


def test_bad_parameters_leave_the_network_unchanged(net):
    before = net.weights
    with pytest.raises(ValueError, match=r"weights\[1\] must have shape \(4, 12\), got \(12, 4\)"):
        net.weights = [before[0], before[1].T]
    bad = before[0].copy()
    bad[2, 3] = np.inf
    with pytest.raises(ValueError, match=r"weights\[0\] must be finite, got inf at \[2, 3\]"):
        net.weights = [bad, before[1]]
    with pytest.raises(ValueError, match="the network has 2 layers of biases, got 1 arrays"):
        net.biases = [np.zeros(12)]
    for got, want in zip(net.weights, before):
        np.testing.assert_array_equal(got, want)


def test_bad_networks_and_files(tmp_path):
    with pytest.raises(ValueError, match="init must be normal or scaled"):
        backprop.Network(SIZES, init="xavier")
    with pytest.raises(ValueError, match="layer sizes must be between 1 and 65536"):
        backprop.Network([64, 0, 4])
    (tmp_path / "junk.safetensors").write_bytes(b"not a model at all")
    with pytest.raises(RuntimeError, match="junk.safetensors"):
        backprop.Network.load(str(tmp_path / "junk.safetensors"))
    with pytest.raises(ValueError, match="MNIST not found in"):
        backprop.load_mnist(str(tmp_path))


def test_divergence_names_the_epoch(net, data):
    with pytest.raises(ValueError, match=r"epoch (\d): training diverged .* try a smaller eta than 1e\+300") as e:
        net.train(*data, epochs=5, eta=1e300, cost="cross-entropy", device="cpu")
    assert len(net.history) == int(re.match(r"epoch (\d)", str(e.value)).group(1))  # the finite epochs before it


def test_a_refused_call_keeps_the_last_run(net, data):
    history = net.train(*data, epochs=2, device="cpu", cost="cross-entropy", eta=0.5)
    weights, metadata = net.weights, dict(net.metadata)
    with pytest.raises(ValueError):
        net.train(*data, epochs=1, device="cpu", cost="hinge")
    assert net.history == history and net.metadata == metadata
    for got, want in zip(net.weights, weights):
        np.testing.assert_array_equal(got, want)


def test_a_crafted_seed_in_a_model_is_the_clis_runtime_error(tmp_path):
    # It was stoull's ValueError (issue 25, item 11).
    path = tmp_path / "m.safetensors"
    net = backprop.Network([16, 4, 3], seed=1)
    net.train(*synthetic(50, 16, 3, 1), epochs=1, device="cpu")  # a trained network's metadata has its seed
    net.save(str(path))
    data = path.read_bytes()
    assert b'"seed":"1"' in data
    path.write_bytes(with_checksum(data.replace(b'"seed":"1"', b'"seed":"-"', 1)))
    with pytest.raises(RuntimeError, match="metadata 'seed' is not a count: '-'"):
        backprop.Network.load(path)


def with_checksum(model):
    """The file with the checksum of what it now holds (train/checkpoint.hpp's model_checksum), so that
    the crafted value itself is what the reader meets."""
    n = int.from_bytes(model[:8], "little")
    header = json.loads(model[8:8 + n])
    tensors = model[8 + n:]
    crc = 0
    for key, value in sorted(header["__metadata__"].items(), key=lambda kv: kv[0].encode()):
        if key != "crc32":
            crc = zlib.crc32(value.encode() + b"\0", zlib.crc32(key.encode() + b"\0", crc))
    header["__metadata__"]["crc32"] = f"v2:{zlib.crc32(tensors, crc)}"
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + tensors
