"""Number and table formatting for the reproduce report (Markdown)."""

from __future__ import annotations

import numpy as np


def markdown_table(header, rows):
    """A Markdown table from a header row and rows of cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def network_name(layer_sizes):
    """``(64, 30, 10)`` -> ``"64-30-10"``."""
    return "-".join(str(size) for size in layer_sizes)


def seconds(value):
    """A duration with a unit that keeps three significant digits; ``-`` for None."""
    if value is None:
        return "-"
    for limit, scale, unit in ((1e-6, 1e9, "ns"), (1e-3, 1e6, "µs"), (1.0, 1e3, "ms"),
                               (120.0, 1.0, "s"), (7200.0, 1 / 60, "min")):
        if value < limit:
            return f"{_three_digits(value * scale)} {unit}"
    return f"{_three_digits(value / 3600)} h"


def timing_cell(timing):
    """Median with the IQR as a percentage of it (no IQR for a single round)."""
    iqr = timing.relative_iqr * 100
    return f"{seconds(timing.median)} ({iqr:.0f}%)" if len(timing.per_call) > 1 \
        else seconds(timing.median)


def ratio(value):
    """``"488×"``, three significant digits."""
    return f"{_three_digits(value)}×"


def sample_std(values):
    """Standard deviation with ``ddof=1`` (0 for a single value): the seeds are a sample."""
    values = np.asarray(values, dtype=float)
    return float(values.std(ddof=1)) if values.size > 1 else 0.0


def mean_std_percent(fractions):
    """``"88.7 % ± 1.2"``: mean and sample standard deviation in percentage points."""
    return f"{percent(np.mean(fractions))} ± {sample_std(fractions) * 100:.1f}"


def percent(value):
    """A fraction as a percentage with one decimal."""
    return f"{value * 100:.1f} %"


def faster(speedup):
    """``"3.2× faster"`` or, below 1, ``"1.6× slower"``."""
    return f"{ratio(speedup)} faster" if speedup >= 1 else f"{ratio(1 / speedup)} slower"


def ratio_words(value):
    """How ``value`` (ours / tutorial's) reads in a sentence."""
    if 0.8 <= value <= 1.25:
        return "about the same as"
    if value > 1:
        return f"{_three_digits(value)} times"
    return f"{_three_digits(1 / value)} times below"


def _three_digits(value):
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"
