"""The pivot tables of a report: one row per point (op, layer sizes, batch), a column per
backend, in the order the backends' roles give (:class:`fastnn.reporting.roles.BackendRoles`).

Shared by ``report.md`` (:mod:`fastnn.bench.report.document`) and its sections on several
machines (:mod:`fastnn.bench.report.machines`).
"""

from __future__ import annotations

import pandas as pd

from fastnn.ops import OPS
from fastnn.reporting.formatting import format_gflops, format_ratio, format_time, three_digits
from fastnn.reporting.machine import peak_dtype
from fastnn.reporting.roles import BackendRoles
from fastnn.reporting.rows import STATUSES
from fastnn.reporting.stats import is_tie, speedup_interval

# Marks a median whose IQR exceeds the unstable threshold.
UNSTABLE_MARK = "†"


def headline_selection(frame):
    """The rows the headline and plots show: one level, dtype and thread count.

    The MLP level (what users get) if present, float64 if present, the first thread count.
    """
    data = frame
    for column, preferred in (("level", "mlp"), ("dtype", "float64"), ("blas_threads", None)):
        values = column_values(data, column)
        if values:
            choice = preferred if preferred in values else values[0]
            data = data[data[column] == choice] if choice is not None else data
    return data


def headline_caption(frame):
    """A one-line description of :func:`headline_table`'s selection."""
    data = headline_selection(frame)
    op = _headline_op(data)
    parts = [f"`{op}`" if op else "no op"]
    for column, word in (("level", "level"), ("dtype", ""), ("blas_threads", "thread(s)")):
        values = column_values(data, column)
        if values:
            parts.append(f"{values[0]} {word}".strip() if column != "level"
                         else level_text(values[0]))
    return ", ".join(parts)


def headline_table(frame, roles=None):
    """Median time per call of one op, per layer size and batch, with speedups.

    Parameters
    ----------
    frame : pandas.DataFrame
    roles : BackendRoles or None
        Default: the registry's.

    Returns
    -------
    pandas.DataFrame of str
        Index (layer sizes, batch); a column per backend, then ``X vs B`` speedup columns
        for every baseline ``B`` (slowest first) and every backend ``X`` after it.
    """
    roles = roles or roles_of(frame, {})
    data = headline_selection(frame)
    op = _headline_op(data)
    data = data[data["op"] == op] if op else data
    table = _cells(data, lambda row: format_time(row["median_s"]) + _mark(row),
                   ["layer_sizes", "batch_size"], roles)
    for baseline in roles.baselines():
        ratios = _ratio_texts(data, baseline, ["layer_sizes", "batch_size"], roles)
        if ratios is not None:
            for backend in ratios.columns:
                if not roles.slower_than(backend, baseline):
                    table[f"{backend} vs {baseline}"] = ratios[backend]
    return table


def time_table(data, spread=False, roles=None):
    """Median time per call, index (op, layer sizes, batch), a column per backend."""
    def cell(row):
        text = format_time(row["median_s"]) + _mark(row)
        if spread and row["median_s"] > 0:
            text += f" ({100 * row['iqr_s'] / row['median_s']:.0f}%)"
        return text
    return _cells(data, cell, point_index(data), roles)


def speedup_table(data, baseline, roles=None):
    """``baseline`` time / backend time with its 95 % interval; None without the baseline.

    See :func:`_ratio_texts`.
    """
    texts = _ratio_texts(data, baseline, point_index(data), roles)
    if texts is None:
        return None
    texts = texts[(texts != "").any(axis=1)]
    return None if texts.empty or texts.columns.empty else texts


def _ratio_texts(data, baseline, index, roles=None):
    """Speedups over ``baseline`` as text, each with its interval where the rounds allow.

    With per-round samples (``samples_s``), a cell is the median of the paired
    per-round ratios and its distribution-free 95 % interval
    (:func:`fastnn.reporting.stats.speedup_interval`), and a point whose interval spans
    1 says "no clear winner"; without samples (older runs), the ratio of the medians.

    Returns
    -------
    pandas.DataFrame of str or None
    """
    ratios = _ratios(data, baseline, index, roles)
    if ratios is None:
        return None
    samples = _samples_by_point(data, index)
    texts = ratios.copy().astype(object)
    for point in ratios.index:
        key = point if isinstance(point, tuple) else (point,)
        for backend in ratios.columns:
            value = ratios.loc[point, backend]
            interval = speedup_interval(samples.get((*key, baseline)),
                                        samples.get((*key, backend)))
            texts.loc[point, backend] = ratio_with_interval(value, interval)
    return texts


def ratio_with_interval(value, interval):
    """``"1.32× (1.20–1.41)"``, ``"1.02× (0.97–1.10) no clear winner"``, or the ratio alone."""
    if pd.isna(value):
        return ""
    if interval is None:
        return format_ratio(value)
    text = (f"{format_ratio(interval.value)} ({three_digits(interval.low)}–"
            f"{three_digits(interval.high)})")
    return text + (" no clear winner" if is_tie(interval) else "")


