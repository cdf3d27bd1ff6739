"""Checkpoints and resume from Python: the CLI's files, either way, and a resumed run that is the
uninterrupted one bit for bit on the CPU backend."""
import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest

import backprop
from conftest import read_log, synthetic, write_dataset
from test_same_as_cli import without_timing

# Momentum (velocities), a plateau schedule (its state) and validation (the best epoch): every
# part of a checkpoint matters to these runs.
RUN = dict(batch=10, eta=0.5, cost="cross-entropy", lmbda=0.5, momentum=0.9, schedule="plateau:1")
EPOCHS = 4


@pytest.fixture(scope="module")
def data(small_data):
    folder, sizes = small_data
    return folder, sizes, backprop.load_mnist(folder)


def parameters(net):
    return net.weights + net.biases


def assert_same_parameters(a, b):
    for got, want in zip(parameters(a), parameters(b)):
        np.testing.assert_array_equal(got, want)


@pytest.fixture(scope="module")
def uninterrupted(data):
    _, sizes, (train, validation, test) = data
    net = backprop.Network(sizes, init="scaled", seed=3)
    history = net.train(*train, epochs=EPOCHS, validation=validation, test=test, device="cpu", **RUN)
    return net, history


def train_part(sizes, split, checkpoint, epochs, **more):
    train, validation, test = split
    net = backprop.Network(sizes, init="scaled", seed=3)
    net.train(*train, epochs=epochs, validation=validation, test=test, device="cpu", checkpoint=checkpoint,
              checkpoint_every=1, **RUN, **more)
    return net


