"""Two runs side by side: speedups, and changes decided by evidence.

A measurement's verdict (:func:`compare_runs`):

- ``same``: the medians differ by at most the threshold;
- ``regressed`` / ``improved``: the medians differ by more than the threshold AND the
  change is significantly larger than the threshold: a two-sided Mann-Whitney U test
  (:func:`fastnn.reporting.stats.change_test`) of the slower run's per-round samples
  against the faster run's scaled by ``1 + threshold``, whose p-value passes Holm's
  correction for the number of measurements compared, at family level ``alpha`` (5 %).
  (Testing against the threshold, not against "no change", keeps a shift just past the
  threshold between two processes - which the rounds of one process cannot see - from
  being called a regression.);
- ``inconclusive``: beyond the threshold but without that evidence - too few rounds
  (0 or 1 round, or so few that no p-value could pass the corrected level), not
  significant, a change within what the runs' measured noise explains
  (:mod:`fastnn.reporting.noise`), or a run whose own cores other processes shared
  (:func:`fastnn.reporting.noise.contention`): no verdict is given from such a run.

Two runs of the older format (medians only, no samples) fall back to the median rule
(beyond the threshold is a verdict) and the comparison says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fastnn.reporting.formatting import format_ratio, format_time, markdown_table
from fastnn.reporting.noise import calibration_speed, contention, noise_warnings
from fastnn.reporting.results import load_results
from fastnn.reporting.rows import KEY_COLUMNS
from fastnn.reporting.stats import ALPHA, as_samples, change_tests, holm

VERDICTS = ("regressed", "improved", "inconclusive", "same")


def parse_threshold(text):
    """``"10%"`` or ``"0.1"`` -> ``0.1``.

    Raises
    ------
    ValueError
        For anything but a non-negative number or percentage.
    """
    spelled = str(text).strip()
    try:
        value = float(spelled[:-1]) / 100 if spelled.endswith("%") else float(spelled)
    except ValueError:
        raise ValueError(f"malformed threshold {text!r}: give a percentage such as 10% "
                         f"or a fraction such as 0.1") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"the threshold must be a non-negative finite number; got {text!r}")
    return value


def noise_margin(old_noise=None, new_noise=None):
    """The change the two runs' measured noise can explain, as a fraction (0 if quiet).

    The larger calibration-loop drift within either run, plus the change of the
    machine's speed between them (their calibration loops' medians), counted only for a
    run with a noise warning (:func:`fastnn.reporting.noise.noise_warnings`).

    Returns
    -------
    float
    """
    if not (noise_warnings(old_noise) or noise_warnings(new_noise)):
        return 0.0
    drifts = [record.get("calibration_drift") or 0.0
              for record in (old_noise, new_noise) if record]
    margin = max(drifts, default=0.0)
    old_speed, new_speed = calibration_speed(old_noise), calibration_speed(new_noise)
    if old_speed and new_speed:
        margin += abs(new_speed / old_speed - 1)
    return margin


def compare_runs(old, new, threshold=0.10, alpha=ALPHA, old_noise=None, new_noise=None):
    """Join two results tables on their measurement keys and classify each change.

    Parameters
    ----------
    old, new : pandas.DataFrame
        Results tables (see :mod:`fastnn.reporting.rows`); ``samples_s`` (per-round
        seconds) when the runs kept them.
    threshold : float
        Allowed slowdown as a fraction (0.1 for 10 %).
    alpha : float
        Family-wise significance level of the rank tests (Holm-corrected).
    old_noise, new_noise : dict or None
        The runs' noise records (``results.json``'s ``noise``).

    Returns
    -------
    pandas.DataFrame
        The key columns, ``old_s``, ``new_s``, ``speedup`` (old / new), ``change``
        (new / old - 1), ``p_value``, ``holm_level`` (the corrected level it was held to),
        ``verdict`` (one of :data:`VERDICTS`), ``reason`` and ``unstable``; its
        ``attrs["basis"]`` is ``"samples"`` or ``"medians"`` (older runs).

    Raises
    ------
    ValueError
        If the runs share no timed measurement.
    """
    keys = list(KEY_COLUMNS)
    merged = _timed(old).merge(_timed(new), on=keys, suffixes=("_old", "_new"))
    if merged.empty:
        raise ValueError("the two runs share no timed measurement (same backend, level, "
                         "layer sizes, batch, op, dtype and threads); nothing to compare")
    table = merged[keys].copy()
    table["old_s"] = merged["median_s_old"].astype(float)
    table["new_s"] = merged["median_s_new"].astype(float)
    table["speedup"] = table["old_s"] / table["new_s"]
    table["change"] = table["new_s"] / table["old_s"] - 1
    table["unstable"] = merged["unstable_old"].fillna(False).astype(bool) | \
        merged["unstable_new"].fillna(False).astype(bool)
    beyond = (table["change"] > threshold) | (table["old_s"] / table["new_s"] - 1 > threshold)
    direction = np.where(table["change"] > 0, "regressed", "improved")
    has_samples = merged["samples_s_old"].map(_has_samples) & \
        merged["samples_s_new"].map(_has_samples)
    if not has_samples.any():
        table["p_value"] = np.nan
        table["holm_level"] = np.nan
        table["verdict"] = np.where(beyond, direction, "same")
        table["reason"] = np.where(beyond, "median beyond the threshold (no samples)", "")
        table.attrs["basis"] = "medians"
        return table
    tests = change_tests(_against_threshold(merged["samples_s_old"], merged["samples_s_new"],
                                            table["change"], threshold))
    p_values = np.array([test.p_value for test in tests])
    significant, levels = holm(p_values, alpha)
    margin = noise_margin(old_noise, new_noise)
    shared = "; ".join(f"{name} run: {reason}" for name, reason in
                       (("old", contention(old_noise)), ("new", contention(new_noise))) if reason)
    verdicts, reasons = [], []
    for index, test in enumerate(tests):
        verdict, reason = _verdict(bool(beyond.iloc[index]), direction[index], test,
                                   bool(significant[index]), levels[index],
                                   abs(float(table["change"].iloc[index])), threshold, margin)
        if shared and verdict in ("regressed", "improved"):
            verdict, reason = "inconclusive", f"noisy run ({reason})"
        verdicts.append(verdict)
        reasons.append(reason)
    table["p_value"] = p_values
    table["holm_level"] = levels
    table["verdict"] = verdicts
    table["reason"] = reasons
    table.attrs["basis"] = "samples"
    table.attrs["noise_margin"] = margin
    table.attrs["contention"] = shared
    return table


def _verdict(beyond, direction, test, significant, level, size, threshold, margin):
    """One measurement's verdict and the reason for it."""
    if test.n_old < 2 or test.n_new < 2:
        return "inconclusive", f"too few rounds ({test.n_old} and {test.n_new})"
    if not beyond:
        return "same", ""
    if not significant:
        if test.smallest_p > level:
            return "inconclusive", (f"too few rounds ({test.n_old} and {test.n_new}) to reach "
                                    f"the corrected level {level:.2g}")
        return "inconclusive", f"not significant (p={test.p_value:.2g} > {level:.2g})"
    if size <= threshold + margin:
        return "inconclusive", (f"within the runs' measured noise (threshold + "
                                f"{100 * margin:.0f}%)")
    return direction, f"p={test.p_value:.2g} <= {level:.2g}"


