"""Measure where BLAS (``np.dot`` inside the Numba kernels) beats their fused loops.

The kernels send each of a layer's three matrix products (the forward layer, the
weight gradient, the back-propagated delta) to BLAS or to loops by a rule with three
numbers per product (``_use_blas`` in the module a backend declares as its
``crossover_kernels``: the Numba backend's ``fastnn/backends/_numba_kernels.py``)::

    one row:   BLAS if n_in * n_out >= single_row
    m rows:    BLAS if m >= min_rows and m * n_in * n_out >= min_multiply_adds

:func:`measure` times both paths of each product on a ladder of layer shapes and row
counts end to end: the public kernels (``forward_into``, ``gradient_into``) on a network
built around the layer, with run-time crossovers that send the product in question to
BLAS or to the loops and leave everything else as shipped. (Timing a product function
alone from Python misleads: a 100 x 100 layer on one row took 1.6 us that way and
4.1 us inside a kernel, where the caches hold the rest of the network.) Then
:func:`fit_rule` picks, per product, the three numbers that lose the least time over
the measured points: the sum over points of ``log(time of the path the rule picks /
time of the faster path)``.

The machine may be busy while it measures: each point's BLAS time is its loop time
times the median of the per-round ratios (the two paths alternate, so a round's ratio
sees one load), and a rule replaces the shipped crossovers only where it saves more than
:data:`MIN_SAVING` per point on average. A single noisy point then cannot move a
crossover (a rule fitted without that margin on a loaded machine made the batch-1
gradient of 100-100-50-10 24 % slower).
"""

from __future__ import annotations

import importlib
import itertools
import math
import statistics
from dataclasses import dataclass

import numpy as np

from fastnn import backends
from fastnn.backends.tuning import NEVER, PRODUCTS, shipped_crossovers
from fastnn.reporting.timing import interleaved

# Layer shapes (n_in, n_out), narrowing as MLP layers do: 64 to 65536 multiply-adds.
SHAPES = ((8, 8), (16, 16), (32, 32), (64, 32), (64, 64), (128, 64), (128, 128), (256, 128),
          (256, 256))
ROWS = (1, 2, 4, 8, 32, 128)
# Points whose loops would take more than about a millisecond are left out: BLAS wins
# them by far, and they would dominate the run's time.
MAX_MULTIPLY_ADDS = 1 << 21
# The least saving, in log time per point on average (here 3 %), for which a fitted
# crossover replaces the shipped one.
MIN_SAVING = math.log(1.03)


@dataclass(frozen=True)
class Point:
    """Both paths of one product on one shape.

    Attributes
    ----------
    product : str
        One of :data:`fastnn.backends.tuning.PRODUCTS`.
    rows, n_in, n_out : int
    loops_s, blas_s : float
        Seconds per call: the loops' median, and that times the median ratio of the
        paired rounds (BLAS / loops).
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
            loops_s = timings["loops"].median
            ratio = statistics.median(blas / loops for blas, loops
                                      in zip(timings["blas"].per_call, timings["loops"].per_call))
            points.append(Point(product, m, n_in, n_out, loops_s, loops_s * ratio))
    return points


def fit_rule(points, shipped=None):
    """The crossover rule that loses the least time on ``points``, per product.

    Parameters
    ----------
    points : list of Point
    shipped : dict of str -> tuple of 3 int, or None
        The crossovers to keep unless a rule saves more than :data:`MIN_SAVING` per point
        (None: ``fastnn.backends.tuning.shipped_crossovers()``).

    Returns
    -------
    dict of str -> tuple of 3 int
        Product -> ``(single_row, min_rows, min_multiply_adds)``. Where the loops win
        at every point measured, BLAS still takes the products larger than any measured
        (it wins at scale; nothing was measured there).
    """
    if shipped is None:
        shipped = dict(zip(PRODUCTS, shipped_crossovers()))
    rule = {}
    for product in PRODUCTS:
        mine = [point for point in points if point.product == product]
        one_row = [point for point in mine if point.rows == 1]
        batches = [point for point in mine if point.rows > 1]
        kept_single, kept_rows, kept_work = shipped[product]
        single_row = _best_threshold(
            one_row, [point.multiply_adds for point in one_row] + [_beyond(one_row)],
            lambda point, threshold: point.multiply_adds >= threshold, kept=kept_single)
        pairs = list(itertools.product(sorted({point.rows for point in batches}),
                                       sorted({point.multiply_adds for point in batches})))
        pairs.append((2, _beyond(batches)))
        min_rows, min_multiply_adds = _best_threshold(
            batches, pairs, lambda point, pair: point.rows >= pair[0]
            and point.multiply_adds >= pair[1], kept=(kept_rows, kept_work))
        rule[product] = (single_row, min_rows, min_multiply_adds)
    return rule


def lost_time(points, uses_blas):
    """Sum over points of ``log(picked path's time / faster path's time)``."""
    return sum(math.log((point.blas_s if uses_blas(point) else point.loops_s)
                        / min(point.blas_s, point.loops_s)) for point in points)


# --- helpers -----------------------------------------------------------------------------

def _beyond(points):
    """A threshold just above the largest product of ``points`` (NEVER if there are none)."""
    return max((point.multiply_adds for point in points), default=NEVER - 1) + 1


def _best_threshold(points, candidates, uses_blas, kept):
    """The candidate with the least lost time, if it saves more than :data:`MIN_SAVING`
    per point over ``kept``; else ``kept``. Among equals the larger (more loops) wins."""
    def cost(candidate):
        return lost_time(points, lambda point: uses_blas(point, candidate))

    best, best_cost = kept, cost(kept)
    threshold = best_cost - MIN_SAVING * len(points)
    for candidate in sorted(candidates, reverse=True):
        candidate_cost = cost(candidate)
        if candidate_cost < threshold and candidate_cost < best_cost - 1e-12:
            best, best_cost = candidate, candidate_cost
    return best


def tuned_backend():
    """The first available backend whose kernels have BLAS / loop crossovers (it declares
    their module, :attr:`fastnn.backends.base.Backend.crossover_kernels`), or None."""
    for name in backends.available_backends():
        if backends.get(name).crossover_kernels:
            return name
    return None


def _crossover_kernels():
    """The module of :func:`tuned_backend`'s kernels."""
    name = tuned_backend()
    if name is None:
        raise ValueError("no available backend has kernels with BLAS / loop crossovers to "
                         "measure (the Numba backend is not installed)")
    return importlib.import_module(backends.get(name).crossover_kernels)


