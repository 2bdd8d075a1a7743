"""Run every part of the reproduction and collect the results (no formatting here)."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np

import fastnn
from fastnn.reproduce import shortcuts, speedup, training, training_timing
from fastnn.reproduce.literal import run_checks
from fastnn.reproduce.settings import SPEEDUP_NETWORKS
from fastnn.reproduce.timing import single_threaded


@dataclass
class Results:
    """Everything a report shows. Filled in by :func:`run_all`."""

    settings: object
    started: str
    machine: dict
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
    elapsed: float = 0.0

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
    results = Results(settings, _utc_now(), machine_info())
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
    results.elapsed = time.perf_counter() - start
    results.machine["load_average_end"] = _load_average()
    return results


def machine_info():
    """Python, library versions, CPU model and core count."""
    info = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "fastnn": fastnn.__version__,
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "load_average": _load_average(),
        "git": _git_revision(),
    }
    try:
        import numba
        info["numba"] = numba.__version__
    except ImportError:
        info["numba"] = "not installed"
    return info


def _fastest(timings):
    """The backend with the shortest median full-batch pass (python only if it is alone)."""
    candidates = [t for t in timings if t.form == training_timing.FULL_BATCH]
    compiled = [t for t in candidates if t.backend != "python"] or candidates
    return min(compiled, key=lambda t: t.per_pass.median).backend


def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_revision():
    """The checkout's commit, ``+ local changes`` if the package differs from it; None
    outside a git checkout."""
    package = os.path.dirname(os.path.abspath(fastnn.__file__))
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=package,
                                capture_output=True, text=True, timeout=10, check=True)
        status = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=package,
                                capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return commit.stdout.strip() + (" + local changes" if status.stdout.strip() else "")


def _load_average():
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def print_progress(message):
    """Progress on stderr, so stdout carries only the headline tables."""
    print(f"fastnn reproduce: {message}", file=sys.stderr, flush=True)
