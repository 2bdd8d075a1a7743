"""Compare two saved runs: speedups, and changes decided by evidence.

OLD and NEW are run folders written by `fastnn bench` (or `fastnn report`), or their
results.json files. Measurements are matched on backend, level, layer sizes, batch,
op, dtype and thread counts. A measurement is `regressed` (or `improved`) only when its
median moved by more than --threshold AND the move is significantly larger than the
threshold: a two-sided Mann-Whitney U test of the slower run's per-round samples against
the faster run's scaled by 1 + threshold, Holm-corrected over all the measurements
compared, at family level --alpha (5 %). A change beyond the threshold without that
evidence is `inconclusive` (too few rounds, not significant, or within the runs'
measured noise). Runs without per-round samples (older formats) fall back to the
median rule, and the output says so. Different machines, library versions or settings
are flagged in the verdict.

Exit status: 0 when nothing regressed significantly, 1 when something did (so it can
gate CI), 2 for usage errors (missing, corrupt or foreign files; nothing in common).

example:
  fastnn compare reports/baseline reports/bench-20260101-120000 --threshold 10%
"""

from __future__ import annotations

import pandas as pd

from fastnn.atomic import atomic_write_text
from fastnn.bench.compare import (
    VERDICTS,
    compare_runs,
    machine_differences,
    only_in_one,
    parse_threshold,
)
from fastnn.reporting.formatting import format_ratio, format_time, markdown_table
from fastnn.reporting.noise import noise_warnings
from fastnn.reporting.results import load_results
from fastnn.reporting.stats import ALPHA

HELP = "compare two saved runs; exit status 1 if anything regressed significantly"


def add_arguments(parser):
    """Register the ``fastnn compare`` arguments."""
    parser.add_argument("old", metavar="OLD", help="the baseline run (folder or results.json)")
    parser.add_argument("new", metavar="NEW", help="the run to check (folder or results.json)")
    parser.add_argument("--threshold", default="10%", metavar="PERCENT",
                        help="allowed slowdown of a median, e.g. 10%% or 0.1 (default: 10%%)")
    parser.add_argument("--alpha", default=ALPHA, type=float, metavar="LEVEL",
                        help="family-wise significance level of the rank tests, "
                             "Holm-corrected (default: 0.05)")
    parser.add_argument("--markdown", metavar="FILE",
                        help="also write the comparison table to this Markdown file")


def run(args):
    """Print the comparison; returns 1 if anything regressed significantly, else 0."""
    threshold = parse_threshold(args.threshold)
    if not 0 < args.alpha < 1:
        raise ValueError(f"--alpha must be between 0 and 1; got {args.alpha!r}")
    text, table = compare_text(args.old, args.new, threshold, args.alpha)
    if args.markdown:
        atomic_write_text(args.markdown, text)
    print(text)
    return 1 if (table["verdict"] == "regressed").any() else 0


def compare_text(old_path, new_path, threshold=0.10, alpha=ALPHA):
    """Load two runs and compare them: the Markdown text and the table.

    Returns
    -------
    text : str
    table : pandas.DataFrame
        See :func:`fastnn.bench.compare.compare_runs`.
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
