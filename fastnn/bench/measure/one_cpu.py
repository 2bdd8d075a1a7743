"""Hold every thread of this process to one CPU for a timing (Linux ``sched_setaffinity``).

Keras on JAX runs its computations on XLA's own thread pools. The XLA flags usually
given for one thread (``--xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1``) did not keep XLA to one thread with jax 0.10 here: its
Eigen pool threads still took CPU time beside the main thread (measured per thread from
``/proc/self/task/*/stat``). The CPU affinity of every thread does hold: the threads that
exist are moved to one CPU, the threads created inside inherit it (XLA also sizes its
pools from the affinity), and the process can use at most one CPU's time — which
:class:`CpuClock` measures as CPU time over wall time (at most 1).

Elsewhere (no ``sched_setaffinity``) nothing is pinned and :func:`one_cpu` says so.
"""

from __future__ import annotations

import contextlib
import os
import time

TASKS = "/proc/self/task"


@contextlib.contextmanager
def one_cpu():
    """Pin every thread of the process to the lowest CPU it may use; restore on exit.

    Yields
    ------
    str
        How the threads were pinned (or why they were not), for the report.
    """
    if not hasattr(os, "sched_setaffinity") or not os.path.isdir(TASKS):
        yield "not pinned: this platform has no sched_setaffinity"
        return
    allowed = os.sched_getaffinity(0)
    cpu = min(allowed)
    _set_all({cpu})
    try:
        yield f"every thread of the process pinned to CPU {cpu} (sched_setaffinity)"
    finally:
        _set_all(allowed)


def _set_all(cpus):
    for task in os.listdir(TASKS):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setaffinity(int(task), cpus)


class CpuClock:
    """Wall time and the process's CPU time (all threads) of a block.

    Attributes
    ----------
    started : float
        ``time.perf_counter()`` when the block began.
    wall, cpu : float
        Seconds, set when the block ends.
    """

    started = wall = cpu = float("nan")

    def __enter__(self):
        self.started, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.started
        self.cpu = time.process_time() - self._cpu
        return False
