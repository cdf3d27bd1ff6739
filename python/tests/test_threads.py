"""A network in use by one thread refuses another thread's call that would race with it (a
RuntimeError naming what is running), instead of crashing the interpreter or handing out torn
parameters: train() needs the network alone; evaluate() and predict() may share it."""
import threading
import time

import numpy as np
import pytest

import backprop
from conftest import synthetic

SIZES = [64, 12, 4]


@pytest.fixture(scope="module")
def data():
    return synthetic(20000, 64, 4, 5)


def while_training(net, data, body):
    """Runs body() in this thread while net.train() runs in another, then stops the training."""
    started, stop = threading.Event(), threading.Event()
    errors = []

    def progress(record):
        started.set()
        if stop.is_set():
            raise KeyboardInterrupt  # ends train() after this epoch

    def train():
        try:
            net.train(*data, epochs=100000, eta=1.0, device="cpu", progress=progress)
        except KeyboardInterrupt:
            pass
        except Exception as e:  # noqa: BLE001 - reported to the test below
            errors.append(e)

    worker = threading.Thread(target=train)
    worker.start()
    try:
        assert started.wait(60), "training never reached its first epoch"
        body()
    finally:
        stop.set()
        worker.join(60)
    assert not worker.is_alive()
    assert not errors, errors


def test_calls_that_race_with_train_refuse(data):
    net = backprop.Network(SIZES, seed=1)
    x, y = data
    calls = {
        "weights": lambda: net.weights,
        "biases": lambda: net.biases,
        "assigning weights": lambda: setattr(net, "weights", [np.zeros((12, 64)), np.zeros((4, 12))]),
        "assigning biases": lambda: setattr(net, "biases", [np.zeros(12), np.zeros(4)]),
        "evaluate": lambda: net.evaluate(x[:100], y[:100], device="cpu"),
        "predict": lambda: net.predict(x[:100]),
        "train": lambda: net.train(x[:100], y[:100], epochs=1, device="cpu"),
    }

    def body():
        for name, call in calls.items():
            for _ in range(20):  # again and again, while the parameters keep changing
                with pytest.raises(RuntimeError, match="the network is training"):
                    call()

    while_training(net, data, body)
    # Afterwards the network is whole and usable again.
    assert all(np.isfinite(w).all() for w in net.weights)
    assert net.evaluate(x[:100], y[:100], device="cpu") >= 0
    net.train(x[:100], y[:100], epochs=1, device="cpu")


def test_the_progress_callback_may_not_touch_the_network_it_reports_on(data):
    net = backprop.Network(SIZES, seed=1)
    seen = []

    def progress(record):
        try:
            net.weights
        except RuntimeError as e:
            seen.append(str(e))

    net.train(*data, epochs=1, device="cpu", progress=progress)
    assert len(seen) == 1 and "progress callback" in seen[0]


def test_a_running_predict_keeps_assignments_out(data):
    net = backprop.Network([64, 400, 4], seed=1)  # a float64 prediction that takes a while
    x = np.concatenate([data[0]] * 3)
    expected = net.predict(x)
    output, started = [], threading.Event()

    def predict():
        started.set()
        output.append(net.predict(x))

    reader = threading.Thread(target=predict)
    reader.start()
    started.wait(10)
    time.sleep(0.05)  # into predict(), which takes about a second
    refused = 0
    while reader.is_alive():
        try:
            net.biases = [np.ones(400), np.ones(4)]
        except RuntimeError as e:
            assert "evaluate() or predict() is running" in str(e)
            refused += 1
        else:
            break  # the prediction had returned: the assignment was allowed
    reader.join()
    assert refused > 0, "the assignment never met a running predict()"
    np.testing.assert_array_equal(output[0], expected)  # its parameters never changed under it
