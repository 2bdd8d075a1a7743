"""The forward pass's rows per block on this machine, for ``fastnn tune``.

The Numba kernels' forward pass (``_numba_kernels.forward_into``) runs a large batch in
blocks of rows, every layer per block (``FORWARD_ROW_BLOCK``; 0 runs batches whole). The
best block depends on the CPU's caches and on how the BLAS in use runs products of that
many rows, so it is measured here: the plain kernels' forward of a few networks (those of
the peer race) over large batches, in both float dtypes, for each candidate block, in
interleaved rounds; the block with the smallest geometric mean of the median times wins.
"""

from __future__ import annotations

import time

import numpy as np

#: The blocks tried (rows; 0: whole batches).
CANDIDATES = (0, 128, 256, 512)
#: (layer sizes, batch) measured, sigmoid hidden layers and identity output.
CASES = (((64, 30, 10), 1024), ((100, 100, 50, 10), 1024), ((784, 256, 128, 10), 1024))
DTYPES = ("float32", "float64")


def measure(candidates=CANDIDATES, cases=CASES, dtypes=DTYPES, rounds=5, min_time=0.01,
            crossovers=None):
    """Time the forward pass per candidate block.

    Parameters
    ----------
    candidates : sequence of int
    cases : sequence of (tuple of int, int)
        Layer sizes and batch size.
    dtypes : sequence of str
    rounds : int
        Interleaved rounds (candidates rotated each round); the median is kept.
    min_time : float
        Seconds per timing at least.
    crossovers : sequence of 3 sequences of 3 int, or None
        The BLAS / loop crossovers the kernels use (default: those in force).

    Returns
    -------
    dict of int -> float
        Candidate -> geometric mean over cases and dtypes of the median seconds per call.
    """
    from fastnn.backends import _numba_kernels as kernels
    from fastnn.backends import tuning

    if crossovers is None:
        crossovers = tuning.crossovers()
    tail = [int(value) for triple in crossovers for value in triple]
    rng = np.random.default_rng(0)
    logs = {block: [] for block in candidates}
    for sizes, batch in cases:
        layer_sizes = np.array(sizes, dtype=np.int64)
        codes = ([kernels.ACTIVATION_CODES["sigmoid"]] * (len(sizes) - 2)
                 + [kernels.ACTIVATION_CODES["identity"]])
        n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        for dtype in dtypes:
            params = (rng.standard_normal(n_params) * 0.1).astype(dtype)
            X = rng.standard_normal((batch, sizes[0])).astype(dtype)
            Y = np.empty((batch, sizes[-1]), dtype=dtype)
            arguments = {block: np.array(codes + tail + [block], dtype=np.int64)
                         for block in candidates}
            counts = {block: calls_per_timing(kernels.forward_into,
                                    (params, layer_sizes, activation_codes, X, Y), min_time)
                      for block, activation_codes in arguments.items()}
            times = {block: [] for block in candidates}
            order = list(candidates)
            for round_ in range(rounds):
                shift = round_ % len(order)
                for block in order[shift:] + order[:shift]:
                    activation_codes = arguments[block]
                    start = time.perf_counter()
                    for _ in range(counts[block]):
                        kernels.forward_into(params, layer_sizes, activation_codes, X, Y)
                    times[block].append((time.perf_counter() - start) / counts[block])
            for block in candidates:
                logs[block].append(np.log(np.median(times[block])))
    return {block: float(np.exp(np.mean(values))) for block, values in logs.items()}


def best(times):
    """The candidate of :func:`measure`'s result with the smallest time (ties: the smaller
    block)."""
    return min(sorted(times), key=lambda block: times[block])


def calls_per_timing(call, arguments, min_time):
    """How many calls of ``call(*arguments)`` (after one untimed call) take ``min_time``
    seconds at least: doubled from 1, at most 65536."""
    call(*arguments)
    count = 1
    while True:
        start = time.perf_counter()
        for _ in range(count):
            call(*arguments)
        if time.perf_counter() - start >= min_time or count >= 1 << 16:
            return count
        count *= 2
