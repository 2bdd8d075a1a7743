"""The reproduction's timings: raw per-round values, interleaved in a rotating order.

Calibration, the interleaved rounds and their statistics are :mod:`fastnn.timing`'s;
thread pinning is :mod:`fastnn.config`'s. What is the reproduction's own: a
:class:`Timing` keeps every round's value (``results.json`` records them, and per-pass
times are scaled from them), the rounds rotate their starting case so a burst of load
from other processes on this shared machine hits all cases alike, and the thread
settings record every library threadpoolctl sees.
"""

from __future__ import annotations

import contextlib
import timeit
from dataclasses import dataclass
from functools import cached_property

from fastnn import config
from fastnn.timing import calibrate, summarise, time_rounds


@dataclass(frozen=True)
class Timing:
    """Seconds per call, one value per round.

    Attributes
    ----------
    per_call : tuple of float
    number : int
        Calls per round.
    """

    per_call: tuple
    number: int

    @cached_property
    def _summary(self):
        return summarise(self.per_call, self.number)

    @property
    def median(self):
        return self._summary.median

    @property
    def q1(self):
        return self._summary.q1

    @property
    def q3(self):
        return self._summary.q3

    @property
    def relative_iqr(self):
        """Interquartile range over the median."""
        return self._summary.iqr / self.median if self.median > 0 else 0.0


def interleaved(functions, rounds, min_time):
    """Time several zero-argument callables against each other.

    Parameters
    ----------
    functions : dict of str -> callable
    rounds : int
        Timed rounds per callable (after one calibration).
    min_time : float
        Seconds per round, at least.

    Returns
    -------
    dict of str -> Timing
    """
    timers = [timeit.Timer(function) for function in functions.values()]
    numbers = [calibrate(timer, min_time) for timer in timers]
    per_call = time_rounds(timers, numbers, rounds, rotate=True)
    return {name: Timing(tuple(times.tolist()), number)
            for name, times, number in zip(functions, per_call, numbers)}


@contextlib.contextmanager
def single_threaded():
    """Pin BLAS/OpenMP pools and Numba to one thread; yields what was set.

    :func:`fastnn.config.pinned_threads` with one thread, recording every library.

    Yields
    ------
    dict
        ``{"blas_threads": 1, "numba_threads": 1 or None, "blas_libraries": [...]}``
        (None: Numba not importable); the libraries as threadpoolctl sees them, pinned.
    """
    with config.pinned_threads(1, with_pools=True) as in_force:
        pools = in_force.pop("pools")
        in_force["blas_libraries"] = [
            f"{pool.get('internal_api')} ({_short_path(pool.get('filepath', ''))}): "
            f"{pool.get('num_threads')}"
            for pool in pools]
        yield in_force


def _short_path(filepath):
    """The library's folder and file name: which package's copy of BLAS it is."""
    parts = filepath.replace("\\", "/").split("/")
    return "/".join(parts[-2:])
