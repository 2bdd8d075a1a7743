"""The peers' part of the bench report: fastnn's auto backend against each peer.

Reads the rows of a run (:mod:`fastnn.reporting.rows`) and the peers it recorded
(``metadata["peers"]``, from :func:`fastnn.bench.peers.peers_metadata`); a run without
peers gives nothing here. For every point, fastnn's contender is the backend
``backend="auto"``'s table picks there (:func:`fastnn.fastest_backend`, recorded with the
peers' rows as ``auto_backend``), at the MLP level (the public call, as the peers' rows
are their libraries' public calls; the backend level where the run has no MLP level).
Not the fastest of the backends timed: a minimum over several medians is biased in
fastnn's favour. The fastest backend is shown beside it, and every backend's time is in
the backends' own tables. Each library's GFLOP/s at each point is a fraction of the matmul
peak in the point's dtype (the run's ``peaks``, one per dtype).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fastnn import backends
from fastnn.backends.selection import choose_backend
from fastnn.bench.peers.plots import peer_ratio_figure
from fastnn.bench.workload.cases import parse_layer_sizes
from fastnn.ops import OPS
from fastnn.reporting.formatting import (
    format_gflops,
    format_ratio,
    format_time,
    markdown_table,
)
from fastnn.reporting.rows import STATUSES

FIGURE = "peers.png"
# The columns naming one point of a sweep (without backend and level).
POINT = ["op", "layer_sizes", "batch_size", "dtype", "blas_threads"]
# The machine a row was measured on (a multi-host sweep records it; else absent).
HOST = "host"
FASTNN = "fastnn"
AUTO_COLUMN = "fastnn (auto)"


def peer_names(frame, metadata):
    """The peers of a run, in the order asked for (those with rows in ``frame``)."""
    present = set(frame["backend"]) if "backend" in frame.columns else set()
    return [name for name in (metadata.get("peers") or {}) if name in present]


def without_peers(frame, metadata):
    """The backends' rows only."""
    peers = peer_names(frame, metadata)
    return frame[~frame["backend"].isin(peers)] if peers else frame


def comparison_frame(frame, metadata):
    """One row per peer measurement, next to fastnn's backend on the same point.

    Returns
    -------
    pandas.DataFrame or None
        The peers' rows with ``fastnn_backend`` (``backend="auto"``'s pick),
        ``fastnn_median_s``, ``fastnn_q1_s``, ``fastnn_q3_s``, ``fastnn_iqr_s``,
        ``fastnn_gflops`` and ``fastnn_peak_fraction`` (of the peak in the dtype), the
        fastest backend timed (``best_backend``, ``best_median_s``), ``ratio`` (peer time
        / fastnn's time: above 1, fastnn is faster) and ``ratio_low`` / ``ratio_high``
        (the peer's first quartile over fastnn's third, and its third over fastnn's
        first: the spread the quartiles allow); None without peers.
    """
    peers = peer_names(frame, metadata)
    if not peers:
        return None
    frame = frame.reset_index(drop=True)  # one label per row (frames read from several runs)
    ours = without_peers(frame, metadata)
    ours = ours[ours["status"] == "ok"]
    levels = list(dict.fromkeys(ours["level"]))
    if levels:
        ours = ours[ours["level"] == ("mlp" if "mlp" in levels else levels[0])]
    theirs = frame[frame["backend"].isin(peers)].copy()
    run_backends = list(dict.fromkeys(without_peers(frame, metadata)["backend"]))
    theirs["fastnn_backend"], theirs["auto_in_run"] = _auto_backends(theirs, run_backends)
    keys = _point_keys(frame)
    rates = [column for column in ("gflops", "peak_fraction") if column in ours.columns]
    picked = ours[keys + ["backend", "median_s", "q1_s", "q3_s", "iqr_s"] + rates].rename(
        columns={"backend": "fastnn_backend", "median_s": "fastnn_median_s",
                 "q1_s": "fastnn_q1_s", "q3_s": "fastnn_q3_s", "iqr_s": "fastnn_iqr_s",
                 "gflops": "fastnn_gflops", "peak_fraction": "fastnn_peak_fraction"})
    merged = theirs.merge(picked, on=keys + ["fastnn_backend"], how="left")
    best = ours.loc[ours.groupby(keys, dropna=False)["median_s"].idxmin()] if len(ours) \
        else ours
    best = best[keys + ["backend", "median_s"]].rename(
        columns={"backend": "best_backend", "median_s": "best_median_s"})
    merged = merged.merge(best, on=keys, how="left")
    ok = merged["status"] == "ok"
    merged["ratio"] = np.where(ok, merged["median_s"] / merged["fastnn_median_s"], np.nan)
    merged["ratio_low"] = np.where(ok, merged["q1_s"] / merged["fastnn_q3_s"], np.nan)
    merged["ratio_high"] = np.where(ok, merged["q3_s"] / merged["fastnn_q1_s"], np.nan)
    merged["_peer"] = merged["backend"].map(peers.index)
    merged["_op"] = merged["op"].map(lambda op: OPS.index(op) if op in OPS else len(OPS))
    merged = merged.sort_values(["_op", "n_params", "batch_size", "_peer"], kind="stable")
    return merged.drop(columns=["_peer", "_op"]).reset_index(drop=True)


