"""Two runs side by side: speedups, and regressions beyond a threshold."""

from __future__ import annotations

import pandas as pd

from fastnn.reporting.rows import KEY_COLUMNS


def parse_threshold(text):
    """``"10%"`` or ``"0.1"`` -> ``0.1``.

    Raises
    ------
    ValueError
        For anything but a non-negative number or percentage.
    """
    spelled = str(text).strip()
    try:
        value = float(spelled[:-1]) / 100 if spelled.endswith("%") else float(spelled)
    except ValueError:
        raise ValueError(f"malformed threshold {text!r}: give a percentage such as 10% "
                         f"or a fraction such as 0.1") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"the threshold must be a non-negative finite number; got {text!r}")
    return value


def compare_runs(old, new, threshold=0.10):
    """Join two results tables on their measurement keys and classify each change.

    A measurement regressed when its new median exceeds the old one by more than
    ``threshold`` (``new / old > 1 + threshold``); it improved when the old median
    exceeds the new one by as much.

    Parameters
    ----------
    old, new : pandas.DataFrame
        Results tables (see :mod:`fastnn.reporting.rows`).
    threshold : float
        Allowed slowdown as a fraction (0.1 for 10 %).

    Returns
    -------
    pandas.DataFrame
        The key columns, ``old_s``, ``new_s``, ``speedup`` (old / new), ``change``
        (new / old - 1), ``verdict`` (``regressed``, ``improved`` or ``same``) and
        ``unstable`` (either side flagged unstable).

    Raises
    ------
    ValueError
        If the runs share no timed measurement.
    """
    keys = list(KEY_COLUMNS)
    merged = _timed(old).merge(_timed(new), on=keys, suffixes=("_old", "_new"))
    if merged.empty:
        raise ValueError("the two runs share no timed measurement (same backend, level, "
                         "layer sizes, batch, op, dtype and threads); nothing to compare")
    table = merged[keys].copy()
    table["old_s"] = merged["median_s_old"].astype(float)
    table["new_s"] = merged["median_s_new"].astype(float)
    table["speedup"] = table["old_s"] / table["new_s"]
    table["change"] = table["new_s"] / table["old_s"] - 1
    table["verdict"] = "same"
    table.loc[table["change"] > threshold, "verdict"] = "regressed"
    table.loc[table["old_s"] / table["new_s"] - 1 > threshold, "verdict"] = "improved"
    table["unstable"] = merged["unstable_old"].fillna(False).astype(bool) | \
        merged["unstable_new"].fillna(False).astype(bool)
    return table


def only_in_one(old, new):
    """Numbers of timed measurements present in only the old and only the new run."""
    keys = list(KEY_COLUMNS)
    old_keys = set(map(tuple, _timed(old)[keys].astype(str).to_numpy()))
    new_keys = set(map(tuple, _timed(new)[keys].astype(str).to_numpy()))
    return len(old_keys - new_keys), len(new_keys - old_keys)


def _timed(frame):
    if frame.empty:
        return pd.DataFrame(columns=[*KEY_COLUMNS, "median_s", "unstable"])
    frame = frame[(frame["status"] == "ok") & frame["median_s"].notna()].copy()
    if "unstable" not in frame.columns:
        frame["unstable"] = False
    # A missing thread count (no Numba) must still match itself across the two runs.
    for column in ("blas_threads", "numba_threads"):
        frame[column] = frame[column].astype("Float64").fillna(-1).astype("int64")
    return frame
