"""The bench report's figures: time against layer size, speedups, batch scaling.

Each ``*_figure`` function takes the timed rows of one level, dtype and thread count
(see :func:`fastnn.bench.report.tables.headline_selection`) and returns a
:class:`matplotlib.figure.Figure`; each ``plot_*`` function draws one panel into a given
``ax``, for a caller composing its own figure.
"""

from __future__ import annotations

import numpy as np

from fastnn.ops import OP_TABLE
from fastnn.reporting.figures import colour, figure_axes, shared_legend


def time_vs_size_figure(data, backend_order):
    """Median time per call against parameter count, log-log; one panel per op and batch.

    Parameters
    ----------
    data : pandas.DataFrame
        Timed rows (status ``ok``) with ``backend``, ``op``, ``batch_size``, ``n_params``,
        ``layer_sizes``, ``median_s``.
    backend_order : list of str

    Returns
    -------
    matplotlib.figure.Figure
    """
    ops = list(dict.fromkeys(data["op"]))
    batches = sorted(data["batch_size"].unique())
    figure, axes = figure_axes(3.6 * len(batches) + 1, 2.8 * len(ops) + 0.6,
                               len(ops), len(batches), sharex=True)
    ticks = data.drop_duplicates("layer_sizes").sort_values("n_params")
    for row, op in enumerate(ops):
        for col, batch in enumerate(batches):
            ax = axes[row][col]
            plot_time_vs_size(ax, data[(data["op"] == op) & (data["batch_size"] == batch)],
                              backend_order, ticks)
            ax.set_title(f"{op}, batch {batch}", fontsize=9)
            if col == 0:
                ax.set_ylabel("median seconds per call")
            if row == len(ops) - 1:
                ax.set_xlabel("layer sizes (placed by parameter count)", fontsize=8)
    shared_legend(figure, axes)
    figure.suptitle("Time per call vs network size (log axes)")
    return _laid_out(figure)


def plot_time_vs_size(ax, subset, backend_order, ticks):
    """One panel: a line per backend, median seconds against parameter count."""
    for backend in backend_order:
        line = subset[subset["backend"] == backend].sort_values("n_params")
        if len(line):
            ax.plot(line["n_params"], line["median_s"], marker="o",
                    color=colour(backend, backend_order), label=backend)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(ticks["n_params"].tolist(), ticks["layer_sizes"].tolist(),
                  rotation=30, fontsize=7)
    ax.minorticks_off()
    ax.grid(True, which="major", alpha=0.3)


def speedup_figure(data, backend_order, baseline):
    """Bars of the speedup against ``baseline`` per layer size and batch; one panel per op.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ops = list(dict.fromkeys(data["op"]))
    groups = data.drop_duplicates(["layer_sizes", "batch_size"]).shape[0]
    figure, axes = figure_axes(max(10.0, 1.1 * groups + 2), 2.9 * len(ops) + 0.6, len(ops), 1)
    for row, op in enumerate(ops):
        ax = axes[row][0]
        plot_speedup(ax, data[data["op"] == op], backend_order, baseline)
        ax.set_title(op, fontsize=9)
    shared_legend(figure, axes)
    figure.suptitle(f"Speedup against the {baseline} backend (above 1: faster; log axis)")
    return _laid_out(figure)


def plot_speedup(ax, subset, backend_order, baseline):
    """One panel: a bar per backend (but ``baseline``) and point, its speedup."""
    others = [name for name in backend_order if name != baseline]
    table = subset.pivot_table(index=["n_params", "layer_sizes", "batch_size"],
                               columns="backend", values="median_s", aggfunc="first")
    labels = [f"{sizes}\nx{batch}" for _, sizes, batch in table.index]
    positions = np.arange(len(table))
    width = 0.8 / max(len(others), 1)
    for index, backend in enumerate(others):
        if baseline in table and backend in table:
            speedup = table[baseline] / table[backend]
            ax.bar(positions + index * width, speedup.to_numpy(), width,
                   color=colour(backend, backend_order), label=backend)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(positions + width * (len(others) - 1) / 2, labels, fontsize=7)
    ax.set_ylabel(f"speedup vs {baseline}")
    ax.grid(True, axis="y", alpha=0.3)


def batch_scaling_figure(data, backend_order):
    """Time per sample against batch size, log-log; one panel per layer size.

    Colour is the backend, line style the op.

    Returns
    -------
    matplotlib.figure.Figure
    """
    sizes = data.drop_duplicates("layer_sizes").sort_values("n_params")["layer_sizes"].tolist()
    figure, axes = figure_axes(3.6 * len(sizes) + 1, 3.8, 1, len(sizes))
    for col, label in enumerate(sizes):
        ax = axes[0][col]
        plot_batch_scaling(ax, data[data["layer_sizes"] == label], backend_order)
        ax.set_title(label, fontsize=9)
        if col == 0:
            ax.set_ylabel("median seconds per sample")
    shared_legend(figure, axes)
    figure.suptitle("Batch-size scaling: time per sample")
    return _laid_out(figure, legend_space=0.17)


def plot_batch_scaling(ax, subset, backend_order):
    """One panel: per backend and op, median seconds per sample against batch size."""
    for backend in backend_order:
        for op, entry in OP_TABLE.items():
            line = subset[(subset["backend"] == backend) & (subset["op"] == op)]
            line = line.sort_values("batch_size")
            if len(line):
                ax.plot(line["batch_size"], line["median_s"] / line["batch_size"],
                        linestyle=entry.plot_style, marker="o", markersize=3,
                        color=colour(backend, backend_order), label=f"{backend} {op}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    batches = sorted(subset["batch_size"].unique())
    ax.set_xticks(batches, [str(batch) for batch in batches])
    ax.minorticks_off()
    ax.set_xlabel("batch size")
    ax.grid(True, alpha=0.3)


def _laid_out(figure, legend_space=0.07):
    figure.tight_layout(rect=(0, legend_space, 1, 0.95))
    return figure
