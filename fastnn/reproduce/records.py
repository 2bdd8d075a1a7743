"""``results.json``: the run's raw numbers, for comparisons and later analysis."""

from __future__ import annotations

import json

import numpy as np

from fastnn.reporting.roles import BackendRoles


def results_json(results, command):
    """The results as indented JSON (per-round timings, per-seed accuracies and losses)."""
    settings = results.settings
    data = {
        "command": command,
        "settings": {"label": settings.label, "seeds": list(settings.seeds),
                     "passes_a": settings.passes_a, "epochs_b": settings.epochs_b,
                     "epochs_c": settings.epochs_c,
                     "epochs_keras": settings.epochs_keras},
        "started": results.started,
        "elapsed_seconds": results.elapsed,
        "machine": results.machine,
        "revision": results.revision,
        "load_average_end": results.load_average_end,
        "threads": results.threads,
        "backends": results.backends,
        "backend_roles": BackendRoles.of_registry(results.backends).as_dict(),
        "first_call_seconds": results.compile_seconds,
        "speedup": [{"layer_sizes": list(row.layer_sizes), "tutorial_seconds": row.tutorial,
                     "seconds_per_call": {name: list(t.per_call) for name, t in
                                          row.timings.items()}}
                    for row in results.speedup_rows],
        "tutorial_a_timing": [_form(t) for t in results.tutorial_a_timings],
        "per_sample_vs_full_batch_relative_difference": results.per_sample_vs_full_batch,
        "epoch_timing": {key: [_form(t) for t in timings]
                         for key, timings in results.epoch_timings.items()},
        "training": {key: {"backend": results.training_backend[key],
                           "tutorial_accuracy": results.experiments[key].tutorial_accuracy,
                           "epochs": results.experiments[key].epochs,
                           "runs": [_run(run) for run in runs]}
                     for key, runs in results.runs.items()},
        "tutorial_c_loss_per_epoch": _mean_curves(results.runs.get("C", [])),
        "shortcut_gradient_checks": [vars(check) for check in results.gradient_checks],
        "shortcut_training": {loss: {"true": [_run(run) for run in true_runs],
                                     "shortcut": [_run(run) for run in shortcut_runs]}
                              for loss, (true_runs, shortcut_runs)
                              in results.shortcut_runs.items()},
        "literal_checks": [vars(check) for check in results.checks],
        "keras_comparison": _keras(results.keras),
    }
    return json.dumps(data, indent=1, default=_plain) + "\n"


def _form(timing):
    return {"backend": timing.backend, "form": timing.form,
            "seconds_per_pass": list(timing.per_pass.per_call),
            "passes_timed": timing.passes_timed, "samples_timed": timing.samples_timed,
            "total_passes": timing.total_passes, "estimated_total_seconds": timing.total,
            "extrapolated": timing.extrapolated}


def _run(run):
    return {"seed": run.seed, "backend": run.backend, "accuracy": run.accuracy,
            "final_train_loss": run.final_train_loss,
            "first_train_loss": float(run.train_loss[0]) if run.train_loss.size else None}


def _keras(comparison):
    """Tutorial C's Keras comparison: per seed, both sides' runs (or why it did not run)."""
    if comparison is None:
        return None
    return {"epochs": comparison.epochs, "fastnn_backend": comparison.backend,
            "fastnn_dtype": "float32", "batch_size": 32,
            "batches_per_epoch": comparison.batches_per_epoch,
            "missing": comparison.missing, "versions": comparison.versions,
            "pinning": comparison.pinning,
            "keras": [vars(run) for run in comparison.keras_runs],
            "fastnn": [vars(run) for run in comparison.fastnn_runs]}


def _mean_curves(runs):
    """Per epoch, the train and test loss averaged over the seeds (6 significant digits)."""
    if not runs:
        return None
    curves = {"train": np.mean([run.train_loss for run in runs], axis=0)}
    if runs[0].test_loss is not None:
        curves["test"] = np.mean([run.test_loss for run in runs], axis=0)
    return {name: [float(f"{value:.6g}") for value in curve] for name, curve in curves.items()}


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")
