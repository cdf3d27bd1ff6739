"""Anchor 1b: network.py with the fully matrix-based mini-batch backpropagation of chapter 2's
exercise: the whole minibatch as the columns of one matrix, one matrix product per layer.
The strongest plain-CPU anchor we know. Written here, not copied.
"""
import time

from common import load_mnist, parse_args, report

args = parse_args(__doc__)
import numpy as np  # noqa: E402


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def main():
    rng = np.random.default_rng(args.seed)
    tx, ty, vx, vy = load_mnist(args.data, args.train_size)
    sizes = args.sizes
    biases = [rng.standard_normal((y, 1)) for y in sizes[1:]]
    weights = [rng.standard_normal((y, x)) for x, y in zip(sizes[:-1], sizes[1:])]
    Y_all = np.eye(sizes[-1])[ty]                 # (n, 10): rows gather faster than columns
    n = tx.shape[0]
    for epoch in range(args.epochs):
        order = rng.permutation(n)
        t0 = time.perf_counter()
        for k in range(0, n, args.batch):
            idx = order[k:k + args.batch]
            X, Y, m = tx[idx].T, Y_all[idx].T, len(idx)
            activations = [X]
            for b, w in zip(biases, weights):
                activations.append(sigmoid(w @ activations[-1] + b))
            a = activations[-1]
            delta = (a - Y) * a * (1 - a)
            for l in range(len(weights) - 1, -1, -1):
                nabla_w = delta @ activations[l].T
                nabla_b = delta.sum(axis=1, keepdims=True)
                if l > 0:
                    a_prev = activations[l]
                    delta = (weights[l].T @ delta) * a_prev * (1 - a_prev)
                weights[l] -= (args.eta / m) * nabla_w
                biases[l] -= (args.eta / m) * nabla_b
        seconds = time.perf_counter() - t0
        out = vx.T
        for b, w in zip(biases, weights):
            out = sigmoid(w @ out + b)
        report("numpy-matrix", epoch, seconds, (out.argmax(axis=0) == vy).sum(), len(vy))


main()
