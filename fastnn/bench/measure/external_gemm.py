"""Which float32 forward products go to oneDNN on this machine, for ``fastnn tune``.

Where oneDNN is installed (:mod:`fastnn.backends._external_gemm`), the Numba kernels'
forward pass may send a float32 layer product to its sgemm instead of ``np.dot``, by a
rule of two thresholds: at least ``min_rows`` rows and ``min_weights`` weights
(``n_in * n_out``). Both libraries run each product of :data:`SHAPES` (the peer race's
layers, in the row counts a blocked forward pass sees) in interleaved rounds; the rule
kept is the one of :data:`ROWS` x :data:`WEIGHTS` whose choices cost the least in total
time relative to the faster library per product (ties: the rule sending fewer products
to oneDNN). Without oneDNN the rule is "never" and nothing is timed.
"""

from __future__ import annotations

import time

import numpy as np

from fastnn.bench.measure.row_block import calls_per_timing

NEVER = 2 ** 62
#: (rows, n_in, n_out) timed.
SHAPES = tuple((rows, n_in, n_out)
               for rows in (32, 256, 512)
               for n_in, n_out in ((64, 30), (30, 10), (100, 100), (100, 50), (50, 10),
                                   (784, 256), (256, 128), (128, 10)))
ROWS = (1, 16, 64, 256, NEVER)
WEIGHTS = (0, 4096, 16384, 32768, 131072, NEVER)


def measure(shapes=SHAPES, rounds=5, min_time=0.002):
    """Median seconds per product through np.dot and through oneDNN.

    Returns
    -------
    list of dict
        Per shape: ``rows``, ``n_in``, ``n_out``, ``blas_s``, ``onednn_s``; empty where
        oneDNN is not installed.
    """
    from fastnn.backends import _external_gemm
    from fastnn.backends import _numba_kernels as kernels

    if not _external_gemm.AVAILABLE:
        return []
    rng = np.random.default_rng(0)
    points = []
    for rows, n_in, n_out in shapes:
        params = rng.standard_normal(n_in * n_out + n_out).astype(np.float32)
        A = rng.standard_normal((rows, n_in)).astype(np.float32)
        Z = np.empty((rows, n_out), dtype=np.float32)
        arguments = (A, params, np.int64(0), n_in, n_out, Z)
        calls = {"blas_s": (kernels._dense, arguments + (True,)),
                 "onednn_s": (kernels._external_dense, arguments)}
        counts = {name: calls_per_timing(*call, min_time) for name, call in calls.items()}
        times = {name: [] for name in calls}
        for round_ in range(rounds):
            for name in (list(calls) if round_ % 2 == 0 else list(calls)[::-1]):
                began = time.perf_counter()
                function, call_arguments = calls[name]
                for _ in range(counts[name]):
                    function(*call_arguments)
                times[name].append((time.perf_counter() - began) / counts[name])
        points.append(dict(rows=rows, n_in=n_in, n_out=n_out,
                           **{name: float(np.median(values)) for name, values in times.items()}))
    return points


def fit_rule(points):
    """The ``(min_rows, min_weights)`` rule for :func:`measure`'s points (see the module
    docstring); ``(NEVER, NEVER)`` without points or where oneDNN never wins."""
    best_rule, best_cost = (NEVER, NEVER), None
    for min_weights in reversed(WEIGHTS):
        for min_rows in reversed(ROWS):
            cost = 0.0
            for point in points:
                external = (point["rows"] >= min_rows
                            and point["n_in"] * point["n_out"] >= min_weights)
                chosen = point["onednn_s"] if external else point["blas_s"]
                cost += chosen / min(point["onednn_s"], point["blas_s"])
            if best_cost is None or cost < best_cost - 1e-9:
                best_rule, best_cost = (min_rows, min_weights), cost
    if best_rule[0] >= NEVER or best_rule[1] >= NEVER:  # sends nothing to oneDNN
        return (NEVER, NEVER)
    return best_rule

