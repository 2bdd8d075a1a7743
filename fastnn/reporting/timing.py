"""The one timing loop: calibrated loop counts, interleaved rounds, their statistics.

Shared by the benchmark harness (:mod:`fastnn.bench`), the reproduction
(:mod:`fastnn.reproduce`) and the matmul peak. Rounds are interleaved across the
cases timed together (one round of each, then the next), so that a burst of noise
from other processes hits them all alike. The loop count comes from the standard library's
``timeit.Timer.autorange`` (the 1, 2, 5, 10, 20, 50, ... ladder ``python -m timeit``
uses); its callback stops the ladder early once a round lasts ``min_time`` seconds, so
that quick runs and tests can use a shorter round than autorange's fixed 0.2 s.
"""

from __future__ import annotations

import timeit
from dataclasses import dataclass
from functools import cached_property

import numpy as np

# A measurement whose interquartile range exceeds this fraction of its median is
# flagged unstable (pyperf warns at a standard deviation above 10 % of the mean).
UNSTABLE_IQR_RATIO = 0.10


@dataclass(frozen=True)
class Summary:
    """Statistics of the per-call times of several rounds, in seconds.

    Attributes
    ----------
    number : int
        Calls per round (the calibrated loop count).
    rounds : int
    min, median, q1, q3, iqr, mean : float
        Of the per-call time of each round (round time / ``number``).
    unstable : bool
        ``iqr / median`` above the threshold the summary was made with.
    """

    number: int
    rounds: int
    min: float
    median: float
    q1: float
    q3: float
    iqr: float
    mean: float
    unstable: bool

    def as_dict(self):
        return {"number": self.number, "rounds": self.rounds, "min_s": self.min,
                "median_s": self.median, "q1_s": self.q1, "q3_s": self.q3,
                "iqr_s": self.iqr, "mean_s": self.mean, "unstable": self.unstable}


class _RoundLongEnough(Exception):
    """Raised from the autorange callback to stop the ladder early."""

    def __init__(self, number):
        super().__init__(number)
        self.number = number


def calibrate(timer, min_time=0.2):
    """Calls per round so that one round lasts at least ``min_time`` seconds.

    Parameters
    ----------
    timer : timeit.Timer
    min_time : float
        Target round duration; values of 0.2 s and above give autorange's own choice.

    Returns
    -------
    int
    """
    def stop_when_long_enough(number, time_taken):
        if time_taken >= min_time:
            raise _RoundLongEnough(number)

    try:
        number, _ = timer.autorange(stop_when_long_enough)
    except _RoundLongEnough as stop:
        number = stop.number
    return number


def time_rounds(timers, numbers, rounds, rotate=False):
    """Time several timers round by round, interleaved, so that noise hits them alike.

    Parameters
    ----------
    timers : list of timeit.Timer
    numbers : list of int
        Calls per round for each timer.
    rounds : int or list of int
        Rounds of every timer, or of each one: a timer with fewer rounds (a slow
        reference) sits out the later rounds.
    rotate : bool
        Start each round one timer later than the previous one (round ``r`` runs
        ``timers[r % n:] + timers[:r % n]``), so that no timer always runs first.

    Returns
    -------
    list of ndarray, shape (rounds of that timer,)
        Per-call seconds of each round, per timer.
    """
    counts = [rounds] * len(timers) if isinstance(rounds, int) else list(rounds)
    times = [np.empty(count) for count in counts]
    order = list(range(len(timers)))
    for round_index in range(max(counts, default=0)):
        shift = round_index % len(order) if rotate and order else 0
        for index in order[shift:] + order[:shift]:
            if round_index < counts[index]:
                times[index][round_index] = \
                    timers[index].timeit(numbers[index]) / numbers[index]
    return times


def fresh_state_timer(run, make_state):
    """A ``timeit.Timer`` of ``run(state)`` with a new ``make_state()`` before each round.

    The state is made in the timer's setup, outside the timed region: a training pass
    that updates its parameters in place starts every round from the same point.
    """
    holder = {}

    def setup():
        holder["state"] = make_state()

    return timeit.Timer(lambda: run(holder["state"]), setup=setup)


@dataclass(frozen=True)
class Timing:
    """Seconds per call, one value per round, and their statistics.

    Where :class:`Summary` keeps the statistics only, a Timing keeps every round
    (``fastnn reproduce`` records them, and scales them to per-pass times).

    Attributes
    ----------
    per_call : tuple of float
    number : int
        Calls per round.
    """

    per_call: tuple
    number: int

    @cached_property
    def summary(self):
        return summarise(self.per_call, self.number)

    @property
    def median(self):
        return self.summary.median

    @property
    def q1(self):
        return self.summary.q1

    @property
    def q3(self):
        return self.summary.q3

    @property
    def relative_iqr(self):
        """Interquartile range over the median."""
        return self.summary.iqr / self.median if self.median > 0 else 0.0

    def scaled(self, factor):
        """The same rounds multiplied by ``factor`` (e.g. from a subset to a whole pass)."""
        return Timing(tuple(float(np.float64(value) * factor) for value in self.per_call),
                      self.number)


def interleaved(functions, rounds, min_time, rotate=True):
    """Time several zero-argument callables against each other, calibrated and interleaved.

    Parameters
    ----------
    functions : dict of str -> callable
    rounds : int
        Timed rounds per callable (after one calibration).
    min_time : float
        Seconds per round, at least.
    rotate : bool
        See :func:`time_rounds`.

    Returns
    -------
    dict of str -> Timing
    """
    timers = [timeit.Timer(function) for function in functions.values()]
    numbers = [calibrate(timer, min_time) for timer in timers]
    per_call = time_rounds(timers, numbers, rounds, rotate=rotate)
    return {name: Timing(tuple(times.tolist()), number)
            for name, times, number in zip(functions, per_call, numbers)}


def summarise(per_call, number, unstable_ratio=UNSTABLE_IQR_RATIO):
    """Summary statistics of per-call times.

    Parameters
    ----------
    per_call : array-like, shape (rounds,)
        Seconds per call of each round.
    number : int
        Calls per round.
    unstable_ratio : float

    Returns
    -------
    Summary
    """
    per_call = np.asarray(per_call, dtype=np.float64)
    q1, median, q3 = np.percentile(per_call, [25, 50, 75])
    iqr = q3 - q1
    return Summary(number=int(number), rounds=int(per_call.size), min=float(per_call.min()),
                   median=float(median), q1=float(q1), q3=float(q3), iqr=float(iqr),
                   mean=float(per_call.mean()),
                   unstable=bool(median > 0 and iqr / median > unstable_ratio))

