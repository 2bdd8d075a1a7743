"""Benchmark reports: ``report.md`` with pandas pivot tables, and PNG plots, in a run folder.

The same report is made from a ``fastnn bench`` sweep and from a pytest-benchmark JSON
file (``fastnn report``): both arrive here as a tidy results table, one row per
measurement (see :mod:`fastnn.reporting.rows`). Which backends get speedup columns, and
in which order they appear, comes from what the backends declared
(:class:`fastnn.reporting.roles.BackendRoles`), never from their names.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fastnn.bench.peers import report as peer_report
from fastnn.bench.report import plots
from fastnn.bench.report.machines import machines_markdown, primary_machine_rows
from fastnn.bench.report.tables import (
    UNSTABLE_MARK,
    backend_order,
    column_values,
    foreign_peak_dtypes,
    gflops_table,
    headline_caption,
    headline_selection,
    headline_table,
    level_text,
    own_dtype_peaks,
    point_index,
    roles_of,
    sorted_index,
    speedup_table,
    time_table,
    timed_rows,
)
from fastnn.reporting.formatting import format_ratio, format_time, markdown_table
from fastnn.reporting.machine import MachineRecord, peak_dtype, peak_label
from fastnn.reporting.noise import noise_warnings
from fastnn.reporting.results import write_results
from fastnn.reporting.roles import BackendRoles
from fastnn.reporting.timing import UNSTABLE_IQR_RATIO

# File name -> figure function (timed rows, backends slowest first) -> Figure.
PLOTS = {
    "time_vs_size.png": plots.time_vs_size_figure,
    "speedup.png": lambda data, order: plots.speedup_figure(data, order, _plot_baseline(order)),
    "batch_scaling.png": plots.batch_scaling_figure,
}

__all__ = ["PLOTS", "format_ratio", "format_time", "headline_caption", "headline_table",
           "markdown_table", "report_markdown", "write_report"]


def write_report(folder, frame, metadata):
    """Write the results table, ``report.md`` and the plots into ``folder``.

    Parameters
    ----------
    folder : fastnn.reporting.run_folder.Staging
        The staging folder of a :class:`fastnn.reporting.run_folder.RunFolder`.
    frame : pandas.DataFrame
        One row per measurement.
    metadata : dict
        ``machine``, ``config``, ``peaks``, ``source``, ``title``, ``backend_roles``.

    Returns
    -------
    list of str
        The names of the files written.
    """
    write_results(folder, frame, metadata)
    peer_figures = peer_report.peer_figures(frame, metadata)
    frame_with_peers, frame = frame, peer_report.without_peers(frame, metadata)
    roles = roles_of(frame, metadata)
    selection = headline_selection(primary_machine_rows(frame))
    timed = timed_rows(selection)
    figures = []
    if len(timed):
        order = backend_order(frame, roles)
        for name, draw in PLOTS.items():
            folder.write_figure(name, draw(timed, order))
            figures.append(name)
    for name, figure in peer_figures.items():  # placed by the peers' section
        folder.write_figure(name, figure)
    folder.write_text("report.md", report_markdown(frame_with_peers, metadata, figures))
    return ["results.csv", "results.json", "report.md", *figures, *peer_figures]


def report_markdown(frame, metadata, figures=()):
    """The text of ``report.md``.

    Returns
    -------
    str
    """
    title = metadata.get("title", "fastnn benchmark report")
    foreign = foreign_peak_dtypes(frame, metadata.get("peaks"))
    frame = own_dtype_peaks(frame, metadata.get("peaks"))
    peers_part = peer_report.peer_markdown(frame, metadata)
    frame_with_peers, frame = frame, peer_report.without_peers(frame, metadata)
    roles = roles_of(frame, metadata)
    parts = [f"# {title}\n", machine_markdown(metadata),
             _conditions_markdown(frame_with_peers, metadata, foreign),
             noise_markdown(metadata)]
    parts.append(machines_markdown(frame, metadata))
    frame = primary_machine_rows(frame)  # several machines: the sections below show one
    parts.append(f"## Headline: {headline_caption(frame)}\n\n"
                 f"{markdown_table(headline_table(frame, roles))}\n{_legend_text(metadata)}")
    parts.append(summary_markdown(frame, roles))
    parts.append(peers_part)
    for name in figures:
        parts.append(f"![{name}]({name})\n")
    for level in column_values(frame, "level"):
        data = frame[frame["level"] == level]
        parts.append(f"## Median time per call, {level_text(level)}\n\n"
                     f"In brackets: the IQR of the rounds as a percentage of the median.\n\n"
                     f"{markdown_table(time_table(data, spread=True, roles=roles))}")
        # The fastest baseline first: the comparison most readers want.
        for baseline in reversed(roles.baselines()):
            table = speedup_table(data, baseline, roles)
            if table is not None:
                parts.append(f"## Speedup against {baseline}, {level_text(level)}\n\n"
                             f"Above 1: faster than the {baseline} backend.\n\n"
                             f"{markdown_table(table)}")
        parts.append(f"## GFLOP/s and fraction of the matmul peak, {level_text(level)}\n\n"
                     f"In brackets: the fraction of the matmul peak in the point's dtype "
                     f"(fp32 for float32, fp64 for float64).\n\n"
                     f"{markdown_table(gflops_table(data, roles))}")
    parts.append(_thread_scaling_markdown(frame, roles))
    parts.append(loss_cost_markdown(frame, roles))
    parts.append(_compile_markdown(frame))
    parts.append(_not_timed_markdown(frame, metadata))
    parts.append(_unstable_markdown(frame, metadata))
    parts.append(_method_markdown(metadata))
    return "\n".join(part for part in parts if part)


# --- sections ------------------------------------------------------------------------------


def summary_markdown(frame, roles=None):
    """Speedups between backend pairs over every point both timed, and the MLP overhead.

    Per level, for each baseline and each backend after it in the slowest-first order:
    the geometric mean, range and count of points where the candidate is faster. Then
    the median extra time of the MLP-level call over the backend-level one (validation
    and wrapping), per backend.
    """
    roles = roles or roles_of(frame, {})
    pairs = [(candidate, baseline) for baseline in roles.baselines()
             for candidate in roles.order if roles.slower_than(baseline, candidate)]
    lines = []
    for level in column_values(frame, "level"):
        data = timed_rows(frame[frame["level"] == level])
        keys = ["op", "layer_sizes", "batch_size", "dtype", "blas_threads"]
        medians = data.pivot_table(index=keys, columns="backend", values="median_s",
                                   aggfunc="first")
        for candidate, baseline in pairs:
            if candidate in medians and baseline in medians:
                ratio = (medians[baseline] / medians[candidate]).dropna()
                if len(ratio):
                    lines.append(
                        f"- {level_text(level).split(' (')[0].replace('backend', 'Backend')}: "
                        f"`{candidate}` "
                        f"vs `{baseline}`: "
                        f"geometric mean {format_ratio(float(np.exp(np.log(ratio).mean())))} "
                        f"(from {format_ratio(ratio.min())} to {format_ratio(ratio.max())}); "
                        f"faster in {int((ratio > 1).sum())} of {len(ratio)} points.")
    lines.extend(_overhead_lines(frame, roles))
    if not lines:
        return ""
    return "## Summary\n\n" + "\n".join(lines) + "\n"


def _overhead_lines(frame, roles):
    timed = timed_rows(frame)
    if set(column_values(timed, "level")) < {"mlp", "backend"}:
        return []
    keys = ["backend", "op", "layer_sizes", "batch_size", "dtype", "blas_threads"]
    medians = timed.pivot_table(index=keys, columns="level", values="median_s",
                                aggfunc="first").dropna()
    extra = (medians["mlp"] - medians["backend"]).groupby(level="backend").median()
    parts = [f"`{name}` {format_time(max(extra[name], 0.0)) or '0'}"
             for name in backend_order(timed, roles) if name in extra.index]
    return [f"- The public `MLP` call (validation, copies, finiteness checks) costs this much "
            f"more per call than the backend method (median over the points): "
            f"{', '.join(parts)}."]


def machine_markdown(metadata):
    """The machine paragraph: CPU, cores, versions, BLAS."""
    machine = metadata.get("machine") or {}
    if not machine:
        return "Machine: not recorded.\n"
    record = MachineRecord.from_dict(machine)
    return (f"**Machine:** {record.summary()}.  \n"
            f"**Date (UTC):** {record.date_utc or 'not recorded'}.\n")


def _plot_baseline(order):
    """The speedup plot's baseline: the fastest baseline that is not time-limited."""
    return BackendRoles.of_registry(order).vectorised_baseline() or order[0]


