# The notebook example of docs/python.md: train 784-30-10 for 3 epochs from NumPy arrays, plot the
# curves, show one hidden neuron's weights as a 28x28 tile.
#   PYTHONPATH=build/python /usr/bin/python3 python/example.py   (writes python-example.png)
import backprop
import matplotlib
matplotlib.use("Agg")  # in a notebook, leave this out and the figure shows inline
import matplotlib.pyplot as plt

(x_train, y_train), (x_val, y_val), (x_test, y_test) = backprop.load_mnist("data/mnist")
net = backprop.Network([784, 30, 10], init="normal", seed=1)
history = net.train(x_train, y_train, epochs=3, batch=10, eta=3.0, cost="quadratic",
                    validation=(x_val, y_val), test=(x_test, y_test), device="cpu", threads=1)
for r in history:
    print(f"Epoch {r['epoch']}: {r['test_correct']} / {r['test_count']}, cost {r['training_cost']:.5f}, "
          f"validation {r['validation_correct']} / {r['validation_count']}")
print("predicted", net.predict(x_test[:8]).argmax(axis=1), "true", y_test[:8])

fig, (curves, tile) = plt.subplots(1, 2, figsize=(9, 3.5))
epochs = [r["epoch"] for r in history]
curves.plot(epochs, [r["test_correct"] / r["test_count"] for r in history], "o-", label="test")
curves.plot(epochs, [r["validation_correct"] / r["validation_count"] for r in history], "s-", label="validation")
curves.set_xticks(epochs), curves.set_xlabel("epoch"), curves.set_ylabel("accuracy"), curves.legend()
w = net.weights[0][0].reshape(28, 28)  # hidden neuron 0's 784 incoming weights
limit = abs(w).max()
tile.imshow(w, cmap="bwr_r", vmin=-limit, vmax=limit)
tile.set_title("hidden neuron 0's weights"), tile.axis("off")
fig.savefig("python-example.png", dpi=80, bbox_inches="tight")
