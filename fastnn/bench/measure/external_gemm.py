"""Which float32 products go to oneDNN on this machine, for ``fastnn tune``.

Where oneDNN is installed (:mod:`fastnn.backends._external_gemm`), the Numba kernels'
forward pass may send a float32 layer product to its sgemm instead of ``np.dot``, by a
rule of two thresholds: at least ``min_rows`` rows and ``min_weights`` weights
(``n_in * n_out``). Both libraries run each product of :data:`SHAPES` (the peer race's
layers, in the row counts a blocked forward pass sees) in interleaved rounds; the rule
kept is the one of :data:`ROWS` x :data:`WEIGHTS` whose choices cost the least in total
time relative to the faster library per product (ties: the rule sending fewer products
to oneDNN). Without oneDNN the rule is "never" and nothing is timed.

The gradient's two products (the weight gradient ``A_prev.T @ delta`` and the
back-propagated ``delta @ W.T``, oneDNN reading the transposed operand in place) have a
rule each, a threshold of multiply-adds (``m * n_in * n_out``): :func:`measure_gradient`
times both libraries on :data:`GRADIENT_SHAPES` (whole batches, as a gradient sees them)
and :func:`fit_gradient_rule` keeps, per product, the threshold among the measured
products' multiply-adds (or never) of the least total relative time, as above.
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
#: (rows, n_in, n_out) of the gradient's products timed (for a back delta, the layer's
#: weights are n_in x n_out and the product delta @ W.T is rows x n_out x n_in).
GRADIENT_SHAPES = tuple((rows, n_in, n_out)
                        for rows in (32, 256, 1024)
                        for n_in, n_out in ((64, 30), (30, 10), (100, 100), (100, 50),
                                            (50, 10), (784, 256), (256, 128), (128, 10)))
#: The gradient's products, in the order of the rule's two values.
GRADIENT_PRODUCTS = ("weight_gradient", "back_delta")
WEIGHTS = (0, 4096, 16384, 32768, 131072, NEVER)


def measure(shapes=SHAPES, rounds=5, min_time=0.002):
    """Median seconds per product through np.dot and through oneDNN.

    Returns
    -------
    list of dict
        Per shape: ``rows``, ``n_in``, ``n_out``, ``blas_s``, ``onednn_s``; empty where
        oneDNN is not installed.
    """
    from fastnn.backends import _numba_kernels as kernels

    points = []
    for rows, n_in, n_out, params, A in _operands(shapes):
        Z = np.empty((rows, n_out), dtype=np.float32)
        arguments = (A, params, np.int64(0), n_in, n_out, Z)
        calls = {"blas_s": (kernels._dense, arguments + (True,)),
                 "onednn_s": (kernels._external_dense, arguments)}
        points.append(dict(rows=rows, n_in=n_in, n_out=n_out,
                           **_interleaved(calls, rounds, min_time)))
    return points


def measure_gradient(shapes=GRADIENT_SHAPES, rounds=5, min_time=0.002):
    """Median seconds per gradient product through np.dot and through oneDNN.

    Returns
    -------
    list of dict
        Per product and shape: ``product`` (of :data:`GRADIENT_PRODUCTS`), ``rows``,
        ``n_in``, ``n_out``, ``blas_s``, ``onednn_s``; empty where oneDNN is not installed.
    """
    from fastnn.backends import _numba_kernels as kernels

    points = []
    rng = np.random.default_rng(1)
    for rows, n_in, n_out, params, A in _operands(shapes):
        delta = rng.standard_normal((rows, n_out)).astype(np.float32)
        grad = np.empty_like(params)
        previous = np.empty((rows, n_in), dtype=np.float32)
        start = np.int64(0)
        products = {
            "weight_gradient": {
                "blas_s": (kernels._weight_gradient,
                           (A, delta, grad, start, n_in, n_out, True)),
                "onednn_s": (kernels._external_weight_gradient,
                             (A, delta, grad, start, n_in, n_out))},
            "back_delta": {
                "blas_s": (kernels._back_delta,
                           (params, start, n_in, n_out, delta, previous, True)),
                "onednn_s": (kernels._external_back_delta,
                             (params, start, n_in, n_out, delta, previous))}}
        for product in GRADIENT_PRODUCTS:
            points.append(dict(product=product, rows=rows, n_in=n_in, n_out=n_out,
                               **_interleaved(products[product], rounds, min_time)))
    return points


def _operands(shapes):
    """``(rows, n_in, n_out, params, A)`` per shape: a float32 layer's flat weights and bias
    (n_in * n_out + n_out,) and an input (rows, n_in); nothing where oneDNN is not
    installed (there is nothing to compare)."""
    from fastnn.backends import _external_gemm

    if not _external_gemm.AVAILABLE:
        return
    rng = np.random.default_rng(0)
    for rows, n_in, n_out in shapes:
        yield (rows, n_in, n_out,
               rng.standard_normal(n_in * n_out + n_out).astype(np.float32),
               rng.standard_normal((rows, n_in)).astype(np.float32))


def _interleaved(calls, rounds, min_time):
    """``name -> median seconds per call`` of ``calls`` (``name -> (function,
    arguments)``), timed in alternating order round by round."""
    counts = {name: calls_per_timing(*call, min_time) for name, call in calls.items()}
    times = {name: [] for name in calls}
    for round_ in range(rounds):
        for name in (list(calls) if round_ % 2 == 0 else list(calls)[::-1]):
            function, call_arguments = calls[name]
            began = time.perf_counter()
            for _ in range(counts[name]):
                function(*call_arguments)
            times[name].append((time.perf_counter() - began) / counts[name])
    return {name: float(np.median(values)) for name, values in times.items()}


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



def fit_gradient_rule(points):
    """The ``(weight_gradient, back_delta)`` multiply-add thresholds for
    :func:`measure_gradient`'s points (see the module docstring); ``NEVER`` for a product
    without points or where oneDNN never wins."""
    rule = []
    for product in GRADIENT_PRODUCTS:
        mine = [point for point in points if point["product"] == product]
        candidates = sorted({NEVER} | {_multiply_adds(point) for point in mine}, reverse=True)
        best_threshold, best_cost = NEVER, None
        for threshold in candidates:  # from "never": ties keep the fewer sent to oneDNN
            cost = 0.0
            for point in mine:
                chosen = point["onednn_s"] if _multiply_adds(point) >= threshold \
                    else point["blas_s"]
                cost += chosen / min(point["onednn_s"], point["blas_s"])
            if best_cost is None or cost < best_cost - 1e-9:
                best_threshold, best_cost = threshold, cost
        rule.append(best_threshold)
    return tuple(rule)


def _multiply_adds(point):
    return point["rows"] * point["n_in"] * point["n_out"]
