"""Two trees' numba forward and gradients per activation and dtype (issue 19: the
activations vectorised in their own precision), fresh processes alternated.

Each round runs one process per tree (old, new, new, old, ...), each timing every point
as the median of 7 repeats; a point's figure is its fastest round's median, and the ratio
is new / old of those. Threads are pinned to one (BLAS and Numba); each tree compiles
into a cache directory of its own, outside the timed calls.

    python benchmarks/activation_dtype_ab.py --old /path/to/old/tree --new . --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "NUMBA_NUM_THREADS": "1", "FASTNN_TIERED": "0"}

# (layer sizes, hidden activation) x dtype x batch x op, timed in one process.
TIMING = r"""
import json, time
import numpy as np
import fastnn
results = {}
cases = (([100, 100, 50, 10], "sigmoid"), ([100, 100, 50, 10], "tanh"),
         ([784, 256, 128, 10], "sigmoid"), ([64, 30, 10], "sigmoid"))
for sizes, activation in cases:
    for dtype in ("float32", "float64"):
        for batch in (1, 256):
            net = fastnn.MLP(sizes, activation=activation, backend="numba", dtype=dtype, seed=0)
            X = np.random.default_rng(0).random((batch, sizes[0])).astype(dtype)
            T = np.eye(sizes[-1], dtype=dtype)[np.arange(batch) % sizes[-1]]
            for op, call in (("forward", lambda: net.forward(X)),
                             ("gradients", lambda: net.gradients(X, T))):
                call()
                started = time.perf_counter()
                call()
                number = max(1, int(0.05 / max(time.perf_counter() - started, 1e-7)))
                times = []
                for _ in range(7):
                    started = time.perf_counter()
                    for _ in range(number):
                        call()
                    times.append((time.perf_counter() - started) / number)
                name = f"{op} {'-'.join(map(str, sizes))} {activation} {dtype} x{batch}"
                results[name] = float(np.median(times))
print(json.dumps(results))
"""


def run_tree(tree, cache):
    """One process's medians (seconds per call) for ``tree``."""
    env = dict(os.environ, PYTHONPATH=tree, NUMBA_CACHE_DIR=cache, **THREADS)
    output = subprocess.run([sys.executable, "-c", TIMING], env=env, cwd=tempfile.gettempdir(),
                            capture_output=True, text=True, check=True).stdout
    return json.loads(output)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="the tree to compare with")
    parser.add_argument("--new", default=".", help="the tree under test (default .)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    trees = {"old": os.path.abspath(args.old), "new": os.path.abspath(args.new)}
    samples = {"old": [], "new": []}
    with tempfile.TemporaryDirectory() as caches:
        for round_index in range(args.rounds):
            order = ("old", "new") if round_index % 2 == 0 else ("new", "old")
            for label in order:
                samples[label].append(run_tree(trees[label], os.path.join(caches, label)))
    print(f"threads: {THREADS}")
    for name in samples["old"][0]:
        old = min(sample[name] for sample in samples["old"])
        new = min(sample[name] for sample in samples["new"])
        print(f"{name:48s} old {old * 1e6:9.1f} us  new {new * 1e6:9.1f} us  "
              f"new/old {new / old:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
