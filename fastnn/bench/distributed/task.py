"""The worker side of a distributed sweep: one case, measured under the machine's timing lock.

Each case is a Dask task. It runs on a worker of its machine and first takes that
machine's timing lock (a :class:`distributed.Lock` named after the machine), so that no
two timings ever overlap on one machine, however many workers it has: Dask's resources
are per worker, a lock held through the scheduler is per machine. Inside the lock:

1. the worker check, once per worker and coordinator session: its fastnn, NumPy and
   Numba versions must be the coordinator's, and every backend must pass the correctness
   gate on a small probe case; a worker that fails is *refused* (the task returns a
   :class:`Refusal` and the coordinator sends the case to another worker of the machine);
2. the case itself, through :func:`fastnn.bench.measure.sweep.measure_point` (its own gate per
   backend, warm-up, interleaved rounds), with the matmul peaks (one per dtype of the
   sweep) and the time-limited backends' FLOP rates measured once per worker and thread
   count.

The lock is held from the check to the last round; its start and stop times go into the
rows (``case_start``, ``case_stop``: seconds since the epoch, this machine's clock).
"""

from __future__ import annotations

import os
import platform
import threading
import time
from dataclasses import dataclass

from fastnn import backends
from fastnn.backends.tuning import LIBRARY_VERSIONS
from fastnn.bench.measure.gate import Warmups, checked_call, reference_result
from fastnn.bench.measure.sweep import dtype_peak, measure_point, time_limited_flop_rates
from fastnn.bench.workload.cases import make_case
from fastnn.reporting.machine import machine_record, pinned_threads

LOCK_PREFIX = "fastnn-bench-timing"
# The worker check's probe: small enough for the pure-Python reference.
PROBE_LAYER_SIZES = (5, 4, 3)
PROBE_BATCH_SIZE = 4


@dataclass(frozen=True)
class CaseTask:
    """What a worker needs to measure one case.

    Attributes
    ----------
    point : fastnn.bench.distributed.resume.CasePoint
    config : fastnn.bench.measure.sweep.SweepConfig
    versions : dict of str -> str
        The coordinator's versions of :data:`fastnn.backends.tuning.LIBRARY_VERSIONS`
        (they must match: another version changes the code timed).
    session : str
        Names the coordinator's session: each worker is checked once per session.
    """

    point: object
    config: object
    versions: dict
    session: str = ""


@dataclass(frozen=True)
class CaseResult:
    """The rows of a finished case, and who measured them when.

    Attributes
    ----------
    key : str
    rows : list of dict
        One per backend and level, with ``host``, ``worker``, ``case_start``, ``case_stop``.
    machine : dict
        The worker's :class:`~fastnn.reporting.machine.MachineRecord`.
    worker : str
        The worker's address.
    """

    key: str
    rows: list
    machine: dict
    worker: str


@dataclass(frozen=True)
class Refusal:
    """A worker that may not time: its versions differ or its numbers are wrong.

    Attributes
    ----------
    key : str
        The case it was given.
    worker : str
    host : str
    reason : str
    """

    key: str
    worker: str
    host: str
    reason: str


def lock_name(host):
    """The name of ``host``'s timing lock."""
    return f"{LOCK_PREFIX}/{host}"


def machine_name():
    """This machine's name, as :func:`fastnn.reporting.machine.machine_record` records it."""
    return platform.node()


def local_versions():
    """This process's versions of :data:`fastnn.backends.tuning.LIBRARY_VERSIONS`."""
    record = machine_record()
    return {key: getattr(record, key) for key in LIBRARY_VERSIONS}


def run_case(task):
    """Measure one case on this worker under its machine's timing lock (a Dask task).

    Parameters
    ----------
    task : CaseTask

    Returns
    -------
    CaseResult or Refusal
    """
    from distributed import Lock, get_worker

    address = get_worker().address
    point = task.point
    with Lock(lock_name(point.host)):
        start = time.time()
        reason = _worker_check(address, task)
        if reason:
            return Refusal(point.key, address, point.host, reason)
        rows = _measure(address, task)
        stop = time.time()
    extra = {"host": point.host, "worker": address, "case_start": start, "case_stop": stop}
    return CaseResult(point.key, [dict(row.as_dict(), **extra) for row in rows],
                      machine_record().as_dict(), address)


# Per worker (several thread-workers may share a process): the check's verdict, the
# matmul peak per (thread count, dtype), the FLOP rates and the warm-up times.
_WORKER_STATE = {}
_STATE_LOCK = threading.Lock()


def _state(address):
    with _STATE_LOCK:
        return _WORKER_STATE.setdefault(address, {"checks": {}, "peaks": {},
                                                  "flop_rates": None, "warmups": Warmups()})


def _worker_check(address, task):
    """Why this worker is refused for ``task``'s sweep, or ``""`` (checked once per session)."""
    checks = _state(address)["checks"]
    key = task.session
    if key not in checks:
        checks[key] = _version_mismatch(task.versions) or _probe_gate(task.config)
    return checks[key]


def _version_mismatch(expected):
    here = local_versions()
    differences = [f"{name} {here.get(name)} here, {expected.get(name)} on the coordinator"
                   for name in LIBRARY_VERSIONS if here.get(name) != expected.get(name)]
    if not differences:
        return ""
    return f"version mismatch on {machine_name()} (pid {os.getpid()}): " + "; ".join(differences)


def _probe_gate(config):
    """The correctness gate on a probe case, every backend, dtype and op of the sweep."""
    failures = []
    reference = backends.reference_backend(time_limited_ok=True)
    for dtype in config.dtypes:
        case = make_case(PROBE_LAYER_SIZES, PROBE_BATCH_SIZE, dtype, config.seed)
        for op in config.ops:
            expected = reference_result(reference, case, op)
            for name in config.backend_names():
                if dtype not in backends.get(name).dtypes:
                    continue
                try:
                    checked = checked_call(name, "backend", case, op, reference, expected)
                except Exception as exc:  # a broken backend refuses the worker, not the run
                    failures.append(f"{name} {op} {dtype}: {type(exc).__name__}: {exc}")
                    continue
                if not checked.passed:
                    failures.append(f"{name} {op} {dtype}: {checked.note}")
    if not failures:
        return ""
    return "failed the correctness gate: " + "; ".join(failures)


def _measure(address, task):
    state = _state(address)
    point, config = task.point, task.config
    with pinned_threads(point.threads) as in_force:
        if state["flop_rates"] is None:
            state["flop_rates"] = time_limited_flop_rates()
        key = (point.threads, point.dtype)
        if key not in state["peaks"]:
            state["peaks"][key] = dtype_peak(config, point.dtype, point.threads, in_force)
        case = config.make_case(point.layer_sizes, point.batch_size, point.dtype)
        return measure_point(config, config.backend_names(), case, point.op, in_force,
                             state["peaks"][key], state["flop_rates"], state["warmups"])
