"""Run every part of the reproduction and collect the results (no formatting here)."""

from __future__ import annotations

import datetime
import sys
import time
from dataclasses import dataclass, field

import fastnn
from fastnn import backends
from fastnn.reporting.machine import load_average, machine_info, single_threaded, source_revision
from fastnn.reproduce import keras_row, shortcuts, speedup, training, training_timing
from fastnn.reproduce.literal import run_checks
from fastnn.reproduce.settings import SPEEDUP_NETWORKS


@dataclass
class Results:
    """Everything a report shows. Filled in by :func:`run_all`.

    ``machine`` is the shared machine record (:class:`fastnn.reporting.machine.MachineRecord`
    as a dict), ``revision`` the source's git commit.
    """

    settings: object
    started: str
    machine: dict
    revision: dict | None = None
    threads: dict = field(default_factory=dict)
    backends: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    speedup_rows: list = field(default_factory=list)
    compile_seconds: dict = field(default_factory=dict)
    experiments: dict = field(default_factory=dict)
    tutorial_a_timings: list = field(default_factory=list)
    per_sample_vs_full_batch: float = float("nan")
    epoch_timings: dict = field(default_factory=dict)
    training_backend: dict = field(default_factory=dict)
    runs: dict = field(default_factory=dict)
    gradient_checks: list = field(default_factory=list)
    shortcut_runs: dict = field(default_factory=dict)
    keras: object = None
    elapsed: float = 0.0
    load_average_end: list | None = None

    @property
    def checks_passed(self):
        return all(check.passed for check in self.checks)


def run_all(settings, progress=None):
    """Run the literal checks, table 1, the training timings and runs, and the shortcuts.

    Parameters
    ----------
    settings : Settings
    progress : callable or None
        Called with a short message before each stage.

    Returns
    -------
    Results
    """
    say = progress or (lambda message: None)
    start = time.perf_counter()
    results = Results(settings, _utc_now(), machine_info(), source_revision())
    with single_threaded() as threads:
        results.threads = threads
        results.backends = fastnn.available_backends()
        names = results.backends
        say("literal checks")
        results.checks = run_checks(names)
        say("table 1: feed-forward timings")
        results.speedup_rows, results.compile_seconds = speedup.measure(
            settings, SPEEDUP_NETWORKS, names)
        results.experiments = {exp.key: exp for exp in training.experiments(settings)}
        tutorial_a = results.experiments["A"]
        say("tutorial A: per-sample and full-batch training times")
        results.tutorial_a_timings = training_timing.time_tutorial_a(settings, tutorial_a, names)
        results.per_sample_vs_full_batch = training_timing.per_sample_matches_full_batch(
            tutorial_a)
        results.training_backend["A"] = _fastest(results.tutorial_a_timings)
        for key in ("B", "C"):
            say(f"tutorial {key}: time per epoch")
            results.epoch_timings[key] = training_timing.time_epochs(
                settings, results.experiments[key], names)
            results.training_backend[key] = _fastest(results.epoch_timings[key])
        for key, experiment in results.experiments.items():
            backend = results.training_backend[key]
            say(f"tutorial {key}: {experiment.epochs} epochs x {len(settings.seeds)} seeds "
                f"on {backend}")
            results.runs[key] = [training.train(experiment, seed, backend)
                                 for seed in settings.seeds]
        say("tutorial C: gradient shortcuts")
        results.gradient_checks = shortcuts.gradient_checks()
        results.shortcut_runs = shortcuts.compare_training(
            settings.epochs_c, settings.seeds, results.training_backend["C"])
        say(f"tutorial C's Keras model: {settings.epochs_keras} epochs x "
            f"{len(settings.seeds)} seeds, Keras and fastnn, one CPU")
        results.keras = keras_row.compare(settings.epochs_keras, settings.seeds,
                                          results.training_backend["C"])
    results.elapsed = time.perf_counter() - start
    results.load_average_end = load_average()
    return results


def _fastest(timings):
    """The backend with the shortest median full-batch pass (a time-limited one only if alone)."""
    candidates = [t for t in timings if t.form == training_timing.FULL_BATCH]
    fast = [t for t in candidates if not backends.get(t.backend).is_time_limited] or candidates
    return min(fast, key=lambda t: t.per_pass.median).backend


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def print_progress(message):
    """Progress on stderr, so stdout carries only the headline tables."""
    print(f"fastnn reproduce: {message}", file=sys.stderr, flush=True)