def resume(path, split, **more):
    train, validation, test = split
    net = backprop.Network.load(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no notice of other data or another backend
        history = net.train(*train, resume=path, validation=validation, test=test, device="cpu", **more)
    return net, history


def test_a_resumed_run_is_the_uninterrupted_one(data, uninterrupted, tmp_path):
    _, sizes, split = data
    train_part(sizes, split, tmp_path / "ck.safetensors", epochs=2)
    net, history = resume(tmp_path / "ck.safetensors", split, epochs=EPOCHS)
    assert without_timing(history) == without_timing(uninterrupted[1][2:])
    assert_same_parameters(net, uninterrupted[0])
    assert net.metadata["momentum"] == "0.90000000000000002" and net.metadata["epochs"] == str(EPOCHS)


def test_a_run_stopped_by_its_callback_writes_its_checkpoint_and_resumes_exactly(data, uninterrupted, tmp_path):
    _, sizes, split = data

    class Stop(Exception):
        pass

    def stop_after_first_epoch(record):
        raise Stop()

    with pytest.raises(Stop):
        train_part(sizes, split, tmp_path / "ck.safetensors", epochs=EPOCHS, progress=stop_after_first_epoch)
    stopped = backprop.Network.load(tmp_path / "ck.safetensors")
    assert stopped.metadata["kind"] == "checkpoint" and stopped.metadata["next_epoch"] == "1"
    net, history = resume(tmp_path / "ck.safetensors", split)  # epochs: the checkpoint's
    assert without_timing(history) == without_timing(uninterrupted[1][1:])
    assert_same_parameters(net, uninterrupted[0])


def test_the_cli_resumes_a_python_checkpoint(cli, data, uninterrupted, tmp_path):
    folder, sizes, split = data
    train_part(sizes, split, tmp_path / "py.safetensors", epochs=2)
    out = cli("train", "--resume", tmp_path / "py.safetensors", "--data", folder, "--epochs", EPOCHS, "--device",
              "cpu", "--threads", 1, "--quiet", "--log", tmp_path / "cli.jsonl", "--checkpoint",
              tmp_path / "cli.safetensors", "--checkpoint-every", EPOCHS)
    assert "warning" not in out.stderr and "notice" not in out.stderr, out.stderr  # the same data and backend
    assert without_timing(read_log(tmp_path / "cli.jsonl")) == without_timing(uninterrupted[1][2:])
    assert_same_parameters(backprop.Network.load(tmp_path / "cli.safetensors"), uninterrupted[0])


def test_python_resumes_a_cli_checkpoint(cli, data, uninterrupted, tmp_path):
    folder, sizes, split = data
    flags = ["--eta", RUN["eta"], "--cost", RUN["cost"], "--lambda", RUN["lmbda"], "--momentum", RUN["momentum"],
             "--schedule", RUN["schedule"], "--batch", RUN["batch"]]
    cli("train", "--data", folder, "--layers", ",".join(map(str, sizes)), "--init", "scaled", "--seed", 3, *flags,
        "--epochs", 2, "--device", "cpu", "--threads", 1, "--quiet", "--checkpoint", tmp_path / "cli.safetensors",
        "--checkpoint-every", 1)
    net, history = resume(tmp_path / "cli.safetensors", split, epochs=EPOCHS)
    assert without_timing(history) == without_timing(uninterrupted[1][2:])
    assert_same_parameters(net, uninterrupted[0])


def test_resume_refuses_what_the_cli_refuses(data, tmp_path):
    _, sizes, split = data
    train, validation, test = split
    ck = tmp_path / "ck.safetensors"
    net = train_part(sizes, split, ck, epochs=2)
    again = backprop.Network.load(ck)
    with pytest.raises(ValueError, match=r"^eta 3 conflicts with the checkpoint's 0.5 in .*leave that argument out"):
        again.train(*train, resume=ck, eta=3.0, epochs=3, validation=validation, device="cpu")
    with pytest.raises(ValueError, match=r"has already trained 2 epochs; pass epochs 3 or more to continue"):
        again.train(*train, resume=ck, validation=validation, device="cpu")
    with pytest.raises(ValueError, match=r"holds a 64,12,4 network, this one is 64,5,4"):
        backprop.Network([64, 5, 4]).train(*train, resume=ck, epochs=3, validation=validation, device="cpu")
    net.save(tmp_path / "model.safetensors")
    with pytest.raises(RuntimeError, match="is a trained model .* not a checkpoint"):
        again.train(*train, resume=tmp_path / "model.safetensors", epochs=3, validation=validation, device="cpu")
    with pytest.raises(ValueError, match="checkpoint_every needs checkpoint=PATH"):
        again.train(*train, epochs=1, checkpoint_every=1, device="cpu")
    with pytest.raises(ValueError, match=r"^checkpoint .* is a folder; refusing to write over it$"):
        again.train(*train, epochs=1, checkpoint=tmp_path, device="cpu")
    with pytest.raises(ValueError, match=r"^save .* is the same file as resume"):
        again.train(*train, resume=ck, save=ck, epochs=3, validation=validation, device="cpu")
    assert_same_parameters(again, backprop.Network.load(ck))  # refused: the network is as it was


def test_resume_on_other_data_warns_as_the_cli_does(data, tmp_path):
    _, sizes, split = data
    train, validation, test = split
    ck = tmp_path / "ck.safetensors"
    train_part(sizes, split, ck, epochs=1)
    net = backprop.Network.load(ck)
    other = (train[0][::-1].copy(), train[1][::-1].copy())
    with pytest.warns(RuntimeWarning, match="not the data .* was trained on"):
        net.train(*other, resume=ck, epochs=2, validation=validation, test=test, device="cpu")


def interrupted(train, checkpoint, fraction, accept, attempts=5):
    """Runs train(progress) with Ctrl-C (SIGINT) sent `fraction` of an epoch's training time after
    epoch 0 ended, until the checkpoint the interrupted run wrote stands where accept(metadata) wants
    it (a loaded machine may deliver the signal late); returns that metadata. The signal is a
    KeyboardInterrupt only while train() runs: a late one is ignored."""
    for _ in range(attempts):
        checkpoint.unlink(missing_ok=True)
        training, timers = [True], []

        def on_sigint(signum, frame):
            if training[0]:
                raise KeyboardInterrupt

        def progress(record):
            if record["epoch"] == 0:
                timers.append(threading.Timer(record["train_seconds"] * fraction, os.kill,
                                              (os.getpid(), signal.SIGINT)))
                timers[-1].start()

        previous = signal.signal(signal.SIGINT, on_sigint)
        stopped = False
        try:
            train(progress)
        except KeyboardInterrupt:
            stopped = True
        finally:
            training[0] = False
            for t in timers:
                t.cancel()
                t.join()
            time.sleep(0.05)  # a signal sent meanwhile reaches the handler above, which ignores it
            signal.signal(signal.SIGINT, previous)
        if stopped and checkpoint.exists():
            metadata = backprop.Network.load(checkpoint).metadata
            if accept(metadata):
                return metadata
    pytest.fail(f"no interruption where the test wants one in {attempts} attempts")


def test_ctrl_c_mid_epoch_writes_a_checkpoint_that_resumes_exactly(tmp_path):
    """Stopped a third of the way into epoch 1 (minibatches of 1: a chunk is 100 of 20,000)."""
    sizes, x, y = [64, 12, 4], *synthetic(20000, 64, 4, 5)
    run = dict(batch=1, eta=0.05, momentum=0.5, device="cpu")
    whole = backprop.Network(sizes, seed=2)
    whole.train(x, y, epochs=3, **run)
    ck = tmp_path / "ck.safetensors"
    interrupted(lambda progress: backprop.Network(sizes, seed=2).train(x, y, epochs=3, checkpoint=ck,
                                                                       progress=progress, **run),
                ck, 1 / 3, lambda md: int(md["next_sample"]) > 0)
    stopped = backprop.Network.load(ck)
    stopped.train(x, y, resume=ck, **run)
    assert_same_parameters(stopped, whole)


def test_the_cli_resumes_a_shifted_run_stopped_past_the_image_count(cli, tmp_path):
    """With expand="shifts" an epoch is 5 samples an image: a run stopped two thirds in stands
    past the image count, and that is still a place to resume from."""
    x, y = synthetic(3600, 64, 4, 6)
    folder = write_dataset(tmp_path / "data", x, y, *synthetic(100, 64, 4, 7), 8, 8)
    train, validation, test = backprop.load_mnist(folder)
    run = dict(batch=1, eta=0.05, expand="shifts", device="cpu")
    whole = backprop.Network([64, 12, 4], seed=2)
    whole.train(*train, epochs=3, validation=validation, test=test, **run)
    ck = tmp_path / "ck.safetensors"
    interrupted(lambda progress: backprop.Network([64, 12, 4], seed=2).train(
        *train, epochs=3, validation=validation, test=test, checkpoint=ck, progress=progress, **run),
        ck, 2 / 3, lambda md: int(md["next_sample"]) > 3000)
    cli("train", "--resume", ck, "--data", folder, "--device", "cpu", "--threads", 1, "--quiet", "--checkpoint",
        tmp_path / "end", "--checkpoint-every", 3)
    assert_same_parameters(backprop.Network.load(tmp_path / "end"), whole)