def _against_threshold(old_samples, new_samples, changes, threshold):
    """Pairs of per-round samples to test, the faster run's scaled by ``1 + threshold``:
    a significant difference then says the change is beyond the threshold, not merely
    that there is one."""
    pairs = []
    for old, new, change in zip(old_samples, new_samples, changes):
        old = as_samples(old) if _has_samples(old) else np.empty(0)
        new = as_samples(new) if _has_samples(new) else np.empty(0)
        if change > 0:
            old = old * (1 + threshold)
        else:
            new = new * (1 + threshold)
        pairs.append((old, new))
    return pairs


def _has_samples(value):
    samples = as_samples(value) if isinstance(value, (list, tuple, np.ndarray)) else np.empty(0)
    return samples.size > 0


def machine_differences(old_metadata, new_metadata):
    """What differs between two runs' machines and settings, as sentences.

    Compares the CPU, core counts, Python, fastnn, NumPy, Numba and BLAS versions, the
    BLAS thread settings and the versions of the peers both runs timed, and the
    sweep settings (rounds, seconds per round, threads).

    Parameters
    ----------
    old_metadata, new_metadata : dict
        The runs' metadata (``results.json`` without its rows).

    Returns
    -------
    list of str
    """
    old_machine = old_metadata.get("machine") or {}
    new_machine = new_metadata.get("machine") or {}
    differences = []
    if not old_machine or not new_machine:
        differences.append("a run has no machine record: the machines cannot be compared")
    for key, what in (("cpu_model", "CPU"), ("logical_cores", "logical cores"),
                      ("usable_cores", "usable cores"), ("host", "host"),
                      ("python", "Python"), ("fastnn", "fastnn"), ("numpy", "NumPy"),
                      ("numba", "Numba"), ("numba_threads_max", "Numba threads")):
        if old_machine and new_machine and old_machine.get(key) != new_machine.get(key):
            differences.append(f"{what}: {old_machine.get(key)} -> {new_machine.get(key)}")
    old_blas, new_blas = _blas(old_machine), _blas(new_machine)
    if old_machine and new_machine and old_blas != new_blas:
        differences.append(f"BLAS (library, version, threads): {old_blas} -> {new_blas}")
    old_peers, new_peers = old_machine.get("peers") or {}, new_machine.get("peers") or {}
    for name in sorted(set(old_peers) & set(new_peers)):
        if old_peers[name] != new_peers[name]:
            differences.append(f"{name}: {old_peers[name]} -> {new_peers[name]}")
    old_config = old_metadata.get("config") or {}
    new_config = new_metadata.get("config") or {}
    for key in ("rounds", "min_time", "threads", "unstable_ratio"):
        if old_config.get(key) != new_config.get(key):
            differences.append(f"setting {key}: {old_config.get(key)} -> {new_config.get(key)}")
    return differences


