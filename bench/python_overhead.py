#!/usr/bin/python3
"""The Python module's overhead on a training run: the wall time of Network.train() against the
time the trainer itself reports (the SGD steps and the evaluations of every epoch). The rest is
an upper bound on what Python adds (argument checks and conversion, the per-chunk signal checks,
the epoch records) plus the trainer's own bookkeeping between epochs, which the CLI pays too.

    PYTHONPATH=build/python /usr/bin/python3 bench/python_overhead.py [--epochs 30] [--data data/mnist]
"""
import argparse
import time

import backprop


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--data", default=None)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    train, validation, test = backprop.load_mnist(args.data)
    net = backprop.Network([784, 30, 10], seed=1)
    start = time.perf_counter()
    history = net.train(*train, epochs=args.epochs, validation=validation, test=test, device="cpu",
                        threads=args.threads)
    wall = time.perf_counter() - start
    inside = sum(r["train_seconds"] + r["eval_seconds"] for r in history)
    print(f"{args.epochs} epochs: train() {wall:.3f} s, trainer's steps and evaluations {inside:.3f} s, "
          f"the rest {wall - inside:.4f} s = {100 * (wall - inside) / wall:.2f}% of the call; "
          f"best test {max(r['test_correct'] for r in history)} / {history[0]['test_count']}")


if __name__ == "__main__":
    main()
