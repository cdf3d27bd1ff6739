"""The CUDA backend from Python, against the CPU on the same data and seed. Skipped without a
usable GPU; a failure instead under BACKPROP_REQUIRE_GPU=1."""
import os

import numpy as np
import pytest

import backprop
from conftest import synthetic

SIZES = [64, 12, 4]


@pytest.fixture(scope="module", autouse=True)
def gpu():
    if "cuda" not in backprop.devices():
        reason = backprop.cuda_status()["reason"]
        if os.environ.get("BACKPROP_REQUIRE_GPU") == "1":
            pytest.fail(f"BACKPROP_REQUIRE_GPU=1 but no usable GPU: {reason}")
        pytest.skip(f"no usable GPU: {reason}")


@pytest.mark.parametrize("engine, name", [("cublas", "cuda"), ("fused", "cuda fused")])
def test_cuda_training_follows_the_cpu(engine, name):
    x, y = synthetic(2000, 64, 4, 6)
    runs = {}
    for device in ("cpu", "cuda"):
        net = backprop.Network(SIZES, seed=3)
        history = net.train(x[:1500], y[:1500], epochs=1, eta=1.0, test=(x[1500:], y[1500:]), device=device,
                            engine=engine if device == "cuda" else "auto")
        # The emulation build adds " (CUDA emulation: test build)".
        assert net.device.split(" (")[0] == (name if device == "cuda" else "cpu")
        runs[device] = (history[0], net.weights)
    cpu, cuda = runs["cpu"], runs["cuda"]
    # float32 either way, summed in another order: close, not equal.
    assert cuda[0]["training_cost"] == pytest.approx(cpu[0]["training_cost"], rel=1e-4)
    assert abs(cuda[0]["test_correct"] - cpu[0]["test_correct"]) <= 2
    for a, b in zip(cuda[1], cpu[1]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-3)


def test_cuda_evaluate_and_gradient_match():
    x, y = synthetic(500, 64, 4, 7)
    net = backprop.Network(SIZES, seed=4)
    assert abs(net.evaluate(x, y, device="cuda") - net.evaluate(x, y, device="cpu")) <= 1
    result = backprop.gradcheck(SIZES, params=0, x=x, y=y, devices=["cuda"])
    assert result["passed"], result
