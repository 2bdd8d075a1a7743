"""The sweep behind ``fastnn bench``: backends x layer sizes x batch sizes x ops x dtypes.

For every point (thread count, dtype, layer sizes, batch size, op):

1. a correctness gate: each backend's result on the case is compared with the
   reference (the pure-Python backend where it runs in reasonable time, else NumPy) and
   only a backend within :data:`fastnn.testing.TOLERANCE` is timed;
2. warm-up: ``backend.prepare(spec)`` (Numba compiles here) and the first call are timed
   once and recorded apart from the run time (``compile_s``, ``first_call_s``);
3. calibrated loop counts and several rounds, interleaved across backends and levels so
   that a burst of noise from other processes hits them all alike.

Each (backend, level) gives one row, also when skipped or failed: the report says why.
"""

from __future__ import annotations

import dataclasses
import time
import timeit
from dataclasses import dataclass, field

import numpy as np

from fastnn import backends
from fastnn.bench.cases import (
    DEFAULT_BATCH_SIZES,
    DEFAULT_DTYPES,
    DEFAULT_LAYER_SIZES,
    LEARNING_RATE,
    LEVELS,
    OPS,
    flop_count,
    make_case,
    sizes_label,
)
from fastnn.bench.machine import matmul_peak, pinned_threads
from fastnn.model import MLP
from fastnn.params import flatten, parameter_count
from fastnn.testing import TOLERANCE, relative_difference
from fastnn.timing import UNSTABLE_IQR_RATIO, calibrate, summarise, time_rounds

# The statistics columns of a timed row; None in rows that were not timed.
STAT_COLUMNS = ("number", "rounds", "min_s", "median_s", "q1_s", "q3_s", "iqr_s", "mean_s",
                "unstable", "gflops", "peak_fraction")


@dataclass(frozen=True)
class SweepConfig:
    """What to measure and how.

    Attributes
    ----------
    layer_sizes : tuple of tuple of int
    batch_sizes : tuple of int
    backends : tuple of str
        Empty means every backend in ``fastnn.available_backends()``.
    ops : tuple of str
        Among ``forward``, ``gradients``, ``train_step``.
    dtypes : tuple of str
    threads : tuple of int
        BLAS and Numba thread counts; each one is a separate pass.
    levels : tuple of str
        ``mlp``: the public ``fastnn.MLP`` call (validation included), what users get;
        ``backend``: the backend method on pre-validated arrays.
    rounds : int
    min_time : float
        Target seconds per round for the loop-count calibration.
    python_limit : float
        The pure-Python backend runs a point only if its estimated time per call is at
        most this many seconds.
    unstable_ratio : float
        IQR / median above which a row is flagged unstable.
    peak_size : int
        Matrix size of the fp64 matmul peak measurement.
    seed : int
    """

    layer_sizes: tuple = DEFAULT_LAYER_SIZES
    batch_sizes: tuple = DEFAULT_BATCH_SIZES
    backends: tuple = ()
    ops: tuple = OPS
    dtypes: tuple = DEFAULT_DTYPES
    threads: tuple = (1,)
    levels: tuple = LEVELS
    rounds: int = 7
    min_time: float = 0.1
    python_limit: float = 0.25
    unstable_ratio: float = UNSTABLE_IQR_RATIO
    peak_size: int = 1024
    seed: int = 0

    def backend_names(self):
        """The backends to measure (validated: ValueError for unknown or unavailable)."""
        names = self.backends or tuple(backends.available_backends())
        return tuple(dict.fromkeys(backends.get(name).name for name in names))

    def cases(self):
        """Every (dtype, layer_sizes, batch_size, op) of one thread count, in sweep order."""
        return [(dtype, sizes, batch, op) for dtype in self.dtypes
                for sizes in self.layer_sizes for batch in self.batch_sizes for op in self.ops]

    def n_points(self):
        """Number of points in the sweep (all thread counts)."""
        return len(self.threads) * len(self.cases())

    def as_dict(self):
        data = dataclasses.asdict(self)
        data["layer_sizes"] = [sizes_label(sizes) for sizes in self.layer_sizes]
        data["backends"] = list(self.backend_names())
        return data


