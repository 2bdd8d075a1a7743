"""Measure the fastest backend per layer sizes x batch size x op, on a small grid.

The table behind ``backend="auto"`` (:mod:`fastnn.backends.selection`), measured on
the user's machine by ``fastnn tune``. The candidates are the available backends that
run in reasonable time everywhere (not ``is_time_limited``: the pure-Python reference
never wins); each is checked against the reference's stand-in before it is timed, and
timed through the public ``MLP`` call, interleaved with the others.
"""

from __future__ import annotations

from fastnn import backends
from fastnn.backends.selection import OPS, grid_key
from fastnn.bench.measure.gate import checked_call, reference_result
from fastnn.bench.workload.cases import make_case
from fastnn.reporting.stats import is_tie, speedup_interval
from fastnn.reporting.timing import interleaved

# Issue 3's grid without its 1024-wide network and its batch of 2048 (seconds per call
# there; the nearest grid point answers for them: BLAS-bound, so numba or numpy alike).
LAYER_SIZES = ((3, 3, 1), (64, 30, 10), (100, 100, 50, 10), (784, 256, 128, 10))
BATCH_SIZES = (1, 32, 256)

# A candidate ties with the fastest when the 95 % interval of its paired per-round
# speedup against it spans 1 (the reports' "no clear winner",
# :func:`fastnn.reporting.stats.is_tie`), or when its median is within this fraction of
# the fastest; a tie goes to the candidate listed first (the registry's order): timing
# noise must not make ``backend="auto"`` pick, say, ``numba_parallel`` where it runs
# numba's own kernels.
TIE_MARGIN = 0.03


def candidates(batch_sizes=BATCH_SIZES):
    """The backends that compete: available, not time-limited, and not running another
    backend's kernels at every one of ``batch_sizes`` (``serial_below_rows``)."""
    return [name for name in backends.backends_where(is_time_limited=False)
            if backends.get(name).serial_below_rows <= max(batch_sizes)]


def measure(layer_sizes=LAYER_SIZES, batch_sizes=BATCH_SIZES, ops=OPS, rounds=5,
            min_time=0.01, progress=None):
    """Time every candidate on every point; the winner per point.

    Parameters
    ----------
    layer_sizes : sequence of tuple of int
    batch_sizes : sequence of int
    ops : sequence of str
    rounds : int
    min_time : float
        Seconds per timed round, at least.
    progress : callable or None
        Called as ``progress(key)`` after each point.

    Returns
    -------
    dict of str -> dict
        ``grid_key(sizes, batch, op)`` -> ``{"winner": name, "seconds": {name: median}}``;
        the format of :attr:`fastnn.backends.tuning.Tuning.table`. A point where no
        candidate passes the correctness gate is left out.
    """
    names = candidates(batch_sizes)
    reference = backends.reference_backend(time_limited_ok=False)
    table = {}
    for sizes in layer_sizes:
        for batch in batch_sizes:
            case = make_case(sizes, batch)
            for op in ops:
                key = grid_key(case.spec.layer_sizes, batch, op)
                entry = _measure_point(names, reference, case, op, rounds, min_time)
                if entry is not None:
                    table[key] = entry
                if progress is not None:
                    progress(key)
    return table


def _measure_point(names, reference, case, op, rounds, min_time):
    expected = reference_result(reference, case, op)
    calls = {}
    for name in names:
        checked = checked_call(name, "mlp", case, op, reference, expected)
        if checked.passed:
            calls[name] = checked.call
    if not calls:
        return None
    timings = interleaved(calls, rounds, min_time)
    seconds = {name: timings[name].median for name in calls}
    samples = {name: list(timings[name].per_call) for name in calls}
    return {"winner": winner(seconds, samples), "seconds": seconds}


def winner(seconds, samples=None):
    """The first candidate that ties with the fastest (see :data:`TIE_MARGIN`).

    Parameters
    ----------
    seconds : dict of str -> float
        Median seconds per call, in the candidates' order.
    samples : dict of str -> list of float, or None
        Per-round seconds, paired by round (interleaved): a candidate whose speedup
        interval against the fastest spans 1 ties with it.

    Returns
    -------
    str
    """
    fastest_name = min(seconds, key=seconds.get)
    fastest = seconds[fastest_name]
    for name, median in seconds.items():
        if median <= fastest * (1 + TIE_MARGIN):
            return name
        if samples and name in samples and fastest_name in samples \
                and is_tie(speedup_interval(samples[name], samples[fastest_name])):
            return name
    return fastest_name