def _point_keys(frame):
    """The columns pairing a peer row with fastnn's: the point, and the machine.

    A multi-host sweep has a fastnn row per point on each machine (``host``): a peer row
    pairs with its own machine's only (NaN hosts pair with NaN hosts).
    """
    return POINT + ([HOST] if HOST in frame.columns else [])


def _auto_backends(rows, run_backends):
    """``backend="auto"``'s pick per peer row, among the backends the run timed.

    The pick is the one recorded with the row; runs made before it was recorded are read
    with this process's table (:func:`fastnn.fastest_backend`), which may differ from the
    one in force then. Where the pick is not among ``run_backends`` (a run of some
    backends only), the table's choice among those stands in (as ``auto`` chooses among
    the backends available), and the second series says so.

    Returns
    -------
    (pandas.Series of str, pandas.Series of bool)
        The backend per row, and whether it is the table's own pick.
    """
    recorded = rows["auto_backend"] if "auto_backend" in rows.columns \
        else pd.Series(np.nan, index=rows.index, dtype=object)
    missing = recorded.isna()
    if missing.any():
        recorded = recorded.copy()
        recorded[missing] = _table_picks(rows.loc[missing], backends.fastest_backend)
    in_run = recorded.isin(run_backends) if run_backends else recorded.notna()
    picks = recorded.copy()
    if run_backends and not in_run.all():
        picks[~in_run] = _table_picks(
            rows.loc[~in_run],
            lambda *point: choose_backend(*point, run_backends))
    return picks, in_run


def _table_picks(rows, choose):
    """``choose(layer_sizes, batch_size, op, dtype)`` for each row (layer sizes parsed)."""
    return [choose(parse_layer_sizes(str(sizes)), int(batch), op, dtype)
            for sizes, batch, op, dtype in rows[["layer_sizes", "batch_size", "op",
                                                 "dtype"]].itertuples(index=False)]


def point_table(comparison):
    """fastnn's ``auto`` backend and each peer per point: medians (IQR %) and time ratios.

    Returns
    -------
    pandas.DataFrame of str
        Index (op, layer sizes, batch, and dtype or threads where they vary); columns
        ``fastnn (auto)`` (the backend ``backend="auto"`` picks, and its time),
        ``fastest backend`` (where another backend was faster here), then per peer its
        time and ``peer / fastnn`` (with, in brackets, the spread the quartiles allow).
    """
    index = _index(comparison)
    table = {}
    for key, group in comparison.groupby(index, sort=False, dropna=False):
        first = group.iloc[0]
        cells = {AUTO_COLUMN: _fastnn_cell(first), "fastest backend": _best_cell(first)}
        for _, row in group.iterrows():
            cells[row["backend"]] = _time_cell(row["median_s"], row["iqr_s"]) \
                if row["status"] == "ok" else STATUSES.get(row["status"], row["status"])
            cells[f"{row['backend']} / fastnn"] = _ratio_cell(row)
        table[key] = cells
    frame = pd.DataFrame.from_dict(table, orient="index")
    frame.index = pd.MultiIndex.from_tuples(frame.index, names=index) if len(index) > 1 \
        else pd.Index(frame.index, name=index[0])
    return frame.fillna("")


def rate_table(comparison):
    """GFLOP/s per point of fastnn's ``auto`` backend and each peer, with (in brackets)
    the fraction of the matmul peak in the point's dtype (sgemm's for float32, dgemm's
    for float64); blank where a point was not timed or its run measured no such peak.

    Returns
    -------
    pandas.DataFrame of str
        Indexed as :func:`point_table`.
    """
    index = _index(comparison)
    table = {}
    for key, group in comparison.groupby(index, sort=False, dropna=False):
        first = group.iloc[0]
        cells = {AUTO_COLUMN: format_gflops(first.get("fastnn_gflops"),
                                            first.get("fastnn_peak_fraction"))}
        for _, row in group.iterrows():
            cells[row["backend"]] = format_gflops(row.get("gflops"), row.get("peak_fraction")) \
                if row["status"] == "ok" else ""
        table[key] = cells
    frame = pd.DataFrame.from_dict(table, orient="index")
    frame.index = pd.MultiIndex.from_tuples(frame.index, names=index) if len(index) > 1 \
        else pd.Index(frame.index, name=index[0])
    return frame.fillna("")


