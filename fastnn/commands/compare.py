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

from fastnn.atomic import atomic_write_text
from fastnn.bench.report.compare import compare_text, parse_threshold
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


def run_from_args(args):
    """Read the parsed arguments into plain values and run; returns the exit status."""
    return run(args.old, args.new, parse_threshold(args.threshold), args.alpha, args.markdown)


def run(old, new, threshold=0.10, alpha=ALPHA, markdown=None):
    """Print the comparison of two runs; returns 1 if anything regressed significantly,
    else 0.

    Parameters
    ----------
    old, new : str or os.PathLike
        Run folders or their results.json files.
    threshold : float
        Allowed slowdown of a median (0.1: 10 %).
    alpha : float
        Family-wise significance level of the rank tests, in (0, 1).
    markdown : str or os.PathLike or None
        Also write the comparison to this Markdown file.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"--alpha must be between 0 and 1; got {alpha!r}")
    text, table = compare_text(old, new, threshold, alpha)
    if markdown:
        atomic_write_text(markdown, text)
    print(text)
    return 1 if (table["verdict"] == "regressed").any() else 0
