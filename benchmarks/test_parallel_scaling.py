"""Issue 12, target 6: the ``numba_parallel`` backend's thread scaling, as ratios.

    pytest benchmarks/test_parallel_scaling.py -p no:cacheprovider --benchmark-disable

For large batches of two networks (100-100-50-10, and digits' 64-30-10) and the public
``forward``, ``gradients`` and ``train_step`` calls, four configurations are timed
against each other: ``numba`` and ``numba_parallel`` at 1 and at 2 threads (BLAS and
Numba pinned alike by ``fastnn.config.pinned_threads``, as ``fastnn bench --threads``
does). The rounds are interleaved (one round of each configuration, then the next; the
threads are set, and the previous round's threads left to go idle, outside the timed
region), and each ratio is the median of the
per-round ratios with its quartiles:

- numba at 1 thread / numba_parallel at 2 threads (target: above 1 at large batches);
- numba at 2 threads / numba_parallel at 2 threads (the same thread budget);
- numba_parallel at 1 thread / at 2 threads (its own scaling).

Outputs are checked against the ``numba`` backend before anything is timed. Nothing is
asserted about time. The table is printed at the end, and written to ``PATH.md`` and
``PATH.json`` with ``FASTNN_PARALLEL_REPORT=PATH``. Needs ``NUMBA_NUM_THREADS >= 2``.
"""

import contextlib
import json
import os
import time
import timeit
from pathlib import Path

import numpy as np
import pytest

from fastnn import MLP
from fastnn.atomic import atomic_write_text
from fastnn.config import pinned_threads
from fastnn.ops import OP_TABLE, SELECTED_OPS
from fastnn.reporting.timing import Timing, calibrate, time_rounds
from fastnn.testing import TOLERANCE, relative_difference

numba = pytest.importorskip("numba")
pytest.importorskip("fastnn.backends._numba_parallel_kernels")

REPORT_ENV = "FASTNN_PARALLEL_REPORT"
NETWORKS = {"100-100-50-10": ([100, 100, 50, 10], "tanh", "softmax", "cross_entropy"),
            "64-30-10": ([64, 30, 10], "sigmoid", "sigmoid", "mse")}
BATCHES = [1024, 4096]
OPS = SELECTED_OPS  # where auto chooses between numba and numba_parallel
# (backend, threads) in the order of each round.
CONFIGURATIONS = [("numba", 1), ("numba_parallel", 1), ("numba", 2), ("numba_parallel", 2)]
RATIOS = {"numba 1 thread / numba_parallel 2 threads": (("numba", 1), ("numba_parallel", 2)),
          "numba 2 threads / numba_parallel 2 threads": (("numba", 2), ("numba_parallel", 2)),
          "numba_parallel 1 thread / 2 threads": (("numba_parallel", 1), ("numba_parallel", 2))}
ROUNDS = 9
MIN_TIME = 0.05
# Untimed pause before each round: OpenBLAS's worker threads (the numba backend at 2
# threads) and the OpenMP threads of Numba's prange keep spinning for a while after a
# call, and would steal a core from the next configuration's round (measured: the
# parallel forward of 100-100-50-10 x 4096 at 2 threads, 7.5 ms alone, 10.5 ms right
# after the numba backend's).
SETTLE_S = 0.2
ROWS = []

if numba.config.NUMBA_NUM_THREADS < 2:
    pytest.skip("needs NUMBA_NUM_THREADS >= 2", allow_module_level=True)


