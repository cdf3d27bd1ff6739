"""Arrays in and out: parameters round-trip exactly, float and Fortran-ordered images train as
the bytes they came from, predict is the network's formula."""
import numpy as np
import pytest

import backprop
from conftest import synthetic

SIZES = [64, 12, 4]


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.fixture
def data():
    return synthetic(300, 64, 4, 3)


def test_parameters_have_numpy_shapes_and_assign_back_exactly():
    net = backprop.Network(SIZES, seed=3)
    assert [w.shape for w in net.weights] == [(12, 64), (4, 12)]
    assert [b.shape for b in net.biases] == [(12,), (4,)]
    assert all(a.dtype == np.float32 for a in net.weights + net.biases)
    rng = np.random.default_rng(4)
    new_w = [rng.standard_normal(w.shape).astype(np.float32) for w in net.weights]
    new_b = [rng.standard_normal(b.shape) for b in net.biases]  # float64, converted to float32
    net.weights = [np.ascontiguousarray(new_w[0]), np.asfortranarray(new_w[1])]
    net.biases = new_b
    for got, want in zip(net.weights + net.biases, new_w + [b.astype(np.float32) for b in new_b]):
        np.testing.assert_array_equal(got, want)
    net.weights[0][0, 0] = 123  # a copy: the network is unchanged until assigned
    assert net.weights[0][0, 0] == new_w[0][0, 0]


def test_same_seed_same_network_other_seed_other_network():
    a, b, c = (backprop.Network(SIZES, seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.weights[0], b.weights[0])
    assert not np.array_equal(a.weights[0], c.weights[0])
    scaled = backprop.Network(SIZES, init="scaled", seed=7)
    assert np.std(scaled.weights[0]) < np.std(a.weights[0]) / 4  # N(0, 1/64) against N(0, 1)


def test_save_and_load_round_trip(tmp_path, data):
    net = backprop.Network(SIZES, seed=5)
    net.train(*data, epochs=1, eta=2.0, device="cpu")
    net.save(tmp_path / "m.safetensors")  # a str or any os.PathLike
    back = backprop.Network.load(str(tmp_path / "m.safetensors"))
    assert back.sizes == SIZES
    for got, want in zip(back.weights + back.biases, net.weights + net.biases):
        np.testing.assert_array_equal(got, want)
    assert back.metadata["eta"] == "2" and back.metadata["mini_batch"] == "10"


def test_float_and_fortran_images_train_as_their_bytes(data):
    x, y = data
    runs = []
    wide = np.zeros((x.shape[0], 2 * x.shape[1]), np.uint8)
    wide[:, ::2] = x  # a strided view
    for images in (x, np.asfortranarray(x), wide[:, ::2], x.astype(np.float32) / 255,
                   (x / 255.0).astype(np.float64, order="F"), (x / 255.0).astype(">f8")):
        net = backprop.Network(SIZES, seed=1)
        history = net.train(images, y.astype(np.uint8), epochs=2, test=(x, y), device="cpu")
        runs.append(([(r["training_cost"], r["parameter_change"], r["test_correct"]) for r in history],
                     [w.copy() for w in net.weights]))
    for history, weights in runs[1:]:
        assert history == runs[0][0]
        for got, want in zip(weights, runs[0][1]):
            np.testing.assert_array_equal(got, want)


def test_predict_is_the_feedforward_formula_and_evaluate_its_argmax(data):
    x, y = data
    net = backprop.Network(SIZES, seed=2)
    net.train(x, y, epochs=2, eta=2.0, device="cpu")
    # The input as every backend makes it: float32(p) * float32(1/255) (normalise_pixel).
    a = (x.astype(np.float32) * np.float32(1.0 / 255.0)).astype(np.float64)
    for w, b in zip(net.weights, net.biases):
        a = sigmoid(a @ w.astype(np.float64).T + b)
    out = net.predict(x)
    assert out.shape == (300, 4)
    np.testing.assert_allclose(out, a, rtol=0, atol=1e-12)
    assert net.evaluate(x, y, device="cpu") == int((a.argmax(axis=1) == y).sum())
    assert net.evaluate(x, y, device="reference") == net.evaluate(x, y, device="cpu")


def test_history_progress_and_validation(data):
    x, y = data
    seen = []
    net = backprop.Network(SIZES, seed=1)
    history = net.train(x[:200], y[:200], epochs=3, validation=(x[200:], y[200:]), device="cpu", progress=seen.append)
    assert seen == history == net.history
    assert [r["epoch"] for r in history] == [0, 1, 2]
    assert all(r["validation_count"] == 100 and r["test_count"] == 0 for r in history)


def test_gradcheck_and_devices(data):
    assert backprop.devices()[0] == "cpu" and "reference" in backprop.devices()
    result = backprop.gradcheck([64, 6, 4], cost="cross-entropy", lmbda=1.0, params=0, x=data[0], y=data[1])
    assert result["passed"], result
    labels = [c["label"] for c in result["checks"]]
    assert labels[0] == "reference gradient vs finite differences" and "cpu gradient vs reference" in labels
    assert result["checks"][0]["count"] == 64 * 6 + 6 + 6 * 4 + 4