def winners_table(comparison):
    """Who wins where: per op and layer sizes (rows) and batch size (columns), the winner.

    The winner is the fastest of fastnn's auto backend and the timed peers; its margin is
    the runner-up's time over its own.

    Returns
    -------
    pandas.DataFrame of str
    """
    index = [column for column in _index(comparison) if column != "batch_size"]
    cells = {}
    for key, group in comparison.groupby(index + ["batch_size"], sort=False, dropna=False):
        times = {row["backend"]: row["median_s"] for _, row in group.iterrows()
                 if row["status"] == "ok"}
        first = group.iloc[0]
        if pd.notna(first["fastnn_median_s"]):
            times[f"{FASTNN} ({first['fastnn_backend']})"] = first["fastnn_median_s"]
        cells[key] = _winner_cell(times)
    series = pd.Series(cells)
    series.index.names = index + ["batch_size"]
    table = series.unstack("batch_size")
    table.columns = [f"batch {batch}" for batch in table.columns]
    return table.reindex(pd.MultiIndex.from_frame(
        comparison[index].drop_duplicates()) if len(index) > 1
        else pd.Index(comparison[index[0]].drop_duplicates(), name=index[0])).fillna("")


def peer_figures(frame, metadata):
    """``{"peers.png": Figure}`` when peers were timed, else empty."""
    comparison = comparison_frame(frame, metadata)
    if comparison is None or not comparison["ratio"].notna().any():
        return {}
    return {FIGURE: peer_ratio_figure(comparison, peer_names(frame, metadata))}


def peer_markdown(frame, metadata):
    """The report's ``## Peers`` section; empty for a run without peers."""
    comparison = comparison_frame(frame, metadata)
    if comparison is None:
        return ""
    parts = ["## Peers: fastnn against other libraries\n",
             "The same network and parameters in each peer (built through fastnn.interop; "
             "JAX written from the weights), checked against the reference like the "
             "backends, then timed in the same interleaved rounds, each from NumPy arrays "
             "in to NumPy arrays out. fastnn's side is the backend `backend=\"auto\"`'s "
             "table picks on each point (`fastnn.fastest_backend(layer_sizes, batch_size, "
             "op, dtype)`; table: " + _tables(comparison) + "), at the MLP level (the "
             "public call); not the fastest of the backends timed, which would favour "
             "fastnn (a minimum over several medians). `MLP(backend=\"auto\")` itself "
             "picks once, at construction, the table's batch-1 forward choice. Times are "
             "medians (in brackets: the IQR as a percentage of the median); `peer / fastnn` "
             "above 1 means fastnn is faster (in brackets: the peer's first quartile over "
             "fastnn's third, to its third over fastnn's first).\n",
             _peers_list(frame, metadata), _tally_markdown(comparison)]
    if comparison["ratio"].notna().any():
        parts.append(f"### Who wins where\n\n{markdown_table(winners_table(comparison))}")
        parts.append(f"![{FIGURE}]({FIGURE})\n")
    parts.append(f"### Per point\n\n{markdown_table(point_table(comparison))}")
    if comparison["ratio"].notna().any():
        parts.append("### GFLOP/s per point\n\nThe matrix products' FLOPs over the median "
                     "time; in brackets, the fraction of this machine's matmul peak in the "
                     "point's dtype (fp32 peak for float32, fp64 peak for float64).\n\n"
                     + markdown_table(rate_table(comparison)))
    parts.append(_setup_markdown(comparison))
    parts.append(_peers_not_timed(comparison))
    return "\n".join(part for part in parts if part)


def peer_console_text(frame, metadata):
    """What ``fastnn bench`` prints about the peers after the headline (may be empty)."""
    comparison = comparison_frame(frame, metadata)
    if comparison is None:
        return ""
    text = "\n## Who wins where (fastnn's auto backend vs the peers)\n\n"
    if comparison["ratio"].notna().any():
        text += markdown_table(winners_table(comparison))
    return "\n".join(part for part in (text, _tally_markdown(comparison),
                                        _peers_list(frame, metadata)) if part)


# --- pieces ------------------------------------------------------------------------------

def _tables(comparison):
    if "auto_table" not in comparison.columns:
        return "not recorded by this run; this machine's table now"
    return ", ".join(f"`{name}`" for name in dict.fromkeys(comparison["auto_table"].dropna())) \
        or "not recorded"


