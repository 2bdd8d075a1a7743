"""A benchmark sweep on Dask distributed workers: connecting, scheduling, collecting.

``fastnn bench --scheduler ADDRESS`` (a running ``dask.distributed`` scheduler) or
``--scheduler local:N`` (a ``LocalCluster`` of N worker processes, one thread each).

The same sweep runs on every machine of the cluster, one Dask task per case and machine
(:class:`fastnn.bench.distributed.resume.CasePoint`), restricted to that machine's workers; on the
worker the task takes the machine's timing lock (:mod:`fastnn.bench.distributed.task`),
so a machine with several workers still times one case at a time, and its workers stand
in for each other when one dies. The coordinator (this process) writes each result into
the run folder's case log as it arrives, one file per case, atomically, keyed by the
case: a case rerun after a worker died is written once.

Faults:

- a worker dies: the scheduler reruns its case on another worker of the machine (Dask
  gives up after ``distributed.scheduler.allowed-failures`` deaths: KilledWorker); a
  machine with no worker left for :data:`LOST_MACHINE_GRACE_S` seconds has its remaining
  cases listed as not measured, with the reason;
- a worker whose versions differ from the coordinator's, or whose numbers fail the gate,
  is refused (named in the report) and its case goes to another worker of the machine;
- Ctrl-C or a lost scheduler: the finished cases stay in the run folder;
  ``fastnn bench --resume RUNDIR`` measures the rest.
"""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field

from fastnn.bench.distributed.task import (
    CaseResult,
    CaseTask,
    Refusal,
    local_versions,
    machine_name,
    run_case,
)
from fastnn.optional import import_optional
from fastnn.reporting.results import CaseLog

# Seconds to wait for the scheduler to answer, and for a first worker to join it.
CONNECT_TIMEOUT_S = 5.0
WORKERS_TIMEOUT_S = 30.0
# A machine without a usable worker for this long gives up its remaining cases (a
# killed worker's nanny usually restarts it within a few seconds).
LOST_MACHINE_GRACE_S = 10.0
# How often the coordinator collects results and looks at the workers.
POLL_S = 0.05
WATCH_S = 0.5
# A LocalCluster's lock lease: a killed worker's timing lock is released after this long
# (a real scheduler uses its own distributed.scheduler.locks settings; Dask's default
# lease is 30 s).
LOCAL_LOCK_LEASE = {"distributed.scheduler.locks.lease-timeout": "5s",
                    "distributed.scheduler.locks.lease-validation-interval": "0.5s"}
_LOCAL = re.compile(r"local:(\d+)")


class SchedulerError(ValueError):
    """The scheduler cannot be reached or has no workers (a usage error: exit status 2)."""


