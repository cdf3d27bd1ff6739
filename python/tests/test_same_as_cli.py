"""Training from NumPy arrays is the CLI's run: the same epoch records and the same parameters,
bit for bit, on the CPU backend."""
import numpy as np
import pytest

import backprop
from conftest import read_log

TIMING = {"train_seconds", "eval_seconds", "samples_per_second"}


def without_timing(records):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


@pytest.mark.parametrize("settings", [
    dict(epochs=3, batch=7, eta=1.5, cost="quadratic", lmbda=0.0, init="normal", seed=5),
    dict(epochs=2, batch=10, eta=0.5, cost="cross-entropy", lmbda=2.0, init="scaled", seed=2),
])
def test_epoch_records_and_parameters_match_the_cli(cli, small_data, tmp_path, settings):
    folder, sizes = small_data
    s = settings
    cli("train", "--data", folder, "--layers", ",".join(map(str, sizes)), "--epochs", s["epochs"], "--batch", s["batch"],
        "--eta", s["eta"], "--cost", s["cost"], "--lambda", s["lmbda"], "--init", s["init"], "--seed", s["seed"],
        "--device", "cpu", "--threads", 1, "--quiet", "--log", tmp_path / "cli.jsonl",
        # the last epoch's parameters (--save writes the best-validation epoch's)
        "--checkpoint", tmp_path / "cli.safetensors", "--checkpoint-every", s["epochs"])
    expected = read_log(tmp_path / "cli.jsonl")

    train, validation, test = backprop.load_mnist(folder)
    net = backprop.Network(sizes, init=s["init"], seed=s["seed"])
    history = net.train(*train, epochs=s["epochs"], batch=s["batch"], eta=s["eta"], cost=s["cost"], lmbda=s["lmbda"],
                        validation=validation, test=test, device="cpu", threads=1)

    assert net.device == "cpu"
    assert [set(r) for r in history] == [set(r) for r in expected]  # the same fields as --log
    assert without_timing(history) == without_timing(expected)
    saved = backprop.Network.load(str(tmp_path / "cli.safetensors"))
    for got, want in zip(net.weights + net.biases, saved.weights + saved.biases):
        np.testing.assert_array_equal(got, want)


def test_the_cli_reads_what_python_saves(cli, small_data, tmp_path):
    folder, sizes = small_data
    train, validation, test = backprop.load_mnist(folder)
    net = backprop.Network(sizes, seed=4)
    net.train(*train, epochs=1, eta=2.0, device="cpu")
    net.save(tmp_path / "py.safetensors")
    out = cli("eval", "--model", tmp_path / "py.safetensors", "--data", folder, "--set", "test", "--device", "cpu").stdout
    assert out.startswith(f"test: {net.evaluate(*test, device='cpu')} / {len(test[1])} correct"), out


def test_mnist_short_run_matches_the_cli(cli, mnist_dir, tmp_path):
    cli("train", "--data", mnist_dir, "--epochs", 1, "--device", "cpu", "--threads", 1, "--quiet",
        "--log", tmp_path / "cli.jsonl")
    expected = read_log(tmp_path / "cli.jsonl")
    train, validation, test = backprop.load_mnist(str(mnist_dir))
    assert train[0].shape == (50000, 784) and validation[0].shape == (10000, 784) and test[0].shape == (10000, 784)
    net = backprop.Network([784, 30, 10], seed=1)
    history = net.train(*train, epochs=1, validation=validation, test=test, device="cpu", threads=1)
    assert without_timing(history) == without_timing(expected)
    assert history[0]["test_correct"] > 8500  # one epoch of the book run: about 90%
    assert net.evaluate(*test, device="cpu") == history[0]["test_correct"]
