"""Table 1: tutorial A's looped versus vectorised feed-forward, and fastnn's backends.

Single-sample forward passes, as the tutorial timed them with ``%timeit``: the tutorial's
own looped and vectorised functions, and each backend's ``forward`` on a (1, n) batch
(the backend interface, below ``MLP``'s input validation).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from fastnn import backends
from fastnn.reporting import timing
from fastnn.reporting.formatting import sizes_label
from fastnn.reproduce.datasets import (
    TUTORIAL_A_INPUT,
    timing_network,
    tutorial_a_example,
    tutorial_a_network,
)
from fastnn.reproduce.tutorial_code import looped_forward, vectorised_forward
from fastnn.testing import relative_difference

# The tutorial's %timeit figures in seconds (None: not given).
TUTORIAL_TIMES = {
    (3, 3, 1): {"loop": 40e-6, "vectorised": None},
    (3, 3, 3, 1): {"loop": 70e-6, "vectorised": 46e-6},
    (100, 100, 50, 10): {"loop": 41e-3, "vectorised": 84e-6},
}

LOOP = "tutorial loop"
VECTORISED = "tutorial vectorised"


@dataclass(frozen=True)
class SpeedupRow:
    """Timings of one network.

    Attributes
    ----------
    layer_sizes : tuple of int
    multiply_adds : int
        Weights in the network: the multiply-adds of one forward pass.
    timings : dict of str -> Timing
        Keys :data:`LOOP`, :data:`VECTORISED` and the backend names.
    tutorial : dict
        The tutorial's ``{"loop": seconds, "vectorised": seconds}`` (None where not given).
    """

    layer_sizes: tuple
    multiply_adds: int
    timings: dict
    tutorial: dict

    def speedup(self, name):
        """Median loop time over the median time of ``name``."""
        return self.timings[LOOP].median / self.timings[name].median


def measure(settings, layer_sizes_list, backend_names):
    """Time every network of table 1 with every implementation, interleaved.

    Parameters
    ----------
    settings : Settings
    layer_sizes_list : sequence of tuple of int
    backend_names : list of str

    Returns
    -------
    rows : list of SpeedupRow
    compile_seconds : dict of str -> dict of str -> float
        Per backend that declares it compiles, per network (``"3-3-1"``), its first call
        (prepare plus one forward).
    """
    compiling = [name for name in backend_names if backends.get(name).compiles]
    rows, compile_seconds = [], {name: {} for name in compiling}
    for layer_sizes in layer_sizes_list:
        functions, first_call = _cases(layer_sizes, backend_names)
        for name in compiling:
            compile_seconds[name][sizes_label(layer_sizes)] = first_call[name]
        timings = timing.interleaved(functions, settings.timing_rounds, settings.timing_min_time)
        rows.append(SpeedupRow(tuple(layer_sizes), _multiply_adds(layer_sizes), timings,
                               TUTORIAL_TIMES.get(tuple(layer_sizes), {})))
    return rows, compile_seconds


def _cases(layer_sizes, backend_names):
    """The callables to time, after checking they all compute the same output."""
    w, b, net, x = _network_and_input(layer_sizes)
    n_layers = len(layer_sizes)
    expected = looped_forward(n_layers, x, w, b)
    functions = {LOOP: lambda: looped_forward(n_layers, x, w, b),
                 VECTORISED: lambda: vectorised_forward(n_layers, x, w, b)}
    first_call = {}
    X = x.reshape(1, -1).copy()
    params = np.array(net.flat_parameters)
    for name in backend_names:
        backend = backends.get(name)
        start = time.perf_counter()
        backend.prepare(net.spec)
        output = backend.forward(net.spec, params, X)[0]
        first_call[name] = time.perf_counter() - start
        _check_same(name, output, expected)
        functions[name] = _bind_forward(backend, net.spec, params, X)
    _check_same(VECTORISED, vectorised_forward(n_layers, x, w, b), expected)
    return functions, first_call


def _network_and_input(layer_sizes):
    """Tutorial A's own 3-3-1 example and input, or seeded random ones of the given sizes."""
    if tuple(layer_sizes) == (3, 3, 1):
        w, b = tutorial_a_example()
        vectorised = backends.reference_backend(time_limited_ok=False)
        return w, b, tutorial_a_network(vectorised), np.array(TUTORIAL_A_INPUT)
    w, b, net = timing_network(layer_sizes)
    return w, b, net, np.random.default_rng(1).random(layer_sizes[0])


def _bind_forward(backend, spec, params, X):
    return lambda: backend.forward(spec, params, X)


def _check_same(name, output, expected):
    difference = relative_difference(output, expected)
    if difference > 1e-10:
        raise RuntimeError(f"{name} forward differs from the tutorial's loop by {difference:.2e}")


def _multiply_adds(layer_sizes):
    return int(sum(n_in * n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:])))
