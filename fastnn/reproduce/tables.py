"""The report's tables; :func:`headline` is what ``fastnn reproduce`` prints.

Formatting is the reporting core's (:mod:`fastnn.reporting.formatting`); which backends
get a speedup column is read from what they declare (time-limited ones do not).
"""

from __future__ import annotations

import numpy as np

from fastnn import backends
from fastnn.reporting.formatting import (
    format_ratio,
    format_time,
    markdown_rows,
    mean_std_percent,
    percent,
    sizes_label,
)
from fastnn.reproduce.keras_row import INSTALL, TUTORIAL_EPOCHS
from fastnn.reproduce.speedup import LOOP, VECTORISED
from fastnn.reproduce.training_timing import FULL_BATCH, PER_SAMPLE


def headline(results):
    """Tables 1 and 2 and the literal-check summary, as printed on stdout."""
    parts = ["## 1. Feed-forward speedup (tutorial A)", speedup_table(results),
             "## 2. Training (tutorials A, B, C)", accuracy_table(results),
             "Training time, tutorial A:", tutorial_a_time_table(results),
             "Training time, tutorials B and C (full batch):", epoch_time_table(results),
             "Tutorial C's Keras model, side by side:", keras_table(results),
             checks_summary(results)]
    return "\n\n".join(parts) + "\n"


def speedup_table(results):
    """Table 1: per network, the tutorial's times, this run's times and the speedups."""
    names = results.backends
    fast = fast_backends(names)
    header = (["network", "tutorial: loop", "tutorial: vectorised", "tutorial: speedup",
               "loop (tutorial's code)", "vectorised (tutorial's code)"]
              + [f"{name} backend" for name in names]
              + ["loop ÷ vectorised"] + [f"loop ÷ {name}" for name in fast])
    rows = []
    for row in results.speedup_rows:
        tutorial_loop = row.tutorial.get("loop")
        tutorial_vec = row.tutorial.get("vectorised")
        tutorial_speedup = (format_ratio(tutorial_loop / tutorial_vec)
                            if tutorial_loop and tutorial_vec else "-")
        cells = [sizes_label(row.layer_sizes), seconds(tutorial_loop), seconds(tutorial_vec),
                 tutorial_speedup, timing_cell(row.timings[LOOP]),
                 timing_cell(row.timings[VECTORISED])]
        cells += [timing_cell(row.timings[name]) for name in names]
        cells += [format_ratio(row.speedup(name)) for name in (VECTORISED, *fast)]
        rows.append(cells)
    return markdown_rows(header, rows)


def accuracy_table(results):
    """Table 2: per experiment, accuracy over the seeds next to the tutorial's figure."""
    seeds = results.settings.seeds
    header = ["experiment", "epochs", "tutorial", f"this machine: mean ± std ({len(seeds)} "
              f"seed{'s' if len(seeds) > 1 else ''})", "min - max", "difference", "backend"]
    rows = []
    for key, experiment in results.experiments.items():
        values = np.array([run.accuracy for run in results.runs[key]])
        tutorial = experiment.tutorial_accuracy
        difference = (f"{(values.mean() - tutorial) * 100:+.1f} points"
                      if tutorial is not None else "-")
        rows.append([
            f"{experiment.title} ({experiment.accuracy_on} accuracy)", str(experiment.epochs),
            percent(tutorial) if tutorial is not None else "not stated",
            mean_std_percent(values),
            f"{percent(values.min())} - {percent(values.max())}", difference,
            results.training_backend[key]])
    return markdown_rows(header, rows)


def tutorial_a_time_table(results):
    """Tutorial A's training time per backend: per-sample loop and full batch."""
    passes = results.experiments["A"].epochs
    header = ["backend", "per-sample loop (tutorial's algorithm): per pass",
              f"per-sample loop: {passes} passes", "full batch: per pass",
              f"full batch: {passes} passes"]
    by_key = {(t.backend, t.form): t for t in results.tutorial_a_timings}
    rows = []
    for name in results.backends:
        per_sample, full = by_key[(name, PER_SAMPLE)], by_key[(name, FULL_BATCH)]
        rows.append([name, timing_cell(per_sample.per_pass), _total_cell(per_sample),
                     timing_cell(full.per_pass), _total_cell(full)])
    return markdown_rows(header, rows)