def _legend_text(metadata):
    return (f"\nTimes are medians of the rounds; {UNSTABLE_MARK} marks an unstable measurement "
            f"(IQR above {100 * _unstable_ratio(metadata):.0f}% of the median). \"skipped\" "
            f"and blank cells: not measured, see \"Points not timed\" below.\n")


def _unstable_ratio(metadata):
    return (metadata.get("config") or {}).get("unstable_ratio", UNSTABLE_IQR_RATIO)


def _conditions_markdown(frame, metadata, foreign=()):
    lines = []
    source = metadata.get("source")
    if source:
        lines.append(f"**Source:** {source}.  ")
    revision = metadata.get("revision")
    if revision:
        modified = revision.get("modified") or []
        lines.append(f"**fastnn source:** git commit `{revision['commit'][:12]}`"
                     + (f", with local changes to {', '.join(modified)}" if modified else "")
                     + ".  ")
    peaks = metadata.get("peaks") or []
    for peak in peaks:
        lines.append(f"**{peak_label(peak_dtype(peak))} matmul peak** ({peak['n']}x{peak['n']} "
                     f"{peak_dtype(peak)} `np.dot`, {peak.get('threads')} thread(s)): "
                     f"{peak['gflops']:.3g} GFLOP/s.  ")
    if foreign:
        lines.append(f"**No peak fraction for {', '.join(foreign)}:** this run measured the "
                     f"fp64 matmul peak only (it predates the per-dtype peaks).  ")
    threads = frame.drop_duplicates(["blas_threads", "numba_threads"]) \
        if {"blas_threads", "numba_threads"} <= set(frame.columns) else frame.iloc[:0]
    for _, row in threads.iterrows():
        lines.append(f"**Threads:** BLAS {_int_text(row['blas_threads'])}, "
                     f"Numba {_int_text(row['numba_threads'])}.  ")
    counts = frame["status"].value_counts().to_dict() if "status" in frame.columns else {}
    lines.append(f"**Measurements:** {len(frame)} rows: " +
                 ", ".join(f"{count} {status}" for status, count in counts.items()) + ".\n")
    return "\n".join(lines)


