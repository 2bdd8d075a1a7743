"""Steady-state A/B of two trees (issue 18's target 5): per-call times of the numba and
numpy backends' model calls (``--suite calls``) or of the numba backend's one-epoch
``fit`` per optimizer and batch size and its ``loss`` (``--suite epochs``), or of its
``gradients`` and ``train_step`` at 784-256-128-10 in both dtypes (``--suite steps``), fresh
processes alternated (old, new, new, old, ...), the ratio new/old of medians, with
quartiles over the rounds.

    python benchmarks/steady_ab.py --old /work/main --new . --rounds 6
    python benchmarks/steady_ab.py --old /work/main --new . --suite epochs
    python benchmarks/steady_ab.py --old /work/main --new . --suite steps

Each tree compiles into a cache directory of its own (a first round pays the compile;
it is not timed). Threads are pinned to one (BLAS and Numba) and recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "NUMBA_NUM_THREADS": "1"}

CALLS = r"""
import json, sys, timeit
import numpy as np
import fastnn
rng = np.random.default_rng(0)
results = {}
for backend in ("numba", "numpy"):
    net = fastnn.MLP([100, 100, 50, 10], backend=backend, seed=0)
    for rows in (1, 32, 256):
        X = rng.random((rows, 100))
        T = rng.random((rows, 10))
        cases = {"forward": lambda: net.forward(X), "gradients": lambda: net.gradients(X, T),
                 "train_step": lambda: net.train_step(X, T, 1e-9)}
        for op, call in cases.items():
            call()
            number = max(1, 4000 // rows)
            best = min(timeit.repeat(call, number=number, repeat=5)) / number
            results[f"{backend} {op} x{rows}"] = best
print(json.dumps(results))
"""


# The numba backend's one-epoch fit per optimizer and batch size, and loss: what the model
# calls above do not time (the epoch kernels).
EPOCHS = r"""
import json, timeit
import numpy as np
import fastnn
rng = np.random.default_rng(0)
X = rng.random((1024, 100))
T = np.eye(10)[rng.integers(0, 10, 1024)]
results = {}
for activation, output, loss in (("sigmoid", "sigmoid", "mse"),
                                 ("relu", "softmax", "cross_entropy")):
    net = fastnn.MLP([100, 100, 50, 10], activation=activation, output_activation=output,
                     loss=loss, backend="numba", seed=0)
    for optimizer in ("sgd", "adam"):
        for batch_size in (1, 32):
            trained = net.copy()
            def call():
                trained.fit(X, T, epochs=1, batch_size=batch_size, optimizer=optimizer,
                            learning_rate=1e-9, seed=0)
            call()
            number = 1 if batch_size == 1 else 4
            best = min(timeit.repeat(call, number=number, repeat=5)) / number
            results[f"{activation} {optimizer} fit b{batch_size}"] = best
    for rows in (1, 256):
        call = lambda: net.loss(X[:rows], T[:rows])
        call()
        number = max(1, 4000 // rows)
        results[f"{activation} loss x{rows}"] = min(
            timeit.repeat(call, number=number, repeat=5)) / number
print(json.dumps(results))
"""

# The numba backend's gradients and train_step of the race's large network in both dtypes:
# the training step's update (fastnn/backends/_numba_step.py) against its gradient.
STEPS = r"""
import json, timeit
import numpy as np
import fastnn
rng = np.random.default_rng(0)
results = {}
for dtype in ("float32", "float64"):
    net = fastnn.MLP([784, 256, 128, 10], backend="numba", dtype=dtype, seed=0)
    for rows in (1, 32, 256):
        X = rng.random((rows, 784)).astype(dtype)
        T = rng.random((rows, 10)).astype(dtype)
        for op, call in {"gradients": lambda: net.gradients(X, T),
                         "train_step": lambda: net.train_step(X, T, 1e-9)}.items():
            call()
            number = max(1, 400 // rows)
            best = min(timeit.repeat(call, number=number, repeat=5)) / number
            results[f"{dtype} {op} x{rows}"] = best
print(json.dumps(results))
"""

SUITES = {"calls": CALLS, "epochs": EPOCHS, "steps": STEPS}


def run(tree, cache, timing):
    env = dict(os.environ, PYTHONPATH=str(tree), NUMBA_CACHE_DIR=str(cache),
               FASTNN_TIERED="0", **THREADS)
    out = subprocess.run([sys.executable, "-c", timing], env=env, capture_output=True,
                         text=True, check=True, cwd=cache, timeout=3600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", required=True)
    parser.add_argument("--new", default=".")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--suite", choices=sorted(SUITES), default="calls",
                        help="calls: forward, gradients, train_step of both backends; "
                             "epochs: numba's one-epoch fit per optimizer, and loss; "
                             "steps: numba's gradients and train_step at 784-256-128-10")
    args = parser.parse_args(argv)
    timing = SUITES[args.suite]
    trees = {"old": Path(args.old).resolve(), "new": Path(args.new).resolve()}
    with tempfile.TemporaryDirectory() as work:
        caches = {label: Path(work) / label for label in trees}
        for label, tree in trees.items():
            caches[label].mkdir()
            run(tree, caches[label], timing)  # compiles; not timed
        samples = {label: [] for label in trees}
        for round_ in range(args.rounds):
            order = ["old", "new"] if round_ % 2 == 0 else ["new", "old"]
            for label in order:
                samples[label].append(run(trees[label], caches[label], timing))
    print(f"threads pinned: {THREADS}")
    print(f"{'case':28s} {'new/old':>8s}  [q1, q3] of per-round ratios")
    for case in samples["old"][0]:
        ratios = [new[case] / old[case] for old, new in zip(samples["old"], samples["new"])]
        q1, median, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
        print(f"{case:28s} {median:8.3f}  [{q1:.3f}, {q3:.3f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