@dataclass
class SweepResult:
    """The rows of a sweep and what was measured along the way."""

    rows: list = field(default_factory=list)
    peaks: list = field(default_factory=list)
    python_flop_rate: float | None = None


def run_sweep(config, progress=None):
    """Run the sweep.

    Parameters
    ----------
    config : SweepConfig
    progress : callable or None
        Called as ``progress(label)`` after each point (e.g. to advance a progress bar).

    Returns
    -------
    SweepResult
    """
    names = config.backend_names()
    result = SweepResult()
    warmups = _Warmups()
    for threads in config.threads:
        with pinned_threads(threads) as in_force:
            if result.python_flop_rate is None:
                result.python_flop_rate = python_flop_rate()
            peak = dict(matmul_peak(config.peak_size, config.min_time), threads=threads,
                        **in_force)
            result.peaks.append(peak)
            for dtype, sizes, batch, op in config.cases():
                case = make_case(sizes, batch, dtype, config.seed)
                result.rows.extend(_measure_point(config, names, case, op, in_force, peak,
                                                  result.python_flop_rate, warmups))
                if progress is not None:
                    progress(f"{sizes_label(sizes)} x{batch} {op} {dtype} t{threads}")
    return result


def python_flop_rate():
    """FLOP/s of the pure-Python forward pass here, to estimate its time on bigger points."""
    case = make_case((64, 30, 10), 8)
    engine = backends.get("python")
    timer = timeit.Timer(lambda: engine.forward(case.spec, case.params, case.X))
    number = calibrate(timer, 0.02)
    (per_call,) = time_rounds([timer], [number], 3)
    return flop_count(case.spec.layer_sizes, case.batch_size, "forward") / float(per_call.min())


def python_estimate(layer_sizes, batch_size, op, flop_rate):
    """Estimated seconds per pure-Python call of ``op`` on this case."""
    return flop_count(layer_sizes, batch_size, op) / flop_rate


# --- one point --------------------------------------------------------------------------

def _measure_point(config, names, case, op, threads, peak, flop_rate, warmups):
    spec = case.spec
    estimate = python_estimate(spec.layer_sizes, case.batch_size, op, flop_rate)
    python_runs = estimate <= config.python_limit
    reference = "python" if python_runs else "numpy"
    expected = reference_result(reference, case, op)
    tolerance = TOLERANCE[spec.dtype]
    rows, timed = [], []
    for name in names:
        skip = skip_reason(name, spec, estimate, python_runs, config.python_limit)
        for level in config.levels:
            row = _base_row(name, level, case, op, threads, reference)
            rows.append(row)
            if skip:
                row.update(status="skipped", note=skip)
                continue
            row["compile_s"] = warmups.prepare(name, spec)
            call, extract = make_call(name, level, case, op)
            try:
                start = time.perf_counter()
                actual = extract(call())
                row["first_call_s"] = time.perf_counter() - start
                row["max_rel_diff"] = relative_difference(actual, expected)
            except Exception as exc:  # a broken backend is reported, not fatal to the run
                row.update(status="error", note=f"{type(exc).__name__}: {exc}")
                continue
            if not row["max_rel_diff"] <= tolerance:
                row.update(status="failed", note=f"differs from the {reference} reference by "
                           f"{row['max_rel_diff']:.2e} > {tolerance:.0e}; not timed")
                continue
            timed.append((row, timeit.Timer(call)))
    _time_interleaved(config, timed, peak)
    return rows


def _time_interleaved(config, timed, peak):
    if not timed:
        return
    numbers = [calibrate(timer, config.min_time) for _, timer in timed]
    per_call = time_rounds([timer for _, timer in timed], numbers, config.rounds)
    for (row, _), times, number in zip(timed, per_call, numbers):
        summary = summarise(times, number, config.unstable_ratio)
        row.update(summary.as_dict())
        row["gflops"] = row["flops"] / summary.median / 1e9
        row["peak_gflops"] = peak["gflops"]
        row["peak_fraction"] = row["gflops"] / peak["gflops"]
        row["status"] = "ok"