def _blas(machine):
    return sorted((entry.get("internal_api"), entry.get("version"), entry.get("num_threads"))
                  for entry in machine.get("blas") or [])


def only_in_one(old, new):
    """Numbers of timed measurements present in only the old and only the new run."""
    keys = list(KEY_COLUMNS)
    old_keys = set(map(tuple, _timed(old)[keys].astype(str).to_numpy()))
    new_keys = set(map(tuple, _timed(new)[keys].astype(str).to_numpy()))
    return len(old_keys - new_keys), len(new_keys - old_keys)


def _timed(frame):
    if frame.empty:
        return pd.DataFrame(columns=[*KEY_COLUMNS, "median_s", "unstable", "samples_s"])
    frame = frame[(frame["status"] == "ok") & frame["median_s"].notna()].copy()
    if "unstable" not in frame.columns:
        frame["unstable"] = False
    if "samples_s" not in frame.columns:
        frame["samples_s"] = None
    # A missing thread count (no Numba) must still match itself across the two runs.
    for column in ("blas_threads", "numba_threads"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").fillna(-1).astype("int64")
    return frame


def compare_text(old_path, new_path, threshold=0.10, alpha=ALPHA):
    """Load two runs and compare them: the Markdown text and the table.

    Returns
    -------
    text : str
    table : pandas.DataFrame
        See :func:`compare_runs`.
    """
    old, old_metadata = load_results(old_path)
    new, new_metadata = load_results(new_path)
    table = compare_runs(old, new, threshold, alpha, old_metadata.get("noise"),
                         new_metadata.get("noise"))
    text = comparison_markdown(table, threshold, *only_in_one(old, new),
                               old_name=str(old_path), new_name=str(new_path), alpha=alpha,
                               differences=machine_differences(old_metadata, new_metadata),
                               noise={"OLD": old_metadata.get("noise"),
                                      "NEW": new_metadata.get("noise")})
    return text, table


def comparison_markdown(table, threshold, only_old=0, only_new=0, old_name="OLD",
                        new_name="NEW", alpha=ALPHA, differences=(), noise=None):
    """The comparison as Markdown: the verdict counts, warnings, and a table."""
    counts = table["verdict"].value_counts()
    order = {verdict: rank for rank, verdict in enumerate(VERDICTS)}
    shown = table.assign(rank=table["verdict"].map(order), size=table["change"].abs()).sort_values(
        ["rank", "size"], ascending=[True, False], kind="stable")
    reasons = shown["reason"].fillna("") if "reason" in shown else ""
    cells = pd.DataFrame({
        "backend": shown["backend"], "level": shown["level"],
        "layer sizes": shown["layer_sizes"], "batch": shown["batch_size"], "op": shown["op"],
        "dtype": shown["dtype"], "old": shown["old_s"].map(format_time),
        "new": shown["new_s"].map(format_time), "speedup": shown["speedup"].map(format_ratio),
        "change": shown["change"].map(lambda change: f"{100 * change:+.1f}%"),
        "verdict": shown["verdict"] + shown["unstable"].map({True: " (unstable)", False: ""}),
        "why": reasons,
    }).set_index("backend")
    basis = table.attrs.get("basis", "medians")
    lines = [f"# fastnn compare: {old_name} -> {new_name}", ""]
    summary = (f"{len(table)} measurements in common (threshold {100 * threshold:g}%): "
               + ", ".join(f"{counts.get(verdict, 0)} {verdict}" for verdict in VERDICTS) + ".")
    if only_old or only_new:
        summary += f" Not compared: {only_old} only in OLD, {only_new} only in NEW."
    if differences:
        summary += " The runs come from different machines or settings (below)."
    lines.append(summary)
    if basis == "samples":
        lines.append(f"\nDecided on the per-round samples: a change beyond the threshold "
                     f"counts only if a two-sided Mann-Whitney U test rejects "
                     f"'a change of at most the threshold' at family level {alpha:g}, "
                     f"Holm-corrected over the {len(table)} measurements.")
    else:
        lines.append("\n**Older format:** a run has no per-round samples, so the verdicts "
                     "use the old median rule (beyond the threshold is a change), "
                     "without a significance test.")
    if differences:
        lines.append("\n**Different machines or settings - the timings are not comparable "
                     "as they stand:** " + "; ".join(differences) + ".")
    for name, record in (noise or {}).items():
        for warning in noise_warnings(record):
            lines.append(f"\n**Noisy {name} run:** {warning}.")
    if table.attrs.get("contention"):
        lines.append(f"\n**No verdict from a run whose cores were shared:** "
                     f"{table.attrs['contention']}; its changes are inconclusive. Rerun on a "
                     f"quieter machine.")
    if table.attrs.get("noise_margin"):
        lines.append(f"\nChanges within the threshold plus the measured noise "
                     f"({100 * table.attrs['noise_margin']:.0f}%) are inconclusive.")
    return "\n".join(lines) + f"\n\n{markdown_table(cells)}"
