"""The peers' figure: each peer's time over fastnn's auto backend's, per point and op."""

from __future__ import annotations

import numpy as np

from fastnn.reporting.figures import colour, figure_axes, shared_legend


def peer_ratio_figure(comparison, peers):
    """Bars of peer time / fastnn's auto backend's time per point (log axis).

    A panel per op, and per dtype where the run has several (one bar per peer and point).

    Parameters
    ----------
    comparison : pandas.DataFrame
        :func:`fastnn.bench.peers.report.comparison_frame`.
    peers : list of str
        Colour order.

    Returns
    -------
    matplotlib.figure.Figure
    """
    timed = comparison[comparison["ratio"].notna()]
    dtypes = list(dict.fromkeys(timed["dtype"]))
    panels = list(dict.fromkeys(zip(timed["op"], timed["dtype"])))
    points = timed.drop_duplicates(["layer_sizes", "batch_size"]).shape[0]
    figure, axes = figure_axes(max(8.0, 1.0 * points + 2), 2.9 * len(panels) + 0.8,
                               len(panels), 1)
    for row, (op, dtype) in enumerate(panels):
        ax = axes[row][0]
        plot_peer_ratios(ax, timed[(timed["op"] == op) & (timed["dtype"] == dtype)], peers)
        ax.set_title(f"{op}, {dtype}" if len(dtypes) > 1 else op, fontsize=9)
    shared_legend(figure, axes)
    figure.suptitle("Peer time / fastnn's auto backend (above 1: fastnn faster; log axis)")
    figure.tight_layout(rect=(0, 0.07, 1, 0.95))
    return figure


def plot_peer_ratios(ax, subset, peers):
    """One panel: a bar per peer and point, its time over fastnn's auto backend's."""
    table = subset.pivot_table(index=["n_params", "layer_sizes", "batch_size"],
                               columns="backend", values="ratio", aggfunc="first")
    present = [name for name in peers if name in table.columns]
    positions = np.arange(len(table))
    width = 0.8 / max(len(present), 1)
    for index, peer in enumerate(present):
        ax.bar(positions + index * width, table[peer].to_numpy(), width,
               color=colour(peer, peers), label=peer)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(positions + width * (len(present) - 1) / 2,
                  [f"{sizes}\nx{batch}" for _, sizes, batch in table.index], fontsize=7)
    ax.set_ylabel("peer / fastnn")
    ax.grid(True, axis="y", alpha=0.3)
