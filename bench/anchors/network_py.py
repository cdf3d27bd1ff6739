"""Anchor 1a: network.py's algorithm as chapter 1 of Nielsen's book writes it, in NumPy.

Per-sample backpropagation inside update_mini_batch, column vectors, lists of (x, y) pairs.
Written here from the book's description (not copied); the same schedule as backprop's book run.
"""
import time

from common import load_mnist, parse_args, report

args = parse_args(__doc__)
import numpy as np  # noqa: E402  (after the thread settings)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


class Network:
    def __init__(self, sizes, rng):
        self.num_layers = len(sizes)
        self.biases = [rng.standard_normal((y, 1)) for y in sizes[1:]]
        self.weights = [rng.standard_normal((y, x)) for x, y in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a):
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(w @ a + b)
        return a

    def update_mini_batch(self, mini_batch, eta):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        nabla_b = [None] * len(self.biases)
        nabla_w = [None] * len(self.weights)
        activation, activations, zs = x, [x], []
        for b, w in zip(self.biases, self.weights):
            z = w @ activation + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = delta @ activations[-2].T
        for l in range(2, self.num_layers):
            delta = (self.weights[-l + 1].T @ delta) * sigmoid_prime(zs[-l])
            nabla_b[-l] = delta
            nabla_w[-l] = delta @ activations[-l - 1].T
        return nabla_b, nabla_w

    def evaluate(self, test_data):
        return sum(int(np.argmax(self.feedforward(x)) == y) for x, y in test_data)

    @staticmethod
    def cost_derivative(output_activations, y):
        return output_activations - y


def main():
    rng = np.random.default_rng(args.seed)
    tx, ty, vx, vy = load_mnist(args.data, args.train_size)
    onehot = np.eye(args.sizes[-1])
    training_data = [(x.reshape(-1, 1), onehot[y].reshape(-1, 1)) for x, y in zip(tx, ty)]
    test_data = [(x.reshape(-1, 1), y) for x, y in zip(vx, vy)]
    net = Network(args.sizes, rng)
    n = len(training_data)
    for epoch in range(args.epochs):
        order = rng.permutation(n)
        t0 = time.perf_counter()
        data = [training_data[i] for i in order]
        for k in range(0, n, args.batch):
            net.update_mini_batch(data[k:k + args.batch], args.eta)
        seconds = time.perf_counter() - t0
        report("network.py", epoch, seconds, net.evaluate(test_data), len(test_data))


main()
