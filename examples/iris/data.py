"""Labelled iris-like data for the closed loop (training.data, evaluation.data): rows drawn
around the three species' measured means, in the world before a drift or after it, when a new
instrument reads every petal 1.5 cm longer and 0.8 cm wider. A model trained before the drift
calls almost every flower of the world after it virginica; one trained after it is right again.

Usage: data.py before|after ROWS SEED > data.csv (a header, then sepal_length, sepal_width,
petal_length, petal_width, species 0-2). Plain Python: it runs where the tests and the demo
run, without NumPy or scikit-learn."""

from __future__ import annotations

import random
import sys

# Per species: the means and standard deviations of scikit-learn's iris (Fisher's data).
SPECIES = [
    ((5.01, 3.43, 1.46, 0.25), (0.35, 0.38, 0.17, 0.11)),
    ((5.94, 2.77, 4.26, 1.33), (0.52, 0.31, 0.47, 0.20)),
    ((6.59, 2.97, 5.55, 2.03), (0.64, 0.32, 0.55, 0.27)),
]
DRIFT = (0.0, 0.0, 1.5, 0.8)  # what the new instrument adds to each measurement
HEADER = "sepal_length,sepal_width,petal_length,petal_width,species"


def rows(world: str, n: int, seed: int) -> list[tuple[float, float, float, float, int]]:
    rng = random.Random(seed)
    shift = DRIFT if world == "after" else (0.0, 0.0, 0.0, 0.0)
    out = []
    for i in range(n):
        label = i % 3
        mean, std = SPECIES[label]
        f = [max(0.1, rng.gauss(m, s)) + d for m, s, d in zip(mean, std, shift, strict=True)]
        out.append((round(f[0], 2), round(f[1], 2), round(f[2], 2), round(f[3], 2), label))
    return out


def csv(world: str, n: int, seed: int) -> bytes:
    lines = [HEADER] + [",".join(str(v) for v in r) for r in rows(world, n, seed)]
    return ("\n".join(lines) + "\n").encode()


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("before", "after"):
        raise SystemExit(__doc__)
    sys.stdout.buffer.write(csv(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
