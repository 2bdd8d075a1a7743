"""The sweep behind ``fastnn bench``: backends x layer sizes x batch sizes x ops x dtypes.

For every point (thread count, dtype, layer sizes, batch size, op):

1. a correctness gate (:mod:`fastnn.bench.measure.gate`): each backend's result on the case is
   compared with the reference (the backend declared ``is_reference`` where it runs in
   reasonable time, else the registry's stand-in) and only a backend within
   :data:`fastnn.testing.TOLERANCE` is timed;
2. warm-up: ``backend.prepare(spec)`` (Numba compiles here) and the first call are timed
   once and recorded apart from the run time (``compile_s``, ``first_call_s``);
3. calibrated loop counts and several rounds (:mod:`fastnn.reporting.timing`),
   interleaved across backends and levels so that a burst of noise from other processes
   hits them all alike.

Each (backend, level) gives one :class:`~fastnn.reporting.rows.Row`, also when skipped or
failed: the report says why. :func:`measure_point` measures one point on its own, for a
harness that hands points out one at a time (a remote worker).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import timeit
from dataclasses import dataclass, field
from pathlib import Path

from fastnn import backends
from fastnn.bench.measure.gate import Warmups, checked_call, reduced_check, reference_result
from fastnn.bench.measure.slowdown import maybe_slowed
from fastnn.bench.peers import peer_names
from fastnn.bench.peers.measure import PEER_LEVEL, measure_peers
from fastnn.bench.workload.cases import (
    DEFAULT_BATCH_SIZES,
    DEFAULT_DTYPES,
    DEFAULT_LAYER_SIZES,
    LEVELS,
    OPS,
    flop_count,
    make_case,
    sizes_label,
)
from fastnn.bench.workload.user_model import model_case
from fastnn.ops import SWEPT_OPS
from fastnn.params import parameter_count
from fastnn.reporting.machine import check_thread_count, matmul_peak, pinned_threads
from fastnn.reporting.noise import NoiseMonitor
from fastnn.reporting.rows import Row
from fastnn.reporting.timing import UNSTABLE_IQR_RATIO, calibrate, summarise, time_rounds
from fastnn.spec import check_name, validate_dtype, validate_layer_sizes


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
        A time-limited backend (the pure-Python one) runs a point only if its estimated
        time per call is at most this many seconds.
    unstable_ratio : float
        IQR / median above which a row is flagged unstable.
    peak_size : int
        Matrix size of the matmul peak measurements (one per dtype of the sweep).
    seed : int
    peers : tuple of str
        Peer libraries timed against the backends (:mod:`fastnn.bench.peers`).
    model : str or None
        A user's network file (``.npz`` or ``.onnx``) timed instead of the benchmark
        networks; ``layer_sizes`` then holds its sizes.
    """

    layer_sizes: tuple = DEFAULT_LAYER_SIZES
    batch_sizes: tuple = DEFAULT_BATCH_SIZES
    backends: tuple = ()
    ops: tuple = SWEPT_OPS
    dtypes: tuple = DEFAULT_DTYPES
    threads: tuple = (1,)
    levels: tuple = LEVELS
    rounds: int = 7
    min_time: float = 0.1
    python_limit: float = 0.25
    unstable_ratio: float = UNSTABLE_IQR_RATIO
    peak_size: int = 1024
    seed: int = 0
    peers: tuple = ()
    model: str | None = None

    def backend_names(self):
        """The backends to measure (validated: ValueError for unknown or unavailable).

        By default every available backend, except one that would run another's
        kernels at every batch size of the sweep (``serial_below_rows``).
        """
        names = self.backends or tuple(
            name for name in backends.available_backends()
            if backends.get(name).serial_below_rows <= max(self.batch_sizes))
        return tuple(dict.fromkeys(backends.get(name).name for name in names))

    def check(self):
        """Raise ValueError naming the first setting that cannot be swept.

        The one check of a configuration, whether it comes from the command line or
        from a saved run plan (``--resume``).
        """
        if isinstance(self.rounds, bool) or not isinstance(self.rounds, int) or self.rounds < 1:
            raise ValueError(f"--rounds must be at least 1; got {self.rounds!r}")
        for name in ("min_time", "python_limit"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value < 0:
                raise ValueError(f"--{name.replace('_', '-')} must be a non-negative number "
                                 f"(finite, in seconds); got {value!r}")
        for sizes in self.layer_sizes:
            validate_layer_sizes(sizes)
        for what, values in (("batch sizes", self.batch_sizes), ("thread counts", self.threads)):
            if not values or any(isinstance(value, bool) or not isinstance(value, int)
                                 or value < 1 for value in values):
                raise ValueError(f"{what} must be positive whole numbers; got {values!r}")
        for what, values, choices in (("op", self.ops, OPS), ("level", self.levels, LEVELS)):
            if not values:
                raise ValueError(f"no {what} to measure; choose among {', '.join(choices)}")
            for value in values:
                check_name(what, value, choices)
        for dtype in self.dtypes:
            if validate_dtype(dtype) != dtype:
                raise ValueError(f"unknown dtype {dtype!r}")
        self.backend_names()  # unknown or unavailable backends
        peer_names(self.peers)
        for threads in self.threads:
            check_thread_count(threads)
        if self.model is not None and not Path(self.model).is_file():
            raise ValueError(f"the model file {self.model} does not exist")

    def cases(self):
        """Every (dtype, layer_sizes, batch_size, op) of one thread count, in sweep order."""
        return [(dtype, sizes, batch, op) for dtype in self.dtypes
                for sizes in self.layer_sizes for batch in self.batch_sizes for op in self.ops]

    def make_case(self, layer_sizes, batch_size, dtype):
        """The case of one point: the user's network if ``model`` is set, else the benchmark's."""
        if self.model is not None:
            return model_case(self.model, batch_size, dtype, self.seed)
        return make_case(layer_sizes, batch_size, dtype, self.seed)

    def n_points(self):
        """Number of points in the sweep (all thread counts)."""
        return len(self.threads) * len(self.cases())

    def as_dict(self):
        """The settings as ``results.json`` records them."""
        data = dataclasses.asdict(self)
        data["layer_sizes"] = [sizes_label(sizes) for sizes in self.layer_sizes]
        data["backends"] = list(self.backend_names())
        return data


@dataclass
class SweepResult:
    """The rows of a sweep and what was measured along the way.

    Attributes
    ----------
    rows : list of Row
    peaks : list of dict
        The matmul peak per thread count and dtype (:func:`matmul_peaks`).
    flop_rates : dict of str -> float
        Forward FLOP/s of each time-limited backend, to estimate its time per call.
    noise : dict or None
        How busy the machine was (:mod:`fastnn.reporting.noise`).
    """

    rows: list = field(default_factory=list)
    peaks: list = field(default_factory=list)
    flop_rates: dict = field(default_factory=dict)
    noise: dict | None = None


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
    warmups = Warmups()
    monitor = NoiseMonitor().start()
    halfway, done = config.n_points() // 2, 0
    for threads in config.threads:
        with pinned_threads(threads) as in_force:
            if not result.flop_rates:
                result.flop_rates = time_limited_flop_rates()
            peaks = matmul_peaks(config, threads, in_force)
            result.peaks.extend(peaks.values())
            for dtype, sizes, batch, op in config.cases():
                case = config.make_case(sizes, batch, dtype)
                result.rows.extend(measure_point(config, names, case, op, in_force,
                                                 peaks[dtype], result.flop_rates, warmups))
                done += 1
                if done == halfway:
                    monitor.middle()
                if progress is not None:
                    progress(f"{sizes_label(sizes)} x{batch} {op} {dtype} t{threads}")
    result.noise = monitor.stop(threads=max(config.threads))
    return result


def matmul_peaks(config, threads, in_force):
    """The matmul peak in each dtype of the sweep, at the thread count in force.

    A float32 row's GFLOP/s is a fraction of sgemm's peak, a float64 row's of dgemm's:
    float32 moves half the bytes and its SIMD lanes hold twice the values.

    Parameters
    ----------
    config : SweepConfig
        Its ``dtypes``, ``peak_size`` and ``min_time``.
    threads : int
        The pass's thread count.
    in_force : dict
        The counts :func:`~fastnn.reporting.machine.pinned_threads` set.

    Returns
    -------
    dict of str -> dict
        dtype -> :func:`~fastnn.reporting.machine.matmul_peak`'s record, with ``threads``
        and the counts in force.
    """
    return {dtype: dtype_peak(config, dtype, threads, in_force) for dtype in config.dtypes}


def dtype_peak(config, dtype, threads, in_force):
    """The matmul peak in ``dtype`` (see :func:`matmul_peaks`), as the run records it."""
    return dict(matmul_peak(config.peak_size, config.min_time, dtype=dtype), threads=threads,
                **in_force)


def time_limited_flop_rates():
    """Forward FLOP/s of every time-limited backend here, measured on a small case.

    Returns
    -------
    dict of str -> float
    """
    case = make_case((64, 30, 10), 8)
    rates = {}
    for name in backends.backends_where(is_time_limited=True):
        engine = backends.get(name)
        timer = timeit.Timer(lambda engine=engine: engine.forward(case.spec, case.params, case.X))
        number = calibrate(timer, 0.02)
        (per_call,) = time_rounds([timer], [number], 3)
        rates[name] = flop_count(case.spec.layer_sizes, case.batch_size, "forward") \
            / float(per_call.min())
    return rates


def time_estimates(layer_sizes, batch_size, op, flop_rates):
    """Estimated seconds per call of ``op`` of each time-limited backend on this case."""
    flops = flop_count(layer_sizes, batch_size, op)
    return {name: flops / rate for name, rate in flop_rates.items()}


def reference_for(estimates, limit):
    """The reference of a point: the declared one if it runs within ``limit`` here."""
    reference = backends.reference_backend(time_limited_ok=True)
    return backends.reference_backend(
        time_limited_ok=estimates.get(reference, 0.0) <= limit)


def skip_reason(name, spec, estimates, limit):
    """Why backend ``name`` is not timed on this point, or ``""`` if it is.

    Parameters
    ----------
    name : str
    spec : NetworkSpec
    estimates : dict of str -> float
        Estimated seconds per call of the time-limited backends (:func:`time_estimates`).
    limit : float
    """
    backend = backends.get(name)
    if spec.dtype not in backend.dtypes:
        return f"{name} computes in {', '.join(backend.dtypes)} only"
    if backend.is_time_limited and estimates.get(name, 0.0) > limit:
        return (f"{name} estimated at {estimates[name]:.2g} s per call (> {limit:g} s "
                f"limit, --python-limit)")
    return ""


def measure_point(config, names, case, op, threads, peak, flop_rates, warmups=None):
    """Gate and time every backend and level, and every peer of ``config.peers``
    (:mod:`fastnn.bench.peers`), on one case and op, in the same interleaved rounds.

    Parameters
    ----------
    config : SweepConfig
    names : sequence of str
        The backends.
    case : fastnn.bench.workload.cases.Case
    op : str
    threads : dict
        ``{"blas_threads": .., "numba_threads": ..}`` in force.
    peak : dict
        The matmul peak in the case's dtype at these threads (``gflops``).
    flop_rates : dict of str -> float
        See :func:`time_limited_flop_rates`.
    warmups : Warmups or None

    Returns
    -------
    list of Row
        One per backend and level.
    """
    warmups = warmups or Warmups()
    spec = case.spec
    estimates = time_estimates(spec.layer_sizes, case.batch_size, op, flop_rates)
    reference = reference_for(estimates, config.python_limit)
    declared = backends.reference_backend(time_limited_ok=True)
    expected = reference_result(reference, case, op)
    rows, timed, stand_in = [], [], None
    for name in names:
        skip = skip_reason(name, spec, estimates, config.python_limit)
        for level in config.levels:
            row = case_row(name, level, case, op, threads, reference)
            rows.append(row)
            if skip:
                row.not_timed("skipped", skip)
                continue
            row.compile_s = warmups.prepare(name, spec)
            try:
                checked = checked_call(name, level, case, op, reference, expected)
                if checked.passed and name == reference != declared:
                    if stand_in is None:  # once per point, whatever the level
                        stand_in = reduced_check(name, case, op, declared)
                    checked = _stand_in_checked(checked, stand_in)
            except Exception as exc:  # a broken backend is reported, not fatal to the run
                row.not_timed("error", f"{type(exc).__name__}: {exc}")
                continue
            row.first_call_s, row.max_rel_diff = checked.first_call_s, checked.max_rel_diff
            if not checked.passed:
                row.not_timed("failed", f"{checked.note}; not timed")
                continue
            # Every round starts from the gated state (train_step moves the parameters).
            call = maybe_slowed(checked.call, name, op)  # test-only, unset in real runs
            timed.append((row, timeit.Timer(call, setup=checked.reset or "pass")))
    with contextlib.ExitStack() as peer_pins:  # the peers' threads, until they are timed
        rows.extend(measure_peers(
            config.peers, case, op, threads, reference, expected, timed, peer_pins,
            lambda name: case_row(name, PEER_LEVEL, case, op, threads, reference)))
        _time_interleaved(config, timed, peak)
    return rows


def _stand_in_checked(checked, reduced):
    """The stand-in reference's gate, failed if it disagreed with the declared reference on
    a reduced case (:func:`fastnn.bench.measure.gate.reduced_check`).

    Where the declared reference is over its time limit, the stand-in is the reference of
    the point: checking it against its own result would pass anything, so it is checked
    against the declared reference on the case's first rows (same weights) instead.
    """
    if reduced.passed:  # its difference is the one against the declared reference
        return dataclasses.replace(checked, max_rel_diff=reduced.max_rel_diff)
    return dataclasses.replace(checked, passed=False, max_rel_diff=reduced.max_rel_diff,
                               note=f"on the first rows of the batch, {reduced.note}")


def case_row(name, level, case, op, threads, reference):
    """The :class:`Row` of one backend and level on a case, before it is measured."""
    spec = case.spec
    return Row(backend=name, level=level, layer_sizes=case.sizes_label,
               n_params=parameter_count(spec.layer_sizes), batch_size=case.batch_size,
               op=op, dtype=spec.dtype, activation=spec.activation, loss=spec.loss,
               flops=flop_count(spec.layer_sizes, case.batch_size, op),
               blas_threads=threads["blas_threads"], numba_threads=threads["numba_threads"],
               reference=reference)


def _time_interleaved(config, timed, peak):
    if not timed:
        return
    numbers = [calibrate(timer, config.min_time) for _, timer in timed]
    # Rotated: round r starts with the r-th timer, so that no backend always runs first.
    per_call = time_rounds([timer for _, timer in timed], numbers, config.rounds, rotate=True)
    for (row, _), times, number in zip(timed, per_call, numbers):
        row.timed(summarise(times, number, config.unstable_ratio), peak["gflops"])
        row.samples_s = [float(value) for value in times]
