#!/usr/bin/python3
"""Draws the hand-made digit pictures under tests/data/ (not from MNIST): strokes of a round brush
along a few polylines, at several sizes, dark-on-light and light-on-dark, grey and colour.
Run once with /usr/bin/python3 (numpy, matplotlib); the PNGs are committed."""
import os

import matplotlib.pyplot as plt
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

# Strokes in a unit box (x right, y down), one list of points per stroke.
STROKES = {
    "zero": [[(0.5, 0.08), (0.25, 0.2), (0.18, 0.5), (0.25, 0.8), (0.5, 0.92), (0.75, 0.8), (0.82, 0.5), (0.75, 0.2), (0.5, 0.08)]],
    "one": [[(0.35, 0.25), (0.55, 0.08), (0.55, 0.92)]],
    "two": [[(0.22, 0.28), (0.35, 0.12), (0.6, 0.1), (0.76, 0.25), (0.72, 0.45), (0.22, 0.9), (0.82, 0.9)]],
    "three": [[(0.22, 0.15), (0.7, 0.12), (0.45, 0.45), (0.75, 0.6), (0.7, 0.85), (0.45, 0.92), (0.2, 0.82)]],
    "four": [[(0.6, 0.92), (0.6, 0.08), (0.15, 0.65), (0.85, 0.65)]],
    "seven": [[(0.18, 0.12), (0.82, 0.12), (0.42, 0.92)]],
}

# name, digit, width, height, paper colour, ink colour, brush radius as a share of the height
PICTURES = [
    ("seven-64.png", "seven", 64, 64, (1, 1, 1), (0, 0, 0), 0.06),
    ("three-blue-120x90.png", "three", 120, 90, (0.96, 0.93, 0.85), (0.1, 0.2, 0.6), 0.05),
    ("one-28-inverse.png", "one", 28, 28, (0, 0, 0), (1, 1, 1), 0.07),
    ("four-200.png", "four", 200, 200, (0.85, 0.85, 0.85), (0.2, 0.2, 0.2), 0.05),
    ("zero-100x140.png", "zero", 100, 140, (1, 1, 1), (0.1, 0.1, 0.1), 0.05),
    ("two-red-80.png", "two", 80, 80, (1, 1, 0.95), (0.7, 0.1, 0.1), 0.06),
]


def draw(digit, w, h, paper, ink, radius):
    img = np.ones((h, w, 3)) * np.array(paper)
    yy, xx = np.mgrid[0:h, 0:w]
    box = min(w, h) * 0.8  # the digit's box, centred
    ox, oy = (w - box * 0.7) / 2, (h - box) / 2
    r = radius * h
    for stroke in STROKES[digit]:
        for (x0, y0), (x1, y1) in zip(stroke[:-1], stroke[1:]):
            for t in np.linspace(0, 1, 60):
                cx, cy = ox + (x0 + t * (x1 - x0)) * box * 0.7, oy + (y0 + t * (y1 - y0)) * box
                mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
                img[mask] = ink
    return img


for name, digit, w, h, paper, ink, radius in PICTURES:
    plt.imsave(os.path.join(HERE, name), draw(digit, w, h, paper, ink, radius))
print("drew", len(PICTURES), "pictures")
