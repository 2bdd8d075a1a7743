"""Timing with the standard library's ``timeit``: calibrated, interleaved, pinned to one thread.

Every case is calibrated once (``Timer.autorange``'s doubling rule with a configurable
minimum), then the cases are timed round by round, interleaved and in a rotating order,
so a burst of load from other processes on this shared machine hits all of them alike.
The summary is the median per call with the interquartile range.
"""

from __future__ import annotations

import contextlib
import timeit
from dataclasses import dataclass

import numpy as np


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

    @property
    def median(self):
        return float(np.median(self.per_call))

    @property
    def q1(self):
        return float(np.percentile(self.per_call, 25))

    @property
    def q3(self):
        return float(np.percentile(self.per_call, 75))

    @property
    def relative_iqr(self):
        """Interquartile range over the median."""
        return (self.q3 - self.q1) / self.median if self.median > 0 else 0.0


def calibrate(function, min_time):
    """Calls per round so that one round lasts at least ``min_time`` seconds.

    The rule of ``timeit.Timer.autorange`` (1, 2, 5, 10, 20, 50, ...) with its 0.2 s
    made a parameter, so a quick run can use shorter rounds.
    """
    timer = timeit.Timer(function)
    multiplier = 1
    while True:
        for factor in (1, 2, 5):
            number = multiplier * factor
            if timer.timeit(number) >= min_time:
                return number
        multiplier *= 10


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
    numbers = {name: calibrate(function, min_time) for name, function in functions.items()}
    timers = {name: timeit.Timer(function) for name, function in functions.items()}
    names = list(functions)
    per_call = {name: [] for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            per_call[name].append(timers[name].timeit(numbers[name]) / numbers[name])
    return {name: Timing(tuple(per_call[name]), numbers[name]) for name in names}


def time_repeated(function, rounds):
    """Seconds of ``rounds`` separate calls of a long-running ``function`` (number=1)."""
    timer = timeit.Timer(function)
    return Timing(tuple(timer.repeat(repeat=rounds, number=1)), 1)


@contextlib.contextmanager
def single_threaded():
    """Pin BLAS/OpenMP pools and Numba to one thread; yields what was set.

    Yields
    ------
    dict
        ``{"blas_threads": 1, "numba_threads": 1 or None, "blas_libraries": [...]}``
        (None: Numba not importable); the libraries as threadpoolctl sees them, pinned.
    """
    from threadpoolctl import threadpool_info, threadpool_limits

    # threadpoolctl limits only the libraries already loaded; Numba's np.dot uses SciPy's
    # own OpenBLAS, which would otherwise load lazily, after the limit, at compile time.
    with contextlib.suppress(ImportError):
        import scipy.linalg.cython_blas  # noqa: F401
    settings = {"blas_threads": 1, "numba_threads": None}
    with threadpool_limits(limits=1):
        settings["blas_libraries"] = [
            f"{pool.get('internal_api')} ({_short_path(pool.get('filepath', ''))}): "
            f"{pool.get('num_threads')}"
            for pool in threadpool_info()]
        try:
            import numba
        except ImportError:
            yield settings
            return
        previous = numba.get_num_threads()
        numba.set_num_threads(1)
        settings["numba_threads"] = 1
        try:
            yield settings
        finally:
            numba.set_num_threads(previous)


def _short_path(filepath):
    """The library's folder and file name: which package's copy of BLAS it is."""
    parts = filepath.replace("\\", "/").split("/")
    return "/".join(parts[-2:])