@contextlib.contextmanager
def connect(scheduler, timeout=None, workers_timeout=None):
    """A Dask client on ``scheduler``; closes it (and a local cluster) on exit.

    Parameters
    ----------
    scheduler : str
        A scheduler address (``tcp://host:8786``, ``host:8786``) or ``local:N``.
    timeout : float or None
        Seconds to wait for the scheduler to answer (None: :data:`CONNECT_TIMEOUT_S`).
    workers_timeout : float or None
        Seconds to wait for a first worker, for ``local:N`` for all N (None:
        :data:`WORKERS_TIMEOUT_S`).

    Yields
    ------
    distributed.Client

    Raises
    ------
    SchedulerError
        If the address is malformed, nothing answers there in ``timeout`` seconds, or no
        worker joins in ``workers_timeout`` seconds.
    ImportError
        If Dask distributed is not installed, naming ``pip install "fastnn[distributed]"``
        (exit status 2 on the command line, as :mod:`fastnn.cli` maps it).
    """
    distributed = import_optional("distributed", extra="distributed",
                                  purpose="fastnn bench --scheduler")
    dask = import_optional("dask", extra="distributed", purpose="fastnn bench --scheduler")
    n_local = local_worker_count(scheduler)
    timeout = CONNECT_TIMEOUT_S if timeout is None else timeout
    workers_timeout = WORKERS_TIMEOUT_S if workers_timeout is None else workers_timeout
    previous_disable = logging.root.manager.disable
    try:
        with contextlib.ExitStack() as stack:
            if n_local is not None:
                stack.enter_context(dask.config.set(LOCAL_LOCK_LEASE))
                with _sigint_ignored():  # inherited by the worker processes started now
                    cluster = stack.enter_context(distributed.LocalCluster(
                        n_workers=n_local, threads_per_worker=1, processes=True,
                        dashboard_address=":0", silence_logs=logging.ERROR))
                address, wanted = cluster.scheduler_address, n_local
            else:
                address, wanted = _checked_address(distributed, scheduler), 1
            try:
                client = distributed.Client(address, timeout=timeout, set_as_default=False)
            except OSError as exc:
                raise SchedulerError(f"cannot reach the Dask scheduler at {scheduler!r} "
                                     f"within {timeout:g} s: {exc}") from None
            stack.callback(client.close)
            if n_local is not None:  # runs before the client and the cluster close
                stack.callback(_quiet_local_shutdown, client)
            try:
                client.wait_for_workers(wanted, timeout=workers_timeout)
            except TimeoutError:
                raise SchedulerError(f"the Dask scheduler at {scheduler!r} has no workers "
                                     f"(waited {workers_timeout:g} s)") from None
            try:
                yield client
            except BaseException:
                if n_local is not None:  # the in-process scheduler's shutdown noise, too
                    logging.disable(logging.CRITICAL)
                raise
    finally:
        logging.disable(previous_disable)


