"""Measure where BLAS (``np.dot`` inside the Numba kernels) beats their fused loops.

The kernels send each of a layer's three matrix products (the forward layer, the
weight gradient, the back-propagated delta) to BLAS or to loops by a rule with three
numbers per product (``_numba_kernels._use_blas``)::

    one row:   BLAS if n_in * n_out >= single_row
    m rows:    BLAS if m >= min_rows and m * n_in * n_out >= min_multiply_adds

:func:`measure` times both paths of each product on a ladder of layer shapes and row
counts (the kernels' own product functions, called with the path forced), and
:func:`fit_rule` picks, per product, the three numbers that lose the least time over
the measured points: the sum over points of ``log(time of the path the rule picks /
time of the faster path)``. On a tie the loops win: they add in the reference's order.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from fastnn.backends.tuning import NEVER, PRODUCTS
from fastnn.reporting.timing import interleaved

# Layer shapes (n_in, n_out), narrowing as MLP layers do: 64 to 65536 multiply-adds.
SHAPES = ((8, 8), (16, 16), (32, 32), (64, 32), (64, 64), (128, 64), (128, 128), (256, 128),
          (256, 256))
ROWS = (1, 2, 4, 8, 32, 128)
# Points whose loops would take more than about a millisecond are left out: BLAS wins
# them by far, and they would dominate the run's time.
MAX_MULTIPLY_ADDS = 1 << 21


@dataclass(frozen=True)
class Point:
    """Both paths of one product on one shape.

    Attributes
    ----------
    product : str
        One of :data:`fastnn.backends.tuning.PRODUCTS`.
    rows, n_in, n_out : int
    loops_s, blas_s : float
        Median seconds per call.
    """

    product: str
    rows: int
    n_in: int
    n_out: int
    loops_s: float
    blas_s: float

    @property
    def multiply_adds(self):
        return self.rows * self.n_in * self.n_out

    def as_dict(self):
        return {"product": self.product, "rows": self.rows, "n_in": self.n_in,
                "n_out": self.n_out, "loops_s": self.loops_s, "blas_s": self.blas_s}


def measure(shapes=SHAPES, rows=ROWS, rounds=7, min_time=0.003, seed=0):
    """Time the loop and BLAS paths of every product on every shape and row count.

    Call it with the BLAS threads pinned as the kernels will run (and SciPy's BLAS,
    which Numba's ``np.dot`` calls, loaded before pinning).

    Parameters
    ----------
    shapes : sequence of (int, int)
        ``(n_in, n_out)`` of the layers.
    rows : sequence of int
    rounds : int
    min_time : float
        Seconds per timed round, at least.
    seed : int

    Returns
    -------
    list of Point
    """
    rng = np.random.default_rng(seed)
    points = []
    for (n_in, n_out), m in itertools.product(shapes, rows):
        if m * n_in * n_out > MAX_MULTIPLY_ADDS:
            continue
        calls = _product_calls(rng, m, n_in, n_out)
        for product in PRODUCTS:
            call = calls[product]
            timings = interleaved({"loops": lambda call=call: call(False),
                                   "blas": lambda call=call: call(True)}, rounds, min_time)
            points.append(Point(product, m, n_in, n_out, timings["loops"].median,
                                timings["blas"].median))
    return points


def fit_rule(points):
    """The crossover rule that loses the least time on ``points``, per product.

    Parameters
    ----------
    points : list of Point

    Returns
    -------
    dict of str -> tuple of 3 int
        Product -> ``(single_row, min_rows, min_multiply_adds)``; :data:`NEVER` where
        the loops should always be used.
    """
    rule = {}
    for product in PRODUCTS:
        mine = [point for point in points if point.product == product]
        one_row = [point for point in mine if point.rows == 1]
        batches = [point for point in mine if point.rows > 1]
        single_row = _best_threshold(
            one_row, [point.multiply_adds for point in one_row],
            lambda point, threshold: point.multiply_adds >= threshold)
        pairs = list(itertools.product(sorted({point.rows for point in batches}) + [NEVER],
                                       sorted({point.multiply_adds for point in batches})))
        min_rows, min_multiply_adds = _best_threshold(
            batches, pairs, lambda point, pair: point.rows >= pair[0]
            and point.multiply_adds >= pair[1], never=(NEVER, NEVER))
        rule[product] = (single_row, min_rows, min_multiply_adds)
    return rule


def lost_time(points, uses_blas):
    """Sum over points of ``log(picked path's time / faster path's time)``."""
    return sum(math.log((point.blas_s if uses_blas(point) else point.loops_s)
                        / min(point.blas_s, point.loops_s)) for point in points)


# --- helpers -----------------------------------------------------------------------------

def _best_threshold(points, candidates, uses_blas, never=NEVER):
    """The candidate with the least lost time; ``never`` (all loops) wins ties."""
    best, best_cost = never, lost_time(points, lambda point: False)
    for candidate in sorted(candidates, reverse=True):
        cost = lost_time(points, lambda point, candidate=candidate: uses_blas(point, candidate))
        if cost < best_cost - 1e-12:
            best, best_cost = candidate, cost
    return best


def _product_calls(rng, m, n_in, n_out):
    """Product name -> ``call(use_blas)`` on random data of this shape.

    The kernels' per-layer functions (private to ``_numba_kernels``; this is the one
    place outside it that calls them).
    """
    from fastnn.backends import _numba_kernels as kernels

    params = rng.standard_normal(n_in * n_out + n_out)
    A, delta = rng.standard_normal((m, n_in)), rng.standard_normal((m, n_out))
    Z, grad, previous = np.zeros((m, n_out)), np.zeros_like(params), np.zeros((m, n_in))
    return {
        "forward_layer": lambda blas: kernels._dense(A, params, 0, n_in, n_out, Z, blas),
        "weight_gradient": lambda blas: kernels._weight_gradient(
            A, delta, grad, 0, n_in, n_out, blas),
        "back_delta": lambda blas: kernels._back_delta(
            params, 0, n_in, n_out, delta, previous, blas),
    }