def epoch_time_table(results):
    """Tutorials B and C: full-batch time per epoch and for all epochs, per backend."""
    header = ["experiment", "backend", "per epoch", "all epochs"]
    rows = []
    for key, timings in results.epoch_timings.items():
        for timing in timings:
            network = sizes_label(results.experiments[key].spec.layer_sizes)
            rows.append([f"tutorial {key} ({network})", timing.backend,
                         timing_cell(timing.per_pass), _total_cell(timing)])
    return markdown_rows(header, rows)


def _total_cell(timing):
    text = seconds(timing.total)
    if not timing.extrapolated:
        return f"{text} (measured in full)"
    measured = (f"{timing.passes_timed} pass{'es' if timing.passes_timed > 1 else ''}"
                if timing.samples_timed == timing.training_samples
                else f"{timing.samples_timed} of {timing.training_samples} samples")
    return f"≈ {text} (extrapolated from {measured} per round)"


def keras_table(results):
    """Tutorial C's Keras model and the same model in fastnn: accuracy, time, ratio.

    Without keras installed, one row saying how to install it.
    """
    comparison = results.keras
    header = ["setting", "epochs", f"Keras: test accuracy ({_seeds_label(results)})",
              "fastnn: test accuracy", "Keras: training time (median)",
              "fastnn: training time (median)", "Keras ÷ fastnn (time)"]
    setting = ("64-64-10, ReLU + softmax, categorical cross-entropy, Adam (lr 1e-3, "
               "β 0.9/0.999, ε 1e-7), batch 32, no L2")
    if comparison is None:
        return markdown_rows(header, [[setting, "-", "not run", "-", "-", "-", "-"]])
    if not comparison.available:
        return markdown_rows(header, [[setting, str(comparison.epochs),
                                       f"keras not installed: `{INSTALL}`",
                                       "-", "-", "-", "-"]])
    keras_time = np.median([run.train_seconds for run in comparison.keras_runs])
    fastnn_time = np.median([run.train_seconds for run in comparison.fastnn_runs])
    return markdown_rows(header, [[
        setting, _epochs_label(comparison.epochs),
        mean_std_percent([run.accuracy for run in comparison.keras_runs]),
        mean_std_percent([run.accuracy for run in comparison.fastnn_runs]),
        seconds(keras_time), f"{seconds(fastnn_time)} ({comparison.backend}, float32)",
        format_ratio(keras_time / fastnn_time)]])


def _epochs_label(epochs):
    return str(epochs) if epochs == TUTORIAL_EPOCHS \
        else f"{epochs} (reduced; the tutorial: {TUTORIAL_EPOCHS})"


def _seeds_label(results):
    count = len(results.settings.seeds)
    return f"mean ± std, {count} seed{'s' if count > 1 else ''}"


def fast_backends(names):
    """The backends of ``names`` that are not time-limited: their speedup is worth a column."""
    return [name for name in names if not backends.get(name).is_time_limited]


def seconds(value):
    """A duration for the reproduce report: ``-`` where there is none."""
    return format_time(value, missing="-")


def timing_cell(timing):
    """Median with the IQR as a percentage of it (no IQR for a single round)."""
    iqr = timing.relative_iqr * 100
    return f"{seconds(timing.median)} ({iqr:.0f}%)" if len(timing.per_call) > 1 \
        else seconds(timing.median)


def checks_table(results):
    """Section 3: every literal check."""
    rows = [[check.name, check.computed_by, check.tutorial, check.computed,
             "yes" if check.passed else "**NO**"] for check in results.checks]
    return markdown_rows(["check", "computed by", "tutorial", "this run", "agrees"], rows)


def checks_summary(results):
    """One line: how many literal checks agree."""
    passed = sum(check.passed for check in results.checks)
    return (f"Literal checks: {passed} of {len(results.checks)} agree with the tutorials' "
            f"printed figures.")