def skip_reason(name, spec, estimate, python_runs, limit):
    """Why backend ``name`` is not timed on this point, or ``""`` if it is.

    Parameters
    ----------
    name : str
    spec : NetworkSpec
    estimate : float
        Estimated seconds per pure-Python call.
    python_runs : bool
        Whether the estimate is within ``limit``.
    limit : float
    """
    backend = backends.get(name)
    if spec.dtype not in backend.dtypes:
        return f"{name} computes in {', '.join(backend.dtypes)} only"
    if name == "python" and not python_runs:
        return (f"pure Python estimated at {estimate:.2g} s per call (> {limit:g} s "
                f"limit, --python-limit)")
    return ""


def _base_row(name, level, case, op, threads, reference):
    spec = case.spec
    row = {
        "backend": name, "level": level, "layer_sizes": case.sizes_label,
        "n_params": parameter_count(spec.layer_sizes), "batch_size": case.batch_size,
        "op": op, "dtype": spec.dtype, "activation": spec.activation, "loss": spec.loss,
        "flops": flop_count(spec.layer_sizes, case.batch_size, op),
        "blas_threads": threads["blas_threads"], "numba_threads": threads["numba_threads"],
        "status": "", "note": "", "reference": reference, "max_rel_diff": None,
        "compile_s": None, "first_call_s": None, "peak_gflops": None,
    }
    row.update(dict.fromkeys(STAT_COLUMNS))
    return row


class _Warmups:
    """``backend.prepare(spec)`` timed once per backend and spec (compilation for Numba)."""

    def __init__(self):
        self._seconds = {}

    def prepare(self, name, spec):
        key = (name, spec)
        if key not in self._seconds:
            start = time.perf_counter()
            backends.get(name).prepare(spec)
            self._seconds[key] = time.perf_counter() - start
        return self._seconds[key]


# --- the timed calls and their checked results -------------------------------------------

def make_call(name, level, case, op):
    """The timed call and a function turning its return value into a flat result.

    Returns
    -------
    call : callable with no arguments
    extract : callable, return value of ``call`` -> ndarray, shape (k,)
    """
    X, T = case.X, case.T
    if level == "mlp":
        net = MLP.from_spec(case.spec, case.params, backend=name)
        if op == "forward":
            return (lambda: net.forward(X)), np.ravel
        if op == "gradients":
            return (lambda: net.gradients(X, T)), _flat_layer_gradients
        return (lambda: net.train_step(X, T, LEARNING_RATE)), \
            (lambda loss: np.concatenate([[loss], net.flat_parameters]))
    engine, spec = backends.get(name), case.spec
    params = case.params.copy()
    if op == "forward":
        return (lambda: engine.forward(spec, params, X)), np.ravel
    if op == "gradients":
        return (lambda: engine.gradients(spec, params, X, T)), _flat_gradients
    return (lambda: engine.train_step(spec, params, X, T, LEARNING_RATE)), \
        (lambda loss: np.concatenate([[loss], params]))


def reference_result(reference, case, op):
    """The reference backend's flat result, computed in float64 from the case's values.

    Returns
    -------
    ndarray, shape (k,)
        As the ``extract`` of :func:`make_call` returns it.
    """
    spec = dataclasses.replace(case.spec, dtype="float64")
    params = case.params.astype(np.float64)
    X, T = case.X.astype(np.float64), case.T.astype(np.float64)
    engine = backends.get(reference)
    if op == "forward":
        return np.ravel(engine.forward(spec, params, X))
    if op == "gradients":
        return _flat_gradients(engine.gradients(spec, params, X, T))
    loss = engine.train_step(spec, params, X, T, LEARNING_RATE)
    return np.concatenate([[loss], params])


def _flat_gradients(loss_and_grad):
    loss, grad = loss_and_grad
    return np.concatenate([[loss], np.ravel(grad)])


def _flat_layer_gradients(loss_dweights_dbiases):
    loss, dweights, dbiases = loss_dweights_dbiases
    return np.concatenate([[loss], flatten(dweights, dbiases, "float64")])
