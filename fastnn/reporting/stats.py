"""The statistics of raw per-round samples: speedup intervals and significance.

Two rules, each used everywhere it applies:

- **A speedup and its 95 % interval** (:func:`speedup_interval`): the rounds of a point
  are interleaved across its backends, so round ``i`` of backend A and round ``i`` of
  backend B ran back to back and share the machine's state. The speedup is the median of
  the paired per-round ratios, and its interval is the distribution-free interval for a
  median from order statistics (the binomial sign-test interval: no bootstrap, no
  randomness, exact coverage under independence of rounds). An interval that spans 1 is
  "no clear winner" (:func:`is_tie`), in reports, in ``fastnn tune`` and so in
  ``backend="auto"``'s table.
- **A change between two runs** (:func:`change_test`): the rounds of two runs are not
  paired, so the two samples are compared with a two-sided Mann-Whitney U test
  (``scipy.stats.mannwhitneyu``, exact for small samples), and the p-values of all the
  measurements compared are corrected with Holm's step-down method (:func:`holm`),
  which keeps the chance of any false alarm among them at the stated level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
ALPHA = 0.05


@dataclass(frozen=True)
class Interval:
    """A ratio (e.g. a speedup) with its interval.

    Attributes
    ----------
    value : float
        Median of the paired per-round ratios.
    low, high : float
    coverage : float
        The interval's exact coverage (at least the asked level when ``pairs`` allow it).
    pairs : int
        Rounds with a time on both sides.
    """

    value: float
    low: float
    high: float
    coverage: float
    pairs: int

    @property
    def enough(self):
        """True when the pairs reach the asked level (6 pairs for 95 %)."""
        return self.coverage >= LEVEL

    def as_dict(self):
        return {"value": self.value, "low": self.low, "high": self.high,
                "coverage": self.coverage, "pairs": self.pairs}


def as_samples(values):
    """Per-round seconds as a float array (None, NaN or a missing list: no rounds).

    Parameters
    ----------
    values : sequence of float or None, or None

    Returns
    -------
    ndarray, shape (rounds,)
        NaN where a round has no time (a backend that sat it out).
    """
    if values is None or (isinstance(values, float) and math.isnan(values)):
        return np.empty(0)
    return np.array([np.nan if value is None else float(value) for value in values])


def median_interval(values, level=LEVEL):
    """The order-statistic interval for the median of ``values``.

    For ``n`` sorted values, ``[x(k), x(n + 1 - k)]`` covers the median with
    probability ``1 - 2 P(Binomial(n, 1/2) < k)``; ``k`` is the largest with coverage
    at least ``level`` (``k = 1``, the range, when even that falls short).

    Parameters
    ----------
    values : array-like, shape (n,)
    level : float

    Returns
    -------
    low, high, coverage : float
    """
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    n = ordered.size
    if n == 0:
        return math.nan, math.nan, 0.0
    best_k, best_coverage = 1, _coverage(n, 1)
    for k in range(2, n // 2 + 1):
        coverage = _coverage(n, k)
        if coverage < level:
            break
        best_k, best_coverage = k, coverage
    return float(ordered[best_k - 1]), float(ordered[n - best_k]), best_coverage


def _coverage(n, k):
    tail = sum(math.comb(n, i) for i in range(k)) / 2.0 ** n
    return 1.0 - 2.0 * tail


def speedup_interval(baseline, candidate, level=LEVEL):
    """How many times faster ``candidate`` is than ``baseline``, from paired rounds.

    Parameters
    ----------
    baseline, candidate : sequence of float, shape (rounds,)
        Per-round seconds of the two at one point, round ``i`` of each from the same
        interleaved round (NaN or None: sat out).
    level : float

    Returns
    -------
    Interval or None
        None when no round has both times.
    """
    old, new = as_samples(baseline), as_samples(candidate)
    n = min(old.size, new.size)
    ratios = old[:n] / new[:n]
    ratios = ratios[np.isfinite(ratios) & (ratios > 0)]
    if ratios.size == 0:
        return None
    low, high, coverage = median_interval(ratios, level)
    return Interval(float(np.median(ratios)), low, high, coverage, int(ratios.size))


def is_tie(interval):
    """No clear winner: the interval spans 1 (or there is no interval)."""
    return interval is None or interval.low <= 1.0 <= interval.high


def format_interval(interval):
    """``"1.32x [1.20-1.41]"``, ``"1.02x [0.97-1.10] no clear winner"``, or ``"-"``."""
    if interval is None:
        return "-"
    text = f"{interval.value:.2f}x [{interval.low:.2f}-{interval.high:.2f}]"
    return text + (" no clear winner" if is_tie(interval) else "")


@dataclass(frozen=True)
class ChangeTest:
    """A rank test between the samples of one measurement in two runs.

    Attributes
    ----------
    p_value : float
        Two-sided Mann-Whitney U; NaN when there are too few samples.
    n_old, n_new : int
    smallest_p : float
        The smallest p-value these sample sizes can give (complete separation): a test
        that cannot reach the corrected level is inconclusive, whatever the data.
    """

    p_value: float
    n_old: int
    n_new: int
    smallest_p: float


def change_test(old, new):
    """Mann-Whitney U test (two-sided) of two runs' per-round samples.

    Parameters
    ----------
    old, new : sequence of float

    Returns
    -------
    ChangeTest
    """
    from scipy.stats import mannwhitneyu

    old, new = as_samples(old), as_samples(new)
    old, new = old[np.isfinite(old)], new[np.isfinite(new)]
    n_old, n_new = int(old.size), int(new.size)
    if n_old < 2 or n_new < 2:
        return ChangeTest(math.nan, n_old, n_new, 1.0)
    smallest = min(1.0, 2.0 / math.comb(n_old + n_new, n_old))
    p_value = float(mannwhitneyu(old, new, alternative="two-sided").pvalue)
    return ChangeTest(p_value, n_old, n_new, smallest)


def change_tests(pairs):
    """:func:`change_test` of many measurements, batched by sample sizes (one scipy call
    per pair of sizes: the same p-values, far fewer calls).

    Parameters
    ----------
    pairs : sequence of (old, new)
        Per-round samples of each measurement in the two runs.

    Returns
    -------
    list of ChangeTest
    """
    from scipy.stats import mannwhitneyu

    cleaned = []
    for old, new in pairs:
        old, new = as_samples(old), as_samples(new)
        cleaned.append((old[np.isfinite(old)], new[np.isfinite(new)]))
    results = [None] * len(cleaned)
    by_sizes = {}
    for index, (old, new) in enumerate(cleaned):
        if old.size < 2 or new.size < 2:
            results[index] = ChangeTest(math.nan, int(old.size), int(new.size), 1.0)
        else:
            by_sizes.setdefault((old.size, new.size), []).append(index)
    for (n_old, n_new), indices in by_sizes.items():
        olds = np.array([cleaned[index][0] for index in indices])
        news = np.array([cleaned[index][1] for index in indices])
        p_values = np.atleast_1d(mannwhitneyu(olds, news, alternative="two-sided",
                                              axis=1).pvalue)
        smallest = min(1.0, 2.0 / math.comb(n_old + n_new, n_old))
        for index, p_value in zip(indices, p_values):
            results[index] = ChangeTest(float(p_value), int(n_old), int(n_new), smallest)
    return results


def holm(p_values, alpha=ALPHA):
    """Holm's step-down correction: which hypotheses are rejected at family level ``alpha``.

    Parameters
    ----------
    p_values : sequence of float, shape (m,)
        NaN entries are never rejected and do not count in ``m``.
    alpha : float

    Returns
    -------
    rejected : ndarray of bool, shape (m,)
    thresholds : ndarray of float, shape (m,)
        The level each p-value was held to (``alpha / (m - rank)``; NaN for NaN entries).
    """
    p_values = np.asarray(p_values, dtype=np.float64)
    rejected = np.zeros(p_values.size, dtype=bool)
    thresholds = np.full(p_values.size, np.nan)
    valid = np.flatnonzero(np.isfinite(p_values))
    m = valid.size
    order = valid[np.argsort(p_values[valid], kind="stable")]
    still = True
    for rank, index in enumerate(order):
        thresholds[index] = alpha / (m - rank)
        if still and p_values[index] <= thresholds[index]:
            rejected[index] = True
        else:
            still = False
    return rejected, thresholds
