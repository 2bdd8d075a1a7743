"""The report's figures: matplotlib ``Figure`` objects, no global pyplot state.

Each function returns a Figure; the single-panel ones draw into a caller's ``ax`` when
given one.
"""

from __future__ import annotations

import numpy as np

from fastnn.reporting.figures import axes_or_new, new_figure
from fastnn.reproduce.speedup import LOOP, VECTORISED


def all_figures(results):
    """Figure name -> matplotlib Figure, the names of :data:`report.PLOTS`."""
    return {
        "speedup.png": speedup_figure(results),
        "loss_tutorial_a.png": loss_figure(results, "A", "mse"),
        "loss_tutorial_b.png": loss_figure(results, "B", "cross-entropy"),
        "loss_tutorial_c.png": loss_figure(results, "C", "cross-entropy"),
        "loss_tutorial_c_shortcuts.png": shortcut_figure(results),
    }


def speedup_figure(results, ax=None):
    """Per network, the speedup of every implementation over the tutorial's loop (log scale)."""
    figure, axes = axes_or_new(ax, 9, 4.5)
    implementations = [VECTORISED] + list(results.backends)
    labels = {VECTORISED: "tutorial's vectorised code"}
    width = 0.8 / (len(implementations) + 1)
    positions = np.arange(len(results.speedup_rows))
    tutorial = [row.tutorial.get("loop") / row.tutorial["vectorised"]
                if row.tutorial.get("vectorised") else np.nan for row in results.speedup_rows]
    bars = axes.bar(positions, tutorial, width, label="tutorial's figure (vectorised)",
                    color="0.7", hatch="//")
    axes.bar_label(bars, labels=[_label(value) for value in tutorial], fontsize=7)
    for index, name in enumerate(implementations, start=1):
        speedups = [row.speedup(name) for row in results.speedup_rows]
        bars = axes.bar(positions + index * width, speedups, width,
                        label=labels.get(name, f"{name} backend"))
        axes.bar_label(bars, labels=[_label(value) for value in speedups], fontsize=7)
    axes.axhline(1.0, color="black", linewidth=0.8)
    axes.set_yscale("log")
    axes.set_xticks(positions + width * len(implementations) / 2)
    axes.set_xticklabels(["-".join(map(str, row.layer_sizes)) for row in results.speedup_rows])
    axes.set_ylabel("speedup over the tutorial's loop (×)")
    axes.set_title(f"Single-sample forward, {LOOP} = 1 ({results.settings.label} run)")
    axes.legend(fontsize=8)
    return figure


def loss_figure(results, key, loss_name, ax=None):
    """Training loss per epoch for every seed (and test loss where recorded)."""
    figure, axes = axes_or_new(ax, 7, 4.5)
    for run in results.runs[key]:
        line, = axes.plot(run.train_loss, linewidth=1, label=f"seed {run.seed}: train")
        if run.test_loss is not None:
            axes.plot(run.test_loss, linewidth=1, linestyle="--", color=line.get_color(),
                      label=f"seed {run.seed}: test")
    experiment = results.experiments[key]
    axes.set_yscale("log")
    axes.set_xlabel("epoch (pass over the training set)")
    axes.set_ylabel(f"mean {loss_name} loss")
    axes.set_title(f"{experiment.title}\n({results.settings.label} run, backend "
                   f"{results.training_backend[key]})", fontsize=10)
    axes.legend(fontsize=7, ncol=2)
    return figure


def shortcut_figure(results):
    """True-gradient against shortcut training loss, one panel per loss."""
    losses = list(results.shortcut_runs)
    figure = new_figure(5 * len(losses), 4.5, layout="constrained")
    for index, loss in enumerate(losses, start=1):
        plot_shortcut_losses(figure.add_subplot(1, len(losses), index), results, loss)
    return figure


def plot_shortcut_losses(ax, results, loss):
    """One panel: training loss of the true-gradient and the shortcut runs for ``loss``."""
    true_runs, shortcut_runs = results.shortcut_runs[loss]
    for runs, label, color in ((true_runs, "true gradient (fastnn)", "tab:blue"),
                               (shortcut_runs, "tutorial C's shortcut", "tab:red")):
        for number, run in enumerate(runs):
            ax.plot(run.train_loss, color=color, linewidth=1,
                    label=label if number == 0 else None)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"mean {loss} loss (training)")
    ax.set_title(f"64-64-10, sigmoid output, {loss}, lr 0.1", fontsize=10)
    ax.legend(fontsize=8)


def _label(speedup):
    return "" if np.isnan(speedup) else f"{speedup:.3g}×"
