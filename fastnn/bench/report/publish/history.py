"""The runs of a history: loaded, labelled, grouped by machine and settings, in date order."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from fastnn.reporting.results import load_results

RESULTS_FILE = "results.json"


@dataclass
class Run:
    """One run of the history.

    Attributes
    ----------
    path : Path
        Its folder.
    name : str
        A unique, file-name-safe label (the folder's name).
    frame : pandas.DataFrame
    metadata : dict
    """

    path: Path
    name: str
    frame: object
    metadata: dict

    @property
    def date(self):
        return (self.metadata.get("machine") or {}).get("date_utc") or ""

    @property
    def commit(self):
        return ((self.metadata.get("revision") or {}).get("commit") or "")[:7] or "?"

    @property
    def label(self):
        """``"abc1234 2026-12-07 04:39"``: commit and date, for an axis."""
        return f"{self.commit} {self.date[:16].replace('T', ' ')}".strip()


def run_folders(paths):
    """The run folders named by ``paths``: run folders, results files, or folders of runs.

    Parameters
    ----------
    paths : sequence of path-like

    Returns
    -------
    list of Path
        Each a folder (or a results.json) to load; a folder of runs gives its
        sub-folders, sorted by name.
    """
    found = []
    for path in map(Path, paths):
        if path.is_dir() and not (path / RESULTS_FILE).exists():
            found.extend(sorted(child for child in path.iterdir() if child.is_dir()))
        else:
            found.append(path)
    return found


def load_history(paths, warn=print):
    """Load every run; a missing or corrupt one is skipped with a line naming it.

    Parameters
    ----------
    paths : sequence of path-like
    warn : callable
        Called with the line for each skipped run.

    Returns
    -------
    list of Run
    """
    runs, names = [], set()
    for path in run_folders(paths):
        try:
            frame, metadata = load_results(path)
        except (OSError, ValueError) as exc:
            warn(f"fastnn publish: skipped {path}: {exc}")
            continue
        folder = path if path.is_dir() else path.parent
        name = _unique(re.sub(r"[^A-Za-z0-9._-]+", "_", folder.name) or "run", names)
        runs.append(Run(folder, name, frame, metadata))
    return runs


def _unique(name, taken):
    candidate, index = name, 2
    while candidate in taken:
        candidate, index = f"{name}-{index}", index + 1
    taken.add(candidate)
    return candidate


def group_label(run):
    """What must be equal for two runs to be compared: machine, versions, settings.

    Returns
    -------
    str
        E.g. ``"AMD EPYC x2 (vm) | fastnn 0.1.0, NumPy 2.4.6, Numba 0.68.1, openblas
        0.3.30 | rounds 7, 0.01 s, threads 1"``.
    """
    machine = run.metadata.get("machine") or {}
    config = run.metadata.get("config") or {}
    blas = ", ".join(sorted({f"{entry.get('internal_api')} {entry.get('version')}"
                             for entry in machine.get("blas") or []}))
    hardware = (f"{machine.get('cpu_model', 'unknown CPU')} x{machine.get('logical_cores', '?')}"
                f" ({machine.get('host', '?')})")
    versions = (f"fastnn {machine.get('fastnn', '?')}, NumPy {machine.get('numpy', '?')}, "
                f"Numba {machine.get('numba', '?')}" + (f", {blas}" if blas else ""))
    settings = (f"rounds {config.get('rounds', '?')}, {config.get('min_time', '?')} s per round, "
                f"threads {config.get('threads', '?')}")
    return f"{hardware} | {versions} | {settings}"


def group_runs(runs):
    """Runs grouped by :func:`group_label`, each group in date order.

    Returns
    -------
    list of (label, slug, list of Run)
        Groups in order of their latest run, newest first.
    """
    groups = {}
    for run in runs:
        groups.setdefault(group_label(run), []).append(run)
    ordered = []
    for label, members in groups.items():
        members.sort(key=lambda run: (run.date, run.name))
        slug = "group-" + hashlib.sha1(label.encode()).hexdigest()[:8]
        ordered.append((label, slug, members))
    ordered.sort(key=lambda group: group[2][-1].date, reverse=True)
    return ordered
