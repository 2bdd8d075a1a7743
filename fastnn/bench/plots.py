"""The report's matplotlib figures (Agg backend, PNG): time vs layer size, speedups, batches.

Each function takes the timed rows of one level, dtype and thread count (see
:func:`fastnn.report.headline_selection`) and returns PNG bytes, which the caller writes
atomically.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

OP_STYLES = {"forward": "-", "gradients": "--", "train_step": ":"}


def time_vs_size_png(data, backend_order):
    """Median time per call against parameter count, log-log; one panel per op and batch.

    Parameters
    ----------
    data : pandas.DataFrame
        Timed rows (status ``ok``) with ``backend``, ``op``, ``batch_size``, ``n_params``,
        ``layer_sizes``, ``median_s``.
    backend_order : list of str

    Returns
    -------
    bytes
    """
    ops = list(dict.fromkeys(data["op"]))
    batches = sorted(data["batch_size"].unique())
    fig, axes = plt.subplots(len(ops), len(batches), squeeze=False, sharex=True,
                             figsize=(3.6 * len(batches) + 1, 2.8 * len(ops) + 0.6))
    ticks = data.drop_duplicates("layer_sizes").sort_values("n_params")
    for row, op in enumerate(ops):
        for col, batch in enumerate(batches):
            ax = axes[row][col]
            subset = data[(data["op"] == op) & (data["batch_size"] == batch)]
            for backend in backend_order:
                line = subset[subset["backend"] == backend].sort_values("n_params")
                if len(line):
                    ax.plot(line["n_params"], line["median_s"], marker="o",
                            color=_colour(backend, backend_order), label=backend)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{op}, batch {batch}", fontsize=9)
            ax.set_xticks(ticks["n_params"].tolist(), ticks["layer_sizes"].tolist(),
                          rotation=30, fontsize=7)
            ax.minorticks_off()
            ax.grid(True, which="major", alpha=0.3)
            if col == 0:
                ax.set_ylabel("median seconds per call")
            if row == len(ops) - 1:
                ax.set_xlabel("layer sizes (placed by parameter count)", fontsize=8)
    _legend(fig, axes)
    fig.suptitle("Time per call vs network size (log axes)")
    return _png(fig)


def speedup_png(data, backend_order, baseline="numpy"):
    """Bars of the speedup against ``baseline`` per layer size and batch; one panel per op.

    Returns
    -------
    bytes
    """
    ops = list(dict.fromkeys(data["op"]))
    others = [name for name in backend_order if name != baseline]
    groups = data.drop_duplicates(["layer_sizes", "batch_size"]).shape[0]
    fig, axes = plt.subplots(len(ops), 1, squeeze=False,
                             figsize=(max(10.0, 1.1 * groups + 2), 2.9 * len(ops) + 0.6))
    for row, op in enumerate(ops):
        ax = axes[row][0]
        subset = data[data["op"] == op]
        table = subset.pivot_table(index=["n_params", "layer_sizes", "batch_size"],
                                   columns="backend", values="median_s", aggfunc="first")
        labels = [f"{sizes}\nx{batch}" for _, sizes, batch in table.index]
        positions = np.arange(len(table))
        width = 0.8 / max(len(others), 1)
        for index, backend in enumerate(others):
            if baseline in table and backend in table:
                speedup = table[baseline] / table[backend]
                ax.bar(positions + index * width, speedup.to_numpy(), width,
                       color=_colour(backend, backend_order), label=backend)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xticks(positions + width * (len(others) - 1) / 2, labels, fontsize=7)
        ax.set_ylabel(f"speedup vs {baseline}")
        ax.set_title(op, fontsize=9)
        ax.grid(True, axis="y", alpha=0.3)
    _legend(fig, axes)
    fig.suptitle(f"Speedup against the {baseline} backend (above 1: faster; log axis)")
    return _png(fig)


def batch_scaling_png(data, backend_order):
    """Time per sample against batch size, log-log; one panel per layer size.

    Colour is the backend, line style the op.

    Returns
    -------
    bytes
    """
    sizes = data.drop_duplicates("layer_sizes").sort_values("n_params")["layer_sizes"].tolist()
    fig, axes = plt.subplots(1, len(sizes), squeeze=False, figsize=(3.6 * len(sizes) + 1, 3.8))
    for col, label in enumerate(sizes):
        ax = axes[0][col]
        subset = data[data["layer_sizes"] == label]
        for backend in backend_order:
            for op, style in OP_STYLES.items():
                line = subset[(subset["backend"] == backend) & (subset["op"] == op)]
                line = line.sort_values("batch_size")
                if len(line):
                    ax.plot(line["batch_size"], line["median_s"] / line["batch_size"],
                            linestyle=style, marker="o", markersize=3,
                            color=_colour(backend, backend_order), label=f"{backend} {op}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        batches = sorted(subset["batch_size"].unique())
        ax.set_xticks(batches, [str(batch) for batch in batches])
        ax.minorticks_off()
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("batch size")
        ax.grid(True, alpha=0.3)
        if col == 0:
            ax.set_ylabel("median seconds per sample")
    _legend(fig, axes)
    fig.suptitle("Batch-size scaling: time per sample")
    return _png(fig, legend_space=0.17)


def _colour(backend, backend_order):
    return f"C{backend_order.index(backend) % 10}" if backend in backend_order else "black"


def _legend(fig, axes):
    handles, labels = {}, {}
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
            labels.setdefault(label, label)
    if handles:
        fig.legend(list(handles.values()), list(labels.values()), loc="lower center",
                   ncol=min(len(handles), 6), fontsize=8, frameon=False)


def _png(fig, legend_space=0.07):
    fig.tight_layout(rect=(0, legend_space, 1, 0.95))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()
