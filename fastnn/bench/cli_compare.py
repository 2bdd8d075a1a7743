"""Compare two saved runs: speedups, and regressions beyond a threshold.

OLD and NEW are run folders written by `fastnn bench` (or `fastnn report`), or their
results.json files. Measurements are matched on backend, level, layer sizes, batch,
op, dtype and thread counts, and compared by their medians. Exit status: 0 when
nothing regressed beyond the threshold, 1 when something did (so it can gate CI),
2 for usage errors (missing, corrupt or foreign files; nothing in common).

example:
  fastnn compare reports/baseline reports/bench-20260101-120000 --threshold 10%
"""

from __future__ import annotations

import pandas as pd

from fastnn.atomic import atomic_write_text
from fastnn.bench.compare import compare_runs, only_in_one, parse_threshold
from fastnn.reporting.formatting import format_ratio, format_time, markdown_table
from fastnn.reporting.results import load_results

HELP = "compare two saved runs; exit status 1 if anything regressed beyond --threshold"


def add_arguments(parser):
    """Register the ``fastnn compare`` arguments."""
    parser.add_argument("old", metavar="OLD", help="the baseline run (folder or results.json)")
    parser.add_argument("new", metavar="NEW", help="the run to check (folder or results.json)")
    parser.add_argument("--threshold", default="10%", metavar="PERCENT",
                        help="allowed slowdown of a median, e.g. 10%% or 0.1 (default: 10%%)")
    parser.add_argument("--markdown", metavar="FILE",
                        help="also write the comparison table to this Markdown file")


def run(args):
    """Print the comparison; returns 1 if anything regressed, else 0."""
    threshold = parse_threshold(args.threshold)
    old, _ = load_results(args.old)
    new, _ = load_results(args.new)
    table = compare_runs(old, new, threshold)
    text = comparison_markdown(table, threshold, *only_in_one(old, new),
                               old_name=args.old, new_name=args.new)
    if args.markdown:
        atomic_write_text(args.markdown, text)
    print(text)
    return 1 if (table["verdict"] == "regressed").any() else 0


def comparison_markdown(table, threshold, only_old=0, only_new=0, old_name="OLD",
                        new_name="NEW"):
    """The comparison as Markdown: a summary line and a table, regressions first."""
    counts = table["verdict"].value_counts()
    order = {"regressed": 0, "improved": 1, "same": 2}
    shown = table.assign(rank=table["verdict"].map(order), size=table["change"].abs()).sort_values(
        ["rank", "size"], ascending=[True, False], kind="stable")
    cells = pd.DataFrame({
        "backend": shown["backend"], "level": shown["level"],
        "layer sizes": shown["layer_sizes"], "batch": shown["batch_size"], "op": shown["op"],
        "dtype": shown["dtype"], "old": shown["old_s"].map(format_time),
        "new": shown["new_s"].map(format_time), "speedup": shown["speedup"].map(format_ratio),
        "change": shown["change"].map(lambda change: f"{100 * change:+.1f}%"),
        "verdict": shown["verdict"] + shown["unstable"].map({True: " (unstable)", False: ""}),
    }).set_index("backend")
    summary = (f"# fastnn compare: {old_name} -> {new_name}\n\n"
               f"{len(table)} measurements in common (threshold {100 * threshold:g}%): "
               f"{counts.get('regressed', 0)} regressed, {counts.get('improved', 0)} improved, "
               f"{counts.get('same', 0)} within the threshold.")
    if only_old or only_new:
        summary += f" Not compared: {only_old} only in OLD, {only_new} only in NEW."
    return f"{summary}\n\n{markdown_table(cells)}"
