"""Publish saved runs as a static history site, readable offline (file://, no server).

RUN is a run folder written by `fastnn bench` (or its results.json), or a folder of run
folders. Runs are grouped by machine, library versions and settings; within a group,
consecutive runs are compared as `fastnn compare` does (rank test, Holm-corrected) and
the significant changes are listed, each linked to its comparison. A run folder that
cannot be read is skipped with a line naming it.

example:
  fastnn publish reports/ --out site/      # then open site/index.html
"""

from __future__ import annotations

import sys

from fastnn.bench.report.compare import parse_threshold

HELP = "write a static history site of saved runs (charts, changes, reports)"


def add_arguments(parser):
    """Register the ``fastnn publish`` arguments."""
    parser.add_argument("runs", metavar="RUN", nargs="+",
                        help="run folders, results.json files, or folders of runs")
    parser.add_argument("--out", required=True, metavar="DIR", help="the site's folder")
    parser.add_argument("--threshold", default="10%", metavar="PERCENT",
                        help="as fastnn compare --threshold (default: 10%%)")


def run_from_args(args):
    """Read the parsed arguments into plain values and run; returns the exit status."""
    return run(args.runs, args.out, parse_threshold(args.threshold))


def run(runs, out, threshold=0.10):
    """Write the site of ``runs`` into ``out``; returns 0 (ValueError when nothing could be
    read).

    Parameters
    ----------
    runs : list of str or os.PathLike
        Run folders, results.json files, or folders of runs.
    out : str or os.PathLike
    threshold : float
        As :func:`fastnn.bench.report.compare.compare_runs`.
    """
    from fastnn.bench.report.publish import publish

    summary = publish(runs, out, threshold, warn=lambda line: print(line, file=sys.stderr))
    print(f"fastnn publish: {summary['runs']} run(s) in {summary['groups']} group(s), "
          f"{summary['regressions']} significant regression(s) -> {summary['index']}")
    return 0