def _product_calls(rng, m, n_in, n_out):
    """Product name -> ``call(use_blas)``: the kernel that runs the product on an
    ``n_in x n_out`` layer of ``m`` rows, with that product forced to BLAS or the loops.

    The networks: ``forward_layer`` is the forward pass of the one-layer network
    ``n_in-n_out``; ``weight_gradient`` its ``gradient_into``; ``back_delta`` the
    ``gradient_into`` of ``BACK_DELTA_INPUTS-n_in-n_out``, whose second layer is the only
    one that propagates a delta back. Identity activations and the mse loss keep the work
    around the product small; the other products keep the shipped crossovers, the same
    in both timings.
    """
    kernels = _crossover_kernels()
    identity, mse = kernels.ACTIVATION_CODES["identity"], kernels.LOSS_CODES["mse"]

    def network(layer_sizes):
        params = rng.standard_normal(sum(n_from * n_to + n_to for n_from, n_to
                                         in zip(layer_sizes[:-1], layer_sizes[1:])))
        params *= 0.1  # keeps every value finite and the loss small
        arrays = {"params": params, "layer_sizes": np.array(layer_sizes, dtype=np.int64),
                  "X": rng.standard_normal((m, layer_sizes[0])),
                  "T": rng.standard_normal((m, layer_sizes[-1])),
                  "Y": np.empty((m, layer_sizes[-1])), "grad": np.empty_like(params),
                  "workspace": np.empty(m * kernels.workspace_per_row(tuple(layer_sizes)))}
        return arrays

    def forcing(product, layer_sizes):
        """The activation codes with crossovers sending ``product`` to BLAS / the loops."""
        shipped = [list(triple) for triple in kernels.BLAS_CROSSOVER]
        codes = {}
        for blas in (True, False):
            crossovers = [list(triple) for triple in shipped]
            crossovers[PRODUCTS.index(product)] = [0, 0, 0] if blas else [NEVER] * 3
            codes[blas] = np.array([identity] * (layer_sizes.shape[0] - 1)
                                   + [value for triple in crossovers for value in triple],
                                   dtype=np.int64)
        return codes

    one_layer = network((n_in, n_out))
    two_layers = network((BACK_DELTA_INPUTS, n_in, n_out))
    calls = {}
    for product, net in (("forward_layer", one_layer), ("weight_gradient", one_layer),
                         ("back_delta", two_layers)):
        codes = forcing(product, net["layer_sizes"])
        if product == "forward_layer":
            calls[product] = lambda blas, net=net, codes=codes: kernels.forward_into(
                net["params"], net["layer_sizes"], codes[blas], net["X"], net["Y"])
        else:
            calls[product] = lambda blas, net=net, codes=codes: kernels.gradient_into(
                net["params"], net["layer_sizes"], codes[blas], mse, net["X"], net["T"],
                net["grad"], net["workspace"])
    return calls


# The inputs of the network that times back_delta: its first layer is work common to both
# paths, kept small.
BACK_DELTA_INPUTS = 8