@pytest.fixture(scope="module", autouse=True)
def report(request):
    """Print the table at the end (and write it where ``$FASTNN_PARALLEL_REPORT`` says)."""
    ROWS.clear()
    yield
    if not ROWS:
        return
    text = _markdown(ROWS)
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\n" + text, flush=True)
    chosen = os.environ.get(REPORT_ENV)
    if chosen:
        stem = Path(chosen)
        stem.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(stem.with_suffix(".md"), text + "\n")
        atomic_write_text(stem.with_suffix(".json"), json.dumps(ROWS, indent=1) + "\n")


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("network", list(NETWORKS))
def test_parallel_scaling(benchmark, network, batch):
    sizes, activation, output_activation, loss = NETWORKS[network]
    rng = np.random.default_rng(0)
    first = MLP(sizes, activation=activation, output_activation=output_activation, loss=loss,
                backend="numba", seed=0)
    X = rng.standard_normal((batch, sizes[0]))
    T = np.eye(sizes[-1])[rng.integers(0, sizes[-1], batch)]
    nets = {name: MLP.from_spec(first.spec, first.flat_parameters.copy(), name)
            for name in ("numba", "numba_parallel")}
    for op in OPS:
        calls = {name: _call(net, op, X, T) for name, net in nets.items()}
        in_force = _check(calls)
        timings = _interleaved(calls)
        for label, (numerator, denominator) in RATIOS.items():
            ROWS.append({"network": network, "batch": batch, "op": op, "ratio": label,
                         **_ratio(timings[numerator], timings[denominator]),
                         "threads_in_force": {f"{name} {threads}": in_force[name, threads]
                                              for name, threads in (numerator, denominator)}})
    benchmark.extra_info.update(threads=[threads for _, threads in CONFIGURATIONS])
    benchmark(nets["numba_parallel"].forward, X)


def _call(net, op, X, T):
    entry = OP_TABLE[op]
    if entry.updates_parameters:
        # Not the table's rate: _check compares each configuration's step on the same two
        # networks in turn, so the rate must leave the parameters all but fixed (1e-12).
        return lambda: net.train_step(X, T, 1e-12)
    return lambda: entry.mlp_call(net, X, T)


def _check(calls):
    """Both backends agree at both thread counts (and compile, outside the timing).

    Returns the BLAS and Numba thread counts in force per configuration, to record.
    """
    results, in_force = {}, {}
    for backend, threads in CONFIGURATIONS:
        with pinned_threads(threads, user_api="blas") as counts:
            result = calls[backend]()
        results[backend, threads] = result[0] if isinstance(result, tuple) else result
        in_force[backend, threads] = counts
    expected = results["numba", 1]
    for result in results.values():
        assert relative_difference(result, expected) <= TOLERANCE["float64"]
    return in_force


def _interleaved(calls):
    """Per configuration a :class:`Timing`, the rounds interleaved, the threads set
    outside the timed region."""
    timers = [_PinnedTimer(calls[backend], threads) for backend, threads in CONFIGURATIONS]
    numbers = [timer.calibrate() for timer in timers]
    per_call = time_rounds(timers, numbers, ROUNDS, rotate=True)
    return {configuration: Timing(tuple(times.tolist()), number)
            for configuration, times, number in zip(CONFIGURATIONS, per_call, numbers)}


class _PinnedTimer:
    """A ``timeit.Timer`` whose rounds run with BLAS and Numba pinned to ``threads``."""

    def __init__(self, call, threads):
        self.timer = timeit.Timer(call)
        self.threads = threads

    def calibrate(self):
        with pinned_threads(self.threads, user_api="blas"):
            return calibrate(self.timer, MIN_TIME)

    def timeit(self, number):
        with pinned_threads(self.threads, user_api="blas"):
            time.sleep(SETTLE_S)
            return self.timer.timeit(number)


def _ratio(numerator, denominator):
    """Median and quartiles of the per-round ratio of two interleaved timings."""
    ratios = np.array(numerator.per_call) / np.array(denominator.per_call)
    q1, median, q3 = np.percentile(ratios, [25, 50, 75])
    return {"value": float(median), "q1": float(q1), "q3": float(q3),
            "numerator_s": numerator.median, "denominator_s": denominator.median}


def _markdown(rows):
    lines = ["# numba_parallel thread scaling (per-round ratios: medians [quartiles])", "",
             "BLAS and Numba pinned to the thread count named in each ratio (the JSON records "
             "the counts in force per configuration); inside numba_parallel's blocks BLAS "
             "runs on one thread.", "",
             "| network | batch | op | ratio | value | times |", "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['network']} | {row['batch']} | {row['op']} | {row['ratio']} | "
                     f"{row['value']:.2f} [{row['q1']:.2f}, {row['q3']:.2f}] | "
                     f"{row['numerator_s'] * 1e3:.3f} ms / {row['denominator_s'] * 1e3:.3f} ms |")
    return "\n".join(lines)
