#!/usr/bin/python3
"""Charts from one or more `backprop bench --json` reports (matplotlib, Debian's python3-matplotlib):

  samples-per-second.png  samples/s per configuration and backend, log scale
  epoch-vs-width.png      seconds per epoch of 784-H-10 at mini-batch 10 against the hidden width H

    bench/plot.py REPORT.json [REPORT.json ...] [--out DIR]

With several reports (say, this machine's and a GPU machine's) each backend is labelled with its
report's file name.
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
    sys.exit("plot.py: needs matplotlib: apt-get install python3-matplotlib (and run with /usr/bin/python3)")


def load(paths):
    reports = []
    for path in paths:
        with open(path) as f:
            report = json.load(f)
        if not report.get("rows") or "backend" not in report["rows"][0]:
            print(f"plot.py: skipping {path}: not a `backprop bench --json` report", file=sys.stderr)
            continue
        reports.append((path, report))
    rows = []
    for path, report in reports:
        tag = os.path.splitext(os.path.basename(path))[0] if len(reports) > 1 else ""
        for r in report["rows"]:
            r = dict(r)
            r["series"] = f"{r['backend']} ({tag})" if tag else r["backend"]
            rows.append(r)
    return rows


def samples_per_second(rows, out):
    configs = list(dict.fromkeys(r["config"] for r in rows if not r["config"].startswith("width-")))
    series = list(dict.fromkeys(r["series"] for r in rows))
    width = 0.8 / max(1, len(series))
    fig, ax = plt.subplots(figsize=(9, 4.8))
    for i, s in enumerate(series):
        xs, ys = [], []
        for c, config in enumerate(configs):
            match = [r for r in rows if r["series"] == s and r["config"] == config]
            if match:
                xs.append(c + (i - (len(series) - 1) / 2) * width)
                ys.append(match[0]["samples_per_second"])
        ax.bar(xs, ys, width, label=s)
    ax.set_yscale("log")
    ax.set_xticks(range(len(configs)))
    ax.set_xticklabels([f"{c}\n{next(r['layers'] for r in rows if r['config'] == c)}" for c in configs], fontsize=8)
    ax.set_ylabel("training samples per second (log)")
    ax.set_title("backprop bench: training throughput")
    ax.legend()
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "samples-per-second.png"), dpi=120)


def epoch_vs_width(rows, out):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for s in dict.fromkeys(r["series"] for r in rows):
        points = sorted({int(r["layers"].split(",")[1]): r["epoch_seconds"] for r in rows
                         if r["series"] == s and r["batch"] == 10 and len(r["layers"].split(",")) == 3}.items())
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=s)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("hidden width H (784-H-10, mini-batch 10)")
    ax.set_ylabel("seconds per training epoch (log)")
    ax.set_title("backprop bench: epoch time against hidden width")
    ax.legend()
    ax.grid(which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "epoch-vs-width.png"), dpi=120)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("reports", nargs="+")
    p.add_argument("--out", default=".")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rows = load(a.reports)
    samples_per_second(rows, a.out)
    epoch_vs_width(rows, a.out)
    print(f"plot.py: wrote samples-per-second.png and epoch-vs-width.png in {a.out}")


main()
