#!/usr/bin/python3
"""Training curves from `backprop train --log` files (matplotlib, Debian's python3-matplotlib):
test and validation accuracy, training cost, and the parameter-change norm per epoch.

    bench/plot_curves.py LOG.jsonl [LOG.jsonl ...] --out curves.png [--labels a,b]

Several logs (say a normal run and a --shuffle-labels run) share each panel.
"""
import argparse
import json
import os
import sys

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit("plot_curves.py: needs matplotlib: apt-get install python3-matplotlib (and run with /usr/bin/python3)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("logs", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--labels", help="comma-separated, one per log (default: file names)")
    a = p.parse_args()
    labels = a.labels.split(",") if a.labels else [os.path.splitext(os.path.basename(l))[0] for l in a.logs]
    if len(labels) != len(a.logs):
        sys.exit("plot_curves.py: --labels needs one label per log")
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for path, label in zip(a.logs, labels):
        with open(path) as f:
            rows = [json.loads(line) for line in f if line.strip()]
        if not rows:
            sys.exit(f"plot_curves.py: {path} has no epochs")
        epochs = [r["epoch"] for r in rows]
        axes[0].plot(epochs, [100 * r["test_correct"] / r["test_count"] for r in rows], label=f"{label}: test")
        if rows[0]["validation_count"]:
            axes[0].plot(epochs, [100 * r["validation_correct"] / r["validation_count"] for r in rows], "--",
                         label=f"{label}: validation")
        axes[1].plot(epochs, [r["training_cost"] for r in rows], label=label)
        axes[2].plot(epochs, [r["parameter_change"] for r in rows], label=label)
    for ax, title in zip(axes, ["accuracy (%)", "training cost", "parameter change per epoch (norm)"]):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"plot_curves.py: wrote {a.out}")


main()
