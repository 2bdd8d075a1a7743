"""Helpers of the pytest-benchmark suite in ``benchmarks/``: one validated, warmed-up call.

The suite times what ``fastnn bench`` times, through pytest-benchmark: the same cases,
the same correctness gate and the same warm-up, all outside the timed region.
"""

from __future__ import annotations

import functools
import time

import fastnn
from fastnn.bench.cases import DEFAULT_BATCH_SIZES, DEFAULT_LAYER_SIZES, flop_count, make_case
from fastnn.bench.sweep import (
    make_call,
    python_estimate,
    python_flop_rate,
    reference_result,
    skip_reason,
)
from fastnn.testing import TOLERANCE, relative_difference

BACKENDS = fastnn.available_backends()
LAYER_SIZES = DEFAULT_LAYER_SIZES
BATCH_SIZES = DEFAULT_BATCH_SIZES
# The pure-Python backend is benchmarked only where one call is estimated below this.
PYTHON_LIMIT = 0.25


class GateFailure(AssertionError):
    """A backend's result differs from the reference beyond the tolerance."""


def prepare_point(backend, layer_sizes, batch_size, op, level="mlp", dtype="float64",
                  python_limit=PYTHON_LIMIT):
    """A warmed-up, validated call of ``op`` on one case, ready to be timed.

    Parameters
    ----------
    backend : str
    layer_sizes : tuple of int
    batch_size : int
    op : {"forward", "gradients", "train_step"}
    level : {"mlp", "backend"}
    dtype : {"float64", "float32"}
    python_limit : float

    Returns
    -------
    call : callable or None
        None when the point is skipped.
    info : dict or str
        The ``extra_info`` of the benchmark (case, FLOPs, reference, compile and
        first-call seconds), or the reason for the skip.

    Raises
    ------
    GateFailure
        If the backend disagrees with the reference.
    """
    case = make_case(layer_sizes, batch_size, dtype)
    estimate = python_estimate(case.spec.layer_sizes, batch_size, op, _python_flop_rate())
    python_runs = estimate <= python_limit
    reason = skip_reason(backend, case.spec, estimate, python_runs, python_limit)
    if reason:
        return None, reason
    start = time.perf_counter()
    fastnn.backends.get(backend).prepare(case.spec)
    compile_s = time.perf_counter() - start
    call, extract = make_call(backend, level, case, op)
    start = time.perf_counter()
    actual = extract(call())
    first_call_s = time.perf_counter() - start
    reference = "python" if python_runs else "numpy"
    difference = relative_difference(actual, reference_result(reference, case, op))
    if not difference <= TOLERANCE[dtype]:
        raise GateFailure(f"{backend} {op} on {case.sizes_label} x{batch_size} differs from the "
                          f"{reference} reference by {difference:.2e} > {TOLERANCE[dtype]:.0e}")
    info = {"backend": backend, "level": level, "layer_sizes": case.sizes_label,
            "batch_size": batch_size, "op": op, "dtype": dtype,
            "activation": case.spec.activation, "loss": case.spec.loss,
            "flops": flop_count(case.spec.layer_sizes, batch_size, op), "reference": reference,
            "max_rel_diff": difference, "compile_s": compile_s, "first_call_s": first_call_s}
    return call, info


@functools.lru_cache(maxsize=1)
def _python_flop_rate():
    return python_flop_rate()
