"""Do fastnn's float32 forward and NumPy's float32 products keep their speed from one process
to the next, and does it depend on what ran before them?

Found while analysing issue 19's peer race (one thread, CPU-time clock, on a busy 2-core
machine): at 784-256-128-10 x 256, the float32 products ran at two speeds about 2.6x apart,
for fastnn's numba forward and for the same three products done with ``np.matmul`` alike,
the speed set per process by what had run before (in one process fastnn 10.3 ms and
np.matmul 10.1 ms; with a float64 network run first, fastnn 3.9 ms while np.matmul stayed at
10.1 ms; in another process with both dtypes' networks built first, 4.0 ms and 3.8 ms). The
cause is not pinned down here (memory placement of the arrays or of BLAS's buffers is a
suspect; the thread counts were 1 throughout). Until it is, a float32 loss at the large
network in one race is not evidence about fastnn's kernels. This script measures both
variants, each in its own fresh process, one thread, the process's CPU time as the clock
(robust to other jobs; ``--clock wall`` for wall time on a quiet machine):

    python benchmarks/float32_products_check.py
    python benchmarks/float32_products_check.py --sizes 100-100-50-10 --activation sigmoid

Each line: the variant, fastnn's median time, the ``np.matmul`` chain's (the same weights,
into preallocated outputs; bias and activations left out) and their ratio. Rerun it a few
times: the point is whether the times move between processes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import timeit

import numpy as np

VARIANTS = ("fresh", "after-float64")
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def measure(sizes, batch, activation, variant, clock, rounds=9, min_time=0.02):
    """fastnn's float32 forward and the matmul chain, in this process.

    Returns
    -------
    (float, float)
        Median seconds per call of fastnn's forward and of the matmul chain.
    """
    from fastnn import MLP
    from fastnn.reporting.machine import pinned_threads
    from fastnn.reporting.timing import calibrate, time_rounds

    with pinned_threads(1):
        X = np.random.default_rng(0).random((batch, sizes[0])).astype("float32")
        if variant == "after-float64":
            other = MLP(sizes, activation=activation, output_activation=activation,
                        dtype="float64", backend="numba", seed=0)
            other.forward(X.astype("float64"))
        net = MLP(sizes, activation=activation, output_activation=activation,
                  dtype="float32", backend="numba", seed=0)
        net.forward(X)
        weights = [w.copy() for w in net.weights]
        outs = [np.empty((batch, w.shape[1]), "float32") for w in weights]
        inputs = [X] + outs[:-1]

        def products():
            for A, W, out in zip(inputs, weights, outs):
                np.matmul(A, W, out=out)

        timers = [timeit.Timer(lambda: net.forward(X), timer=CLOCKS[clock]),
                  timeit.Timer(products, timer=CLOCKS[clock])]
        numbers = [calibrate(timer, min_time) for timer in timers]
        ours, theirs = time_rounds(timers, numbers, rounds, rotate=True)
    return float(np.median(ours)), float(np.median(theirs))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="784-256-128-10")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--activation", default="identity")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="cpu")
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split("-")]
    if args.variant:  # a child process: one variant
        ours, theirs = measure(sizes, args.batch, args.activation, args.variant, args.clock)
        print(f"{args.variant}: fastnn float32 forward {ours * 1e3:.3f} ms, np.matmul chain "
              f"{theirs * 1e3:.3f} ms, ratio {ours / theirs:.2f}")
        return 0
    print(f"{args.sizes} x {args.batch}, {args.activation}, clock {args.clock}, 1 thread")
    for variant in VARIANTS:
        subprocess.run([sys.executable, __file__, "--sizes", args.sizes, "--batch",
                        str(args.batch), "--activation", args.activation, "--clock",
                        args.clock, "--variant", variant], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
