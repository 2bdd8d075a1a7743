"""Numbers and tables as text: times, ratios, percentages, Markdown pipe tables.

Every report (bench, pytest-benchmark, reproduce) formats through these, so a time
reads the same everywhere: three significant digits and the largest unit that keeps
the number at or above 1.
"""

from __future__ import annotations

import math

import numpy as np

# Unit ladder of format_time: (seconds per unit, unit), smallest first; below the first
# step, nanoseconds.
_TIME_UNITS = ((1e-6, "µs"), (1e-3, "ms"), (1.0, "s"), (120.0, "min"), (7200.0, "h"))
_UNIT_SCALE = {"µs": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0}


def format_time(seconds, missing=""):
    """``1.23e-05`` -> ``"12.3 µs"``; minutes from 120 s, hours from 2 h.

    Parameters
    ----------
    seconds : float or None
    missing : str
        The text for None or NaN.

    Returns
    -------
    str
    """
    if _is_missing(seconds):
        return missing
    unit = "ns"
    for threshold, name in _TIME_UNITS:
        if seconds >= threshold:
            unit = name
    scale = 1e-9 if unit == "ns" else _UNIT_SCALE[unit]
    return f"{three_digits(seconds / scale)} {unit}"


def format_ratio(ratio, missing=""):
    """``12.345`` -> ``"12.3×"``; ``missing`` for None or NaN."""
    if _is_missing(ratio):
        return missing
    return f"{three_digits(ratio)}×"


def format_gflops(gflops, peak_fraction=None, missing=""):
    """``31.2, 0.38`` -> ``"31.2 (38%)"``: GFLOP/s and, where known, the fraction of the
    peak; ``missing`` for None or NaN GFLOP/s."""
    if _is_missing(gflops):
        return missing
    text = f"{gflops:.3g}"
    if not _is_missing(peak_fraction):
        text += f" ({100 * peak_fraction:.2g}%)"
    return text


def faster(speedup):
    """``"3.2× faster"`` or, below 1, ``"1.6× slower"``."""
    return f"{format_ratio(speedup)} faster" if speedup >= 1 \
        else f"{format_ratio(1 / speedup)} slower"


def ratio_words(value):
    """How ``value`` (ours / theirs) reads in a sentence."""
    if 0.8 <= value <= 1.25:
        return "about the same as"
    if value > 1:
        return f"{three_digits(value)} times"
    return f"{three_digits(1 / value)} times below"


def percent(value):
    """A fraction as a percentage with one decimal: ``0.887`` -> ``"88.7 %"``."""
    return f"{value * 100:.1f} %"


def sample_std(values):
    """Standard deviation with ``ddof=1`` (0 for a single value): seeds are a sample."""
    values = np.asarray(values, dtype=float)
    return float(values.std(ddof=1)) if values.size > 1 else 0.0


def mean_std_percent(fractions):
    """``"88.7 % ± 1.2"``: mean and sample standard deviation in percentage points."""
    return f"{percent(np.mean(fractions))} ± {sample_std(fractions) * 100:.1f}"


def sizes_label(layer_sizes):
    """``(100, 100, 50, 10)`` -> ``"100-100-50-10"``."""
    return "-".join(str(size) for size in layer_sizes)


def markdown_rows(header, rows):
    """A Markdown pipe table from a header and rows of cells (no trailing newline).

    Parameters
    ----------
    header : sequence of str
    rows : iterable of sequence
        Cells are shown with ``str``.
    """
    lines = ["| " + " | ".join(str(cell) for cell in header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_table(table):
    """A pipe table of a DataFrame of strings, the index as the leading columns.

    Missing cells are empty; an empty or absent table reads ``(no measurements)``.
    """
    import pandas as pd

    if table is None or table.empty:
        return "(no measurements)\n"
    flat = table.reset_index()
    rows = [["" if pd.isna(value) else str(value) for value in values]
            for values in flat.itertuples(index=False)]
    return markdown_rows([str(column) for column in flat.columns], rows) + "\n"


def three_digits(value):
    """Three significant digits, never an exponent below 10^15 (``1234.5`` -> ``"1234"``)."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _is_missing(value):
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    import pandas as pd  # pd.NA and NaT from a results table

    return bool(pd.isna(value))