def noise_markdown(metadata):
    """How busy the machine was during the run (:mod:`fastnn.reporting.noise`), and warnings."""
    noise = metadata.get("noise")
    if not noise:
        return ""
    parts = []
    if noise.get("other_cpu_fraction") is not None:
        parts.append(f"other processes used {100 * noise['other_cpu_fraction']:.0f}% of the "
                     f"{noise.get('cpus', '?')} CPUs' time")
    if noise.get("steal_fraction") is not None:
        parts.append(f"steal {100 * noise['steal_fraction']:.1f}%")
    calibration = noise.get("calibration_s") or {}
    if calibration:
        parts.append("a fixed calibration loop took " + ", ".join(
            f"{format_time(seconds)} at the {when}" for when, seconds in calibration.items()))
    text = "**Noise during the run:** " + "; ".join(parts) + ".\n"
    for warning in noise_warnings(noise):
        text += f"\n**Warning - noisy machine:** {warning}; differences of that size are " \
                f"noise, not speed.\n"
    return text


def _int_text(value):
    return "n/a" if value is None or pd.isna(value) else str(int(value))


def _thread_scaling_markdown(frame, roles):
    """Each backend's time at the fewest threads over its time at each other count (the
    run's thread scaling); empty unless the run has several thread counts."""
    timed = timed_rows(frame)
    if "numba_threads" not in timed.columns or "blas_threads" not in timed.columns:
        return ""
    # fastnn bench and the benchmarks pin BLAS and Numba to the same count.
    timed = timed.assign(threads=timed["numba_threads"].fillna(timed["blas_threads"]))
    counts = sorted(int(count) for count in column_values(timed, "threads"))
    if len(counts) < 2:
        return ""
    index = [column for column in point_index(timed)
             if column not in ("blas_threads", "numba_threads")]
    index += ["level"] if len(column_values(timed, "level")) > 1 else []
    medians = timed.pivot_table(index=index, columns=["backend", "threads"],
                                values="median_s", aggfunc="first")
    table = pd.DataFrame(index=medians.index)
    for backend in backend_order(timed, roles):
        for count in counts[1:]:
            if (backend, counts[0]) in medians.columns and (backend, count) in medians.columns:
                table[f"{backend}, {counts[0]} / {count} threads"] = \
                    medians[(backend, counts[0])] / medians[(backend, count)]
    table = table.reindex(pd.MultiIndex.from_frame(sorted_index(timed, index)))
    table = table.dropna(how="all")
    if table.empty or table.columns.empty:
        return ""
    return ("## Thread scaling\n\n"
            f"Each backend's median time at {counts[0]} thread(s) over its median time at "
            "the other counts (BLAS and Numba pinned alike); above 1: faster with more "
            "threads.\n\n" + markdown_table(table.map(format_ratio)))