def _index(comparison):
    varying = [column for column in ("dtype", "blas_threads", HOST)
               if column in comparison.columns and comparison[column].nunique(dropna=False) > 1]
    return ["op", "layer_sizes", "batch_size"] + varying


def _time_cell(median, iqr):
    text = format_time(median)
    if median and pd.notna(iqr):
        text += f" ({100 * iqr / median:.0f}%)"
    return text


def _fastnn_cell(row):
    name = row["fastnn_backend"] + ("" if row.get("auto_in_run", True) else
                                    " (auto's pick was not in this run)")
    if pd.isna(row["fastnn_median_s"]):
        return f"{name} not timed"
    return f"{name} {_time_cell(row['fastnn_median_s'], row['fastnn_iqr_s'])}"


def _best_cell(row):
    """The fastest backend timed, where it is not ``auto``'s pick (else "the same")."""
    if pd.isna(row["best_median_s"]):
        return ""
    if row["best_backend"] == row["fastnn_backend"]:
        return "the same"
    return f"{row['best_backend']} {format_time(row['best_median_s'])}"


def _ratio_cell(row):
    text = format_ratio(row["ratio"], missing="")
    if text and pd.notna(row.get("ratio_low")) and pd.notna(row.get("ratio_high")):
        text += f" ({format_ratio(row['ratio_low'])}-{format_ratio(row['ratio_high'])})"
    return text


def _winner_cell(times):
    if not times:
        return "nothing timed"
    ordered = sorted(times.items(), key=lambda item: item[1])
    winner, fastest = ordered[0]
    if len(ordered) == 1:
        return f"{winner} (alone)"
    return f"{winner} by {format_ratio(ordered[1][1] / fastest)}"


def _tally_markdown(comparison):
    split = [column for column in ("dtype", HOST) if column in comparison.columns
             and comparison[column].nunique(dropna=False) > 1]
    lines = []
    for key, group in comparison.groupby(["backend"] + split, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        label = f"`{key[0]}`" + "".join(
            f" in {value}" if column == "dtype" else f" on {value}"
            for column, value in zip(split, key[1:]))
        ratios = group["ratio"].dropna()
        if len(ratios):
            lines.append(f"- vs {label}: fastnn faster at {int((ratios > 1).sum())} of "
                         f"{len(ratios)} points; peer / fastnn geometric mean "
                         f"{format_ratio(float(np.exp(np.log(ratios).mean())))} (from "
                         f"{format_ratio(ratios.min())} to {format_ratio(ratios.max())}).")
        else:
            lines.append(f"- vs {label}: no point timed (see below).")
    return "\n".join(lines) + "\n" if lines else ""


def _peers_list(frame, metadata):
    recorded = metadata.get("peers") or {}
    peers = frame[frame["backend"].isin(list(recorded))]
    lines = []
    for name, info in recorded.items():
        if not info.get("installed", True):
            lines.append(f"- `{name}`: {info.get('note') or 'not installed'}.")
            continue
        rows = peers[peers["backend"] == name]
        how = _distinct(rows, "peer_pinning")
        threads = _distinct(rows, "peer_threads")
        lines.append(f"- `{name}` {info.get('version') or '?'}: {info.get('description', '')}; "
                     f"ops {', '.join(info.get('ops', []))}; threads "
                     f"{', '.join(map(_int_text, threads)) or 'n/a'}"
                     + (f" ({'; '.join(how)})" if how else "") + ".")
    return ("### Peers in this run\n\n" + "\n".join(lines) + "\n") if lines else ""


def _setup_markdown(comparison):
    data = comparison.dropna(subset=["compile_s"])
    if data.empty:
        return ""
    table = data.groupby(["backend", "op"], sort=False).agg(
        setup=("compile_s", "median"), slowest_setup=("compile_s", "max"),
        first_call=("first_call_s", "median")).map(format_time)
    table.columns = ["setup (median)", "setup (slowest)", "first call (median)"]
    return ("### Setup and first-call cost (not in the timings above)\n\n"
            "Setup: building the peer's model from fastnn's parameters and warming it up "
            "(ONNX Runtime's session creation; JAX's jit compilation and first run).\n\n"
            + markdown_table(table))


def _peers_not_timed(comparison):
    data = comparison[comparison["status"] != "ok"]
    if data.empty:
        return ""
    table = data.groupby(["backend", "status", "note"], sort=False).size().rename("points")
    return ("### Peer points not timed\n\n"
            + markdown_table(table.to_frame().astype(str)))


def _distinct(rows, column):
    if column not in rows.columns:
        return []
    return [value for value in dict.fromkeys(rows[column]) if pd.notna(value) and value != ""]


def _int_text(value):
    return str(int(value)) if isinstance(value, (int, float, np.number)) else str(value)
