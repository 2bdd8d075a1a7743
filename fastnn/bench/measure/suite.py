"""Helpers of the pytest-benchmark suite in ``benchmarks/``: one validated, warmed-up call.

The suite times what ``fastnn bench`` times, through pytest-benchmark: the same cases,
the same correctness gate (:mod:`fastnn.bench.measure.gate`) and the same warm-up, all outside
the timed region.
"""

from __future__ import annotations

import functools

import fastnn
from fastnn import backends
from fastnn.bench.measure.gate import Warmups, checked_call, reduced_check
from fastnn.bench.measure.sweep import (
    reference_for,
    skip_reason,
    time_estimates,
    time_limited_flop_rates,
)
from fastnn.bench.workload.cases import (
    DEFAULT_BATCH_SIZES,
    DEFAULT_LAYER_SIZES,
    flop_count,
    make_case,
    sizes_label,
)

BACKENDS = fastnn.available_backends()
LAYER_SIZES = DEFAULT_LAYER_SIZES
BATCH_SIZES = DEFAULT_BATCH_SIZES
# A time-limited backend (pure Python) is benchmarked only where one call is estimated
# below this.
PYTHON_LIMIT = 0.25


def benchmark_group(op, layer_sizes, batch_size, dtype="float64"):
    """The pytest-benchmark group of a point: ``"forward 100-100-50-10 x1"``, with the dtype
    after it where it is not the default (``"... x1 float32"``), so that each group's table
    compares backends and peers in one dtype."""
    return f"{op} {sizes_label(layer_sizes)} x{batch_size}" \
        + ("" if dtype == "float64" else f" {dtype}")


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
    op : str
        A key of :data:`fastnn.ops.OP_TABLE`.
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
    estimates = time_estimates(case.spec.layer_sizes, batch_size, op, _flop_rates())
    reason = skip_reason(backend, case.spec, estimates, python_limit)
    if reason:
        return None, reason
    compile_s = Warmups().prepare(backend, case.spec)
    reference = reference_for(estimates, python_limit)
    checked = checked_call(backend, level, case, op, reference)
    declared = backends.reference_backend(time_limited_ok=True)
    if checked.passed and backend == reference != declared:  # not gated against itself
        reduced = reduced_check(backend, case, op, declared)
        if not reduced.passed:
            raise GateFailure(f"{backend} {op} on the first rows of {case.sizes_label} "
                              f"x{batch_size} {reduced.note}")
    if not checked.passed:
        raise GateFailure(f"{backend} {op} on {case.sizes_label} x{batch_size} "
                          f"{checked.note}")
    info = {"backend": backend, "level": level, "layer_sizes": case.sizes_label,
            "batch_size": batch_size, "op": op, "dtype": dtype,
            "activation": case.spec.activation, "loss": case.spec.loss,
            "flops": flop_count(case.spec.layer_sizes, batch_size, op), "reference": reference,
            "max_rel_diff": checked.max_rel_diff, "compile_s": compile_s,
            "first_call_s": checked.first_call_s}
    return checked.call, info


@functools.lru_cache(maxsize=1)
def _flop_rates():
    return time_limited_flop_rates()