def loss_cost_markdown(frame, roles=None):
    """What the loss adds to the forward pass it includes: each backend's median time of
    ``loss`` over its median time of ``forward`` on the same point (the headline's level,
    dtype and threads); empty unless the run timed both ops.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per measurement.
    roles : BackendRoles or None
        The column order; default the backends' own.

    Returns
    -------
    str
    """
    timed = timed_rows(headline_selection(frame))
    if not {"forward", "loss"} <= set(column_values(timed, "op")):
        return ""
    index = [column for column in point_index(timed) if column != "op"]
    medians = timed.pivot_table(index=index, columns=["backend", "op"], values="median_s",
                                aggfunc="first")
    table = pd.DataFrame(index=medians.index)
    for backend in backend_order(timed, roles):
        if (backend, "loss") in medians.columns and (backend, "forward") in medians.columns:
            table[backend] = medians[(backend, "loss")] / medians[(backend, "forward")]
    forward = timed[timed["op"] == "forward"]
    table = table.reindex(pd.MultiIndex.from_frame(sorted_index(forward, index)))
    table = table.dropna(how="all")
    if table.empty or table.columns.empty:
        return ""
    return ("## The loss over the forward pass\n\n"
            "Each backend's median time of `loss` over its median time of `forward` on the "
            "same point, at the headline's level, dtype and thread count: the cost of the "
            "loss on top of the forward pass it includes (1: none).\n\n"
            + markdown_table(table.map(format_ratio)))


def _compile_markdown(frame):
    if "compile_s" not in frame.columns or frame["compile_s"].isna().all():
        return ""
    data = frame.dropna(subset=["compile_s"])
    table = data.groupby(["backend", "dtype", "layer_sizes"], sort=False).agg(
        prepare=("compile_s", "first"), first_call=("first_call_s", "max"))
    table = table.map(format_time)
    table.columns = ["`prepare(spec)` (compile)", "slowest first call"]
    return ("## Compile and warm-up cost (not in the timings above)\n\n"
            "`backend.prepare(spec)` is timed once per backend and network; Numba compiles "
            "there (or loads its on-disk cache, which is much faster than a cold compile). "
            "The first call of each op is timed apart too.\n\n" + markdown_table(table))


def _not_timed_markdown(frame, metadata):
    if "status" not in frame.columns:
        return ""
    data = frame[frame["status"] != "ok"]
    if data.empty and not metadata.get("records_skips", True):
        return ("## Points not timed\n\nThis source records only the points it timed; "
                "see its own log for the points it skipped (pytest: `-rs`).\n")
    if data.empty:
        return "## Points not timed\n\nNone: every point was validated and timed.\n"
    columns = ["backend", "layer_sizes", "batch_size", "op", "dtype", "status", "note"]
    table = data[columns].drop_duplicates().set_index(columns[:5])
    return ("## Points not timed\n\nOne line per point (all levels alike).\n\n"
            + markdown_table(table))


def _unstable_markdown(frame, metadata):
    if "unstable" not in frame.columns:
        return ""
    timed = timed_rows(frame)
    unstable = timed[timed["unstable"].fillna(False).astype(bool)]
    return (f"## Stability\n\n{len(unstable)} of {len(timed)} timed measurements are unstable "
            f"(IQR above {100 * _unstable_ratio(metadata):.0f}% of the median), marked "
            f"{UNSTABLE_MARK}. Other processes share this machine's cores; re-run to confirm "
            f"a difference that rests on unstable rows.\n")


def _method_markdown(metadata):
    config = metadata.get("config") or {}
    lines = ["## Method\n"]
    if metadata.get("method"):
        lines.append(metadata["method"])
    else:
        lines.append(
            "Each point is first validated: every backend's result (output; loss and "
            "gradient; loss and updated parameters) must agree with the reference (the "
            "pure-Python backend where it runs, else NumPy) within fastnn.testing.TOLERANCE "
            "before it is timed. The loop count per round comes from "
            "`timeit.Timer.autorange` (stopped once a round lasts "
            f"{config.get('min_time', '?')} s); {config.get('rounds', '?')} rounds, "
            "interleaved across backends and levels, the order rotated each round; a "
            "training step starts every round from the gated parameters. A speedup is the "
            "median of the paired per-round ratios, with the distribution-free 95 % "
            "interval for that median (order statistics; the range of the ratios when "
            "there are fewer than 6 rounds, whose coverage is then below 95 %); an "
            "interval spanning 1 is marked \"no clear winner\". GFLOP/s count the matrix "
            "products only (2 per multiply-add; see fastnn.bench.workload.cases.flop_count); a "
            "point's peak is the best round of a large `np.dot` in its dtype (sgemm for "
            "float32, dgemm for float64) at the same thread count.")
    if metadata.get("command"):
        lines.append(f"\nTo reproduce: `{metadata['command']}`")
    return "\n".join(lines) + "\n"
