"""backprop.sweep: the CLI's sweep from NumPy arrays, one record per network with the fields of its
last line of `backprop sweep --log`, and its history; the same networks and numbers as the CLI's."""
import time

import pytest

import backprop
from conftest import read_log
from test_same_as_cli import TIMING

GRID = dict(layers=[[64, 12, 4], [64, 6, 4]], cost=["quadratic", "cross-entropy"], eta=[0.5, 3.0], epochs=3,
            train_size=[300, 600], seeds=[1, 2])
FLAGS = ["--layers", "64,12,4", "64,6,4", "--cost", "quadratic,cross-entropy", "--eta", "0.5,3", "--epochs", 3,
         "--train-size", "300,600", "--seeds", "1,2"]


def timeless(record):
    return {k: v for k, v in record.items() if k not in TIMING and k != "history"}


@pytest.fixture(scope="module")
def split(small_data):
    return backprop.load_mnist(small_data[0])


def test_records_are_the_cli_sweep_log(cli, small_data, split, tmp_path):
    train, validation, test = split
    cli("sweep", "--data", small_data[0], *FLAGS, "--device", "cpu", "--threads", 2, "--log", tmp_path / "log.jsonl")
    lines = read_log(tmp_path / "log.jsonl")
    records = backprop.sweep(*train, validation=validation, test=test, device="cpu", threads=2, **GRID)

    assert [r["network"] for r in records] == list(range(32))
    for r in records:
        mine = [line for line in lines if line["network"] == r["network"]]
        assert timeless(r) == timeless(mine[-1])  # the same grid digest, data fingerprint, point, numbers
        assert [timeless(h) for h in r["history"]] == [
            {k: v for k, v in timeless(line).items() if k in r["history"][0]} for line in mine]


def test_a_network_of_the_sweep_is_network_train(split):
    train, validation, test = split
    [record] = backprop.sweep(*train, validation=validation, test=test, layers=[64, 12, 4], eta=0.5, epochs=2,
                              momentum=0.5, seeds=3)
    net = backprop.Network([64, 12, 4], seed=3)
    history = net.train(*train, validation=validation, test=test, eta=0.5, epochs=2, momentum=0.5, device="cpu")
    assert [timeless(h) for h in record["history"]] == [timeless(h) for h in history]
    assert record["point"] == {"--layers": "64,12,4", "--eta": "0.5", "--epochs": "2", "--momentum": "0.5",
                               "--seeds": "3"}


def test_progress_gets_each_network_and_may_stop_the_sweep(split):
    train, _, _ = split
    grid = dict(layers=[64, 6, 4], epochs=4, seeds=range(1, 401), threads=1)
    seen = []
    start = time.monotonic()
    backprop.sweep(*train, progress=lambda r: seen.append(r["network"]), **grid)
    whole = time.monotonic() - start
    assert sorted(seen) == list(range(400))

    def stop(record):
        raise RuntimeError("enough")

    start = time.monotonic()
    with pytest.raises(RuntimeError, match="enough"):
        backprop.sweep(*train, progress=stop, **grid)
    assert time.monotonic() - start < whole / 4  # stopped after its first network, not all 400


def test_layer_lists_may_be_written_as_the_cli_writes_them(split):
    train, _, _ = split
    records = backprop.sweep(*train, layers=["64,12,4", "64,6,4"], epochs=1)
    assert [r["point"]["--layers"] for r in records] == ["64,12,4", "64,6,4"]


@pytest.mark.parametrize("settings, error, message", [
    (dict(etta=[1.0]), TypeError, "unexpected keyword 'etta'; the settings it sweeps are layers, cost"),
    (dict(eta=[0.5, -1.0]), ValueError, "^eta must be > 0"),
    (dict(layers=[10, 4]), ValueError, "^layers 10,4 starts with 10 inputs but the images have 64 pixels"),
    (dict(seeds="5-1"), ValueError, "seeds"),
    (dict(train_size=[100, 100000]), ValueError, "train_size 100000 is not 1..600"),
    (dict(cost="hinge"), ValueError, "hinge"),
    (dict(batch=601), ValueError, "batch 601 exceeds the 600 training images"),
    (dict(momentum=True), ValueError, "not True/False"),
    (dict(schedule=["none", "plateau:2"]), ValueError, "^schedule and early_stop need validation data"),
])
def test_bad_settings_are_refused_before_training(split, settings, error, message):
    train, _, _ = split
    with pytest.raises(error, match=message):
        backprop.sweep(*train, **settings)
