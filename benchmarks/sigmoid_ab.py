"""In-process A/B of the numpy backend's sigmoid: the NumPy form (used until SciPy is
imported) vs SciPy's expit (before, and after SciPy is imported), alone and inside a
numpy-backend forward / gradients, interleaved, medians.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/sigmoid_ab.py
"""

from __future__ import annotations

import statistics
import timeit

import numpy as np
from scipy.special import expit

import fastnn
from fastnn import functions


def main():
    rng = np.random.default_rng(0)
    print(f"{'case':34s} {'new/old median':>15s}  [q1, q3]")
    for sizes, batch in (((100, 100, 50, 10), 1), ((100, 100, 50, 10), 32),
                         ((100, 100, 50, 10), 256), ((784, 128, 10), 128)):
        net = fastnn.MLP(list(sizes), backend="numpy", seed=0)
        X = rng.random((batch, sizes[0]))
        T = rng.random((batch, sizes[-1]))
        Z = rng.normal(0, 4, (batch, sizes[1]))
        cases = {"sigmoid alone": lambda Z=Z: functions.sigmoid(Z),
                 "forward": lambda net=net, X=X: net.forward(X),
                 "gradients": lambda net=net, X=X, T=T: net.gradients(X, T)}
        for label, call in cases.items():
            ratios = []
            for _ in range(15):
                times = {}
                for variant in ("old", "new"):
                    if variant == "old":
                        _swap(expit)
                    number = max(1, int(2000 / batch))
                    times[variant] = min(timeit.repeat(call, number=number, repeat=3)) / number
                    _swap(None)
                ratios.append(times["new"] / times["old"])
            q1, median, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
            print(f"{label + f' {sizes} x{batch}':34s} {median:15.3f}  [{q1:.3f}, {q3:.3f}]")


_NEW = functions._numpy_sigmoid


def _swap(replacement):
    """Point the sigmoid entry's NumPy function at ``replacement`` (None: the new one)."""
    entry = functions.ACTIVATIONS["sigmoid"]
    object.__setattr__(entry, "function", replacement or _NEW)
    functions.sigmoid = replacement or _NEW


if __name__ == "__main__":
    main()
