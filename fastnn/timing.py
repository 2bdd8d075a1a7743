"""Calibrated loop counts, interleaved rounds and their summary statistics.

Shared by the benchmark harness (:mod:`fastnn.bench`) and the reproduction
(:mod:`fastnn.reproduce`). The loop count comes from the standard library's
``timeit.Timer.autorange`` (the 1, 2, 5, 10, 20, 50, ... ladder ``python -m timeit``
uses); its callback stops the ladder early once a round lasts ``min_time`` seconds, so
that quick runs and tests can use a shorter round than autorange's fixed 0.2 s.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    rounds : int
    rotate : bool
        Start each round one timer later than the previous one (round ``r`` runs
        ``timers[r % n:] + timers[:r % n]``), so that no timer always runs first.

    Returns
    -------
    list of ndarray, each shape (rounds,)
        Per-call seconds of each round, per timer.
    """
    times = [np.empty(rounds) for _ in timers]
    order = list(range(len(timers)))
    for round_index in range(rounds):
        shift = round_index % len(order) if rotate and order else 0
        for index in order[shift:] + order[:shift]:
            times[index][round_index] = timers[index].timeit(numbers[index]) / numbers[index]
    return times


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

