"""Ctrl-C stops a long train() cleanly with KeyboardInterrupt, and an exception raised by the
progress callback stops it too; the network keeps the parameters reached and trains on."""
import os
import signal
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


def test_ctrl_c_raises_keyboard_interrupt_promptly(data):
    net = backprop.Network(SIZES, seed=1)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            net.train(*data, epochs=100000, eta=1.0, device="cpu")
    finally:
        timer.cancel()
    elapsed = time.monotonic() - start
    assert elapsed < 10, f"took {elapsed:.1f} s to stop"  # a chunk is 100 minibatches here
    assert len(net.history) < 100000
    assert all(np.isfinite(w).all() for w in net.weights)
    net.train(*data, epochs=1, device="cpu")  # still usable


def test_an_exception_in_the_progress_callback_stops_training(data):
    net = backprop.Network(SIZES, seed=1)

    def progress(record):
        if record["epoch"] == 1:
            raise RuntimeError("enough")

    with pytest.raises(RuntimeError, match="enough"):
        net.train(*data, epochs=50, device="cpu", progress=progress)
    assert [r["epoch"] for r in net.history] == [0, 1]


def test_other_threads_run_while_training(data):
    """The GIL is released: while train() runs in a thread, this one keeps running (without the
    release it would be blocked for the whole call)."""
    net = backprop.Network(SIZES, seed=1)
    finished = []
    worker = threading.Thread(target=lambda: finished.append(net.train(*data, epochs=20, device="cpu")))
    start = time.monotonic()
    last, longest = start, 0.0
    worker.start()
    while worker.is_alive():
        now = time.monotonic()
        longest, last = max(longest, now - last), now
    duration = time.monotonic() - start
    worker.join()
    assert finished and len(finished[0]) == 20
    assert longest < duration / 2, f"blocked {longest:.3f} s of a {duration:.3f} s run"