def _samples_by_point(data, index):
    """(index values..., backend) -> per-round samples, for the timed rows that kept them."""
    timed = timed_rows(data)
    if "samples_s" not in timed.columns:
        return {}
    return {(*(row[column] for column in index), row["backend"]): row["samples_s"]
            for _, row in timed.iterrows() if isinstance(row["samples_s"], list)}


def gflops_table(data, roles=None):
    """GFLOP/s of each timed point and its fraction of the measured matmul peak in the
    point's dtype (see :func:`own_dtype_peaks`)."""
    return _cells(data, lambda row: format_gflops(row["gflops"], row.get("peak_fraction")),
                  point_index(data), roles)


def own_dtype_peaks(frame, peaks):
    """The rows, each with a peak fraction only against the matmul peak of its own dtype.

    A run's ``peaks`` say which dtype each was measured in. Runs made before the peaks
    were measured per dtype recorded one, float64, peak (without ``dtype``) and divided
    every row by it: their rows of another dtype lose their fraction here rather than
    show one against the wrong peak (:func:`foreign_peak_dtypes` names them).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per measurement.
    peaks : list of dict
        ``results.json``'s ``peaks``.

    Returns
    -------
    pandas.DataFrame
    """
    foreign = foreign_peak_dtypes(frame, peaks)
    if not foreign:
        return frame
    frame = frame.copy()
    frame.loc[frame["dtype"].isin(foreign), ["peak_gflops", "peak_fraction"]] = float("nan")
    return frame


def foreign_peak_dtypes(frame, peaks):
    """The dtypes of ``frame`` whose rows were divided by another dtype's peak (older runs)."""
    if not peaks or any("dtype" in peak for peak in peaks) or "dtype" not in frame.columns \
            or "peak_fraction" not in frame.columns:
        return []
    measured = {peak_dtype(peak) for peak in peaks}
    return [dtype for dtype in column_values(frame, "dtype") if dtype not in measured]


def backend_order(frame, roles=None):
    """The backends of ``frame``, slowest first as their roles list them, then any others."""
    roles = roles or roles_of(frame, {})
    present = column_values(frame, "backend")
    return [name for name in roles.order if name in present] + \
        [name for name in present if name not in roles.order]


def timed_rows(data):
    return data[data["status"] == "ok"]


def column_values(frame, column):
    if column not in frame.columns:
        return []
    return list(dict.fromkeys(value for value in frame[column] if pd.notna(value)))


def _headline_op(data):
    ops = column_values(data, "op")
    return "forward" if "forward" in ops else (ops[0] if ops else None)


def _mark(row):
    return UNSTABLE_MARK if bool(row.get("unstable")) else ""


def point_index(data):
    """Index columns of a point: op, sizes, batch, and dtype or threads where they vary."""
    index = ["op", "layer_sizes", "batch_size"]
    return index + [column for column in ("dtype", "blas_threads", "numba_threads")
                    if len(column_values(data, column)) > 1]


def sorted_index(data, index):
    """The distinct index rows: ops in sweep order, then by network size, then batch."""
    keys = data[index].drop_duplicates()
    sort_keys = keys.assign(
        _op=keys["op"].map(lambda op: OPS.index(op) if op in OPS else len(OPS))
        if "op" in keys else 0,
        _size=data.loc[keys.index, "n_params"] if "n_params" in data else 0)
    ordered = sort_keys.sort_values(["_op", "_size", "batch_size"], kind="stable")
    return ordered[index]


def roles_of(frame, metadata):
    return BackendRoles.from_metadata(metadata, column_values(frame, "backend"))


def _cells(data, format_ok, index, roles=None):
    """A pivot of formatted cells: timed rows through ``format_ok``, others their status."""
    if data.empty:
        return pd.DataFrame()
    texts = data.apply(lambda row: format_ok(row) if row["status"] == "ok"
                       else _status_text(row["status"]), axis=1)
    table = data.assign(cell=texts).pivot_table(index=index, columns="backend", values="cell",
                                                aggfunc="first")
    rows = pd.MultiIndex.from_frame(sorted_index(data, index))
    columns = [name for name in backend_order(data, roles) if name in table.columns]
    table = table.reindex(index=rows, columns=columns)
    table.columns.name = None
    return table


def _ratios(data, baseline, index, roles=None):
    timed = timed_rows(data)
    if baseline not in column_values(timed, "backend"):
        return None
    medians = timed.pivot_table(index=index, columns="backend", values="median_s",
                                aggfunc="first")
    ratios = medians.rdiv(medians[baseline], axis=0).drop(columns=baseline)
    rows = pd.MultiIndex.from_frame(sorted_index(data, index))
    columns = [name for name in backend_order(data, roles) if name in ratios.columns]
    ratios = ratios.reindex(index=rows, columns=columns)
    ratios.columns.name = None
    return ratios


def _status_text(status):
    return STATUSES.get(status, status)


def level_text(level):
    return {"mlp": "MLP level (the public `fastnn.MLP` call, validation included)",
            "backend": "backend level (the backend method on pre-validated arrays)"}.get(
                level, f"{level} level")
