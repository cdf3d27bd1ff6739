"""Training from NumPy arrays is the CLI's run: the same epoch records and the same parameters,
bit for bit, on the CPU backend."""
import re

import numpy as np
import pytest

import backprop
from conftest import read_log

TIMING = {"train_seconds", "eval_seconds", "samples_per_second"}


def without_timing(records):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def epoch_lines(stdout):
    """What `backprop train` prints from its first epoch on (its opening lines name the data), with
    the times and the saved model's name masked."""
    text = stdout[stdout.index("Epoch 0:"):]
    text = re.sub(r"train [0-9.]+ s \([0-9]+ samples/s\)", "train T s (R samples/s)", text)
    text = re.sub(r"[0-9.]+ s training in all, [0-9.]+ s per epoch", "T s training in all, T s per epoch", text)
    return re.sub(r"^saved \S+:", "saved MODEL:", text, flags=re.M)


# train()'s keyword for each of `backprop train`'s training tools, and how the flag is written.
TOOLS = {"momentum": "--momentum", "schedule": "--schedule", "early_stop": "--early-stop", "expand": "--expand"}


def tool_flags(settings):
    flags = []
    for name, flag in TOOLS.items():
        if name in settings:
            flags += [flag, settings[name]]
    if settings.get("shuffle_labels"):
        flags.append("--shuffle-labels")
    return flags


@pytest.mark.parametrize("settings", [
    dict(epochs=3, batch=7, eta=1.5, cost="quadratic", lmbda=0.0, init="normal", seed=5),
    dict(epochs=2, batch=10, eta=0.5, cost="cross-entropy", lmbda=2.0, init="scaled", seed=2),
    # chapter 3 and 6's tools: momentum, eta halved on plateaus, shifted images, early stopping
    dict(epochs=8, batch=5, eta=0.3, cost="log-likelihood", lmbda=0.5, init="scaled", seed=3, momentum=0.9,
         schedule="plateau:1", expand="shifts"),
    dict(epochs=12, batch=10, eta=4.0, cost="quadratic", lmbda=0.0, init="normal", seed=1, early_stop=2,
         shuffle_labels=True),
], ids=["book", "cross-entropy", "chapter-3-tools", "early-stop-shuffled"])
def test_epoch_records_lines_and_parameters_match_the_cli(cli, small_data, tmp_path, capsys, settings):
    folder, sizes = small_data
    s = settings
    printed = cli("train", "--data", folder, "--layers", ",".join(map(str, sizes)), "--epochs", s["epochs"], "--batch", s["batch"],
        "--eta", s["eta"], "--cost", s["cost"], "--lambda", s["lmbda"], "--init", s["init"], "--seed", s["seed"],
        *tool_flags(s), "--device", "cpu", "--threads", 1, "--quiet", "--log", tmp_path / "cli.jsonl",
        # the last epoch's parameters (--save writes the best-validation epoch's)
        "--checkpoint", tmp_path / "cli.safetensors", "--checkpoint-every", 1, "--save", tmp_path / "cli-model")
    expected = read_log(tmp_path / "cli.jsonl")

    train, validation, test = backprop.load_mnist(folder)
    net = backprop.Network(sizes, init=s["init"], seed=s["seed"])
    tools = {k: s[k] for k in [*TOOLS, "shuffle_labels"] if k in s}
    capsys.readouterr()
    history = net.train(*train, epochs=s["epochs"], batch=s["batch"], eta=s["eta"], cost=s["cost"], lmbda=s["lmbda"],
                        validation=validation, test=test, device="cpu", threads=1, verbose=True,
                        save=tmp_path / "py-model", **tools)

    assert epoch_lines(capsys.readouterr().out) == epoch_lines(printed.stdout)
    assert net.device == "cpu"
    assert [set(r) for r in history] == [set(r) for r in expected]  # the same fields as --log
    assert without_timing(history) == without_timing(expected)
    saved = backprop.Network.load(str(tmp_path / "cli.safetensors"))
    for got, want in zip(net.weights + net.biases, saved.weights + saved.biases):
        np.testing.assert_array_equal(got, want)
    # save= is --save: the best-validation epoch's parameters
    cli_model, py_model = backprop.Network.load(tmp_path / "cli-model"), backprop.Network.load(tmp_path / "py-model")
    assert py_model.metadata["best_validation_epoch"] == cli_model.metadata["best_validation_epoch"]
    for got, want in zip(py_model.weights + py_model.biases, cli_model.weights + cli_model.biases):
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


def test_mnist_chapter_3_recipe_matches_the_cli(cli, mnist_dir, tmp_path, capsys):
    """The README's recipe for the design's network (784-15-10 at 95.5-96%), its first epochs: the
    same records and the same printed lines."""
    recipe = dict(cost="log-likelihood", eta=0.03, momentum=0.9, schedule="plateau:3", expand="shifts")
    printed = cli("train", "--data", mnist_dir, "--layers", "784,15,10", "--init", "scaled", "--epochs", 2, "--cost", recipe["cost"],
        "--eta", recipe["eta"], "--momentum", recipe["momentum"], "--schedule", recipe["schedule"], "--expand",
        recipe["expand"], "--device", "cpu", "--threads", 1, "--quiet", "--log", tmp_path / "cli.jsonl")
    expected = read_log(tmp_path / "cli.jsonl")
    train, validation, test = backprop.load_mnist(str(mnist_dir))
    net = backprop.Network([784, 15, 10], init="scaled", seed=1)
    capsys.readouterr()
    history = net.train(*train, epochs=2, validation=validation, test=test, device="cpu", threads=1, verbose=True,
                        **recipe)
    assert without_timing(history) == without_timing(expected)
    lines = epoch_lines(capsys.readouterr().out)
    assert lines == epoch_lines(printed.stdout)
    assert lines.count("\n") == 3 and lines.startswith("Epoch 0: ") and "best test accuracy" in lines, lines
    assert history[-1]["test_correct"] > 9000  # two epochs of the recipe: above 90%