@contextlib.contextmanager
def _sigint_ignored():
    """Ctrl-C ignored while a local cluster starts its worker processes.

    Ctrl-C reaches every process of the terminal's process group: the local workers
    would each die with a traceback (and their timing locks with lease errors). Started
    with SIGINT ignored (a disposition kept across exec, which Python and asyncio then
    leave alone), they stop only when the coordinator closes the cluster, and Ctrl-C
    gives one line. Only the main thread may set signal handlers; elsewhere nothing
    changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _quiet_local_shutdown(client):
    """Silence the local workers' logs before the cluster closes them.

    A worker closed while its task holds the machine's timing lock logs the lock's
    failing lease refreshes (tracebacks) until it exits; the sweep's own message has
    already said what happened, and the finished cases are kept.
    """
    with contextlib.suppress(Exception):
        if client.status == "running":
            client.run(_silence_logs, on_error="ignore")


def _silence_logs():
    # Dask's logging configuration gives some loggers (tornado.application) their own
    # levels: disabled here at once, in the worker process only.
    logging.disable(logging.CRITICAL)


def local_worker_count(scheduler):
    """N for ``"local:N"``; None for an address. ValueError for ``local:`` without N >= 1."""
    if not scheduler.startswith("local"):
        return None
    match = _LOCAL.fullmatch(scheduler)
    if not match or int(match.group(1)) < 1:
        raise SchedulerError(f"--scheduler {scheduler!r}: write local:N with N >= 1 "
                             f"worker processes, or a scheduler address such as "
                             f"tcp://host:8786")
    return int(match.group(1))


def _checked_address(distributed, scheduler):
    try:
        distributed.comm.parse_address(scheduler)
        return distributed.comm.resolve_address(scheduler)
    except (ValueError, TypeError, OSError) as exc:
        raise SchedulerError(f"--scheduler {scheduler!r} is not a scheduler address "
                             f"({exc}); write tcp://host:8786 or local:N") from None


def worker_machines(client, known=None):
    """The machine of every worker now connected.

    Parameters
    ----------
    client : distributed.Client
    known : dict of str -> str or None
        Workers already asked (address -> machine); only new ones are asked.

    Returns
    -------
    dict of str -> str
        Worker address -> machine name.
    """
    known = known or {}
    addresses = list(client.scheduler_info(n_workers=-1)["workers"])
    new = [address for address in addresses if address not in known]
    answers = client.run(machine_name, workers=new, on_error="ignore") if new else {}
    return {address: known.get(address) or answers[address] for address in addresses
            if address in known or isinstance(answers.get(address), str)}


@dataclass
class SweepOutcome:
    """How a distributed sweep ended.

    Attributes
    ----------
    measured : list of str
        Keys of the cases measured in this session.
    not_measured : dict of str -> str
        Case key -> why it was not measured.
    refused : dict of str -> str
        Worker address -> why it was refused.
    lost_workers : dict of str -> str
        Worker address -> what happened when it left mid-sweep (its machine, the cases
        then pending on it, and whether they ran on its other workers or waited for one).
    """

    measured: list = field(default_factory=list)
    not_measured: dict = field(default_factory=dict)
    refused: dict = field(default_factory=dict)
    lost_workers: dict = field(default_factory=dict)


def _lost_worker_fate(host, pending, n_others, grace_s):
    """What happens to the cases pending on ``host`` when one of its workers is lost."""
    if not pending:
        return "no case was pending on its machine"
    cases = f"{len(pending)} case(s) pending on {host} ({', '.join(pending)})"
    if n_others:
        return (f"the {cases} run on its {n_others} other worker(s) (Dask resubmits those "
                f"the lost worker held)")
    return (f"{host} has no worker left: the {cases} wait up to {grace_s:g} s for a worker "
            f"on it, then are recorded as not measured (finish them with --resume)")


class Coordinator:
    """Hands the cases of a plan to the workers and writes each result as it arrives.

    Parameters
    ----------
    client : distributed.Client
    plan : fastnn.bench.distributed.resume.RunPlan
    folder : path-like
        The run folder (its case log receives the results).
    points : list of fastnn.bench.distributed.resume.CasePoint
        The cases to measure (those of the plan not yet in the log).
    progress : callable or None
        Called as ``progress(key)`` after each case is written or given up.
    grace_s : float or None
        See :data:`LOST_MACHINE_GRACE_S` (its value when None).
    """

    def __init__(self, client, plan, folder, points, progress=None,
                 grace_s=None):
        self.client, self.plan, self.log = client, plan, CaseLog(folder)
        self.progress = progress
        self.grace_s = LOST_MACHINE_GRACE_S if grace_s is None else grace_s
        self.versions = local_versions()
        self.session = uuid.uuid4().hex
        self.outcome = SweepOutcome(refused=dict(plan.refused))
        self.machines = {}          # worker address -> machine
        self.refused_on = {}        # refused worker address -> its machine
        self.waiting = {point.key: point for point in points}   # no usable worker yet
        self.pending = {}           # key -> (future, point, addresses)
        self.machine_lost_since = {}
        self._attempts = 0

    def run(self):
        """Measure every case (or give it up); returns a :class:`SweepOutcome`.

        Raises
        ------
        ConnectionError
            If the scheduler is lost: the cases written so far stay in the run folder.
        KeyboardInterrupt
            Likewise; the pending tasks are cancelled first.
        """
        try:
            next_watch = 0.0
            while self.waiting or self.pending:
                if time.monotonic() >= next_watch:
                    self._watch()
                    next_watch = time.monotonic() + WATCH_S
                self._collect()
                time.sleep(POLL_S)
        except BaseException:
            self._cancel_pending()
            raise
        return self.outcome

    def _watch(self):
        """Re-target cases whose workers are gone; give up on machines with none left."""
        self._check_scheduler()
        previous = self.machines
        self.machines = worker_machines(self.client, self.machines)
        for address in sorted(set(previous) - set(self.machines)):
            self._note_lost_worker(address, previous[address])
        for key, (future, point, addresses) in list(self.pending.items()):
            if not set(addresses) & set(self.machines) and not future.done():
                future.cancel()
                del self.pending[key]
                self.waiting[key] = point
        now = time.monotonic()
        for key, point in list(self.waiting.items()):
            addresses = self._usable_workers(point.host)
            if addresses:
                self.machine_lost_since.pop(point.host, None)
                del self.waiting[key]
                self._submit(point, addresses)
            elif now - self.machine_lost_since.setdefault(point.host, now) >= self.grace_s:
                del self.waiting[key]
                self._give_up(point, self._no_worker_reason(point.host))

    def _note_lost_worker(self, address, host):
        """Record a worker gone mid-sweep, and what happens to the cases pending on its
        machine (called after :attr:`machines` is refreshed); the run record and the
        report say so. Which of them the lost worker itself held, Dask no longer says:
        the note lists the cases pending on its machine."""
        pending = sorted(key for key, (_, point, _) in self.pending.items()
                         if point.host == host)
        others = self._usable_workers(host)
        note = f"worker on {host} left mid-sweep; " + _lost_worker_fate(
            host, pending, len(others), self.grace_s)
        self.outcome.lost_workers[address] = note
        self.plan.lost_workers[address] = note
        logging.getLogger(__name__).warning("lost worker %s: %s", address, note)

    def _usable_workers(self, host):
        return sorted(address for address, machine in self.machines.items()
                      if machine == host and address not in self.outcome.refused)

    def _submit(self, point, addresses):
        self._attempts += 1
        future = self.client.submit(
            run_case, CaseTask(point, self.plan.config, self.versions, self.session),
            key=f"fastnn-case-{self._attempts}-{point.key}", workers=addresses,
            allow_other_workers=False, pure=False)
        self.pending[point.key] = (future, point, addresses)

    def _collect(self):
        for key, (future, point, _) in list(self.pending.items()):
            if future.status == "finished":
                del self.pending[key]
                self._accept(point, future.result())
            elif future.status == "error":
                del self.pending[key]
                self._give_up(point, _error_reason(future.exception()))
            elif future.status in ("cancelled", "lost"):
                self._check_scheduler()
                del self.pending[key]
                self.waiting[key] = point

    def _accept(self, point, result):
        if isinstance(result, Refusal):
            self.outcome.refused[result.worker] = result.reason
            self.refused_on[result.worker] = result.host
            self.plan.refused[result.worker] = result.reason
            logging.getLogger(__name__).warning("refused worker %s: %s", result.worker,
                                                result.reason)
            self.waiting[point.key] = point
            return
        if not isinstance(result, CaseResult):
            raise TypeError(f"unexpected task result {type(result).__name__}")
        self.log.write(point.key, result.rows, result.machine)
        self.outcome.measured.append(point.key)
        self._advance(point.key)

    def _give_up(self, point, reason):
        self.outcome.not_measured[point.key] = reason
        self._advance(point.key)

    def _advance(self, key):
        if self.progress is not None:
            self.progress(key)

    def _no_worker_reason(self, host):
        refused = [f"{address}: {reason}" for address, reason in self.outcome.refused.items()
                   if self.refused_on.get(address) == host]
        if refused:
            return f"every worker on {host} was refused ({'; '.join(refused)})"
        return f"no worker left on {host} (waited {self.grace_s:g} s for one)"

    def _check_scheduler(self):
        if self.client.status not in ("running", "connecting"):
            raise ConnectionError(f"lost the Dask scheduler (client {self.client.status})")

    def _cancel_pending(self):
        futures = [future for future, _, _ in self.pending.values()]
        with contextlib.suppress(Exception):
            if futures and self.client.status == "running":
                self.client.cancel(futures)


def _error_reason(exc):
    name = type(exc).__name__
    if name == "KilledWorker":
        return f"its worker died every time it ran it ({exc})"
    return f"the task failed: {name}: {exc}"
