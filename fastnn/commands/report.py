"""Render a pytest-benchmark JSON file into the report format of `fastnn bench`.

FILE comes from `pytest benchmarks/ --benchmark-json=FILE`. The report (results.csv,
results.json, report.md and PNG plots) goes into its own folder (default
reports/<FILE's name>); an existing folder is replaced only with --force. Exit
status 2 for a missing, corrupt or foreign file.

example:
  pytest benchmarks/ --benchmark-json=bench.json && fastnn report bench.json --out reports/suite
"""

from __future__ import annotations

from pathlib import Path

from fastnn.bench.report.document import write_report
from fastnn.bench.report.pytest_json import load_pytest_benchmark
from fastnn.reporting.rows import results_frame
from fastnn.reporting.run_folder import RunFolder

HELP = "render a pytest-benchmark JSON file (pytest benchmarks/) into a report folder"


def add_arguments(parser):
    """Register the ``fastnn report`` arguments."""
    parser.add_argument("file", metavar="FILE.json", help="a pytest-benchmark JSON file")
    parser.add_argument("--out", metavar="FOLDER",
                        help="the report folder (default: reports/<FILE's name>)")
    parser.add_argument("--force", action="store_true",
                        help="replace the report folder if it exists")


def run_from_args(args):
    """Read the parsed arguments into plain values and run; returns the exit status."""
    return run(Path(args.file), Path(args.out) if args.out else None, args.force)


def run(source, out=None, force=False):
    """Read the pytest-benchmark JSON file ``source``, write its report; returns 0.

    Parameters
    ----------
    source : pathlib.Path
    out : pathlib.Path or None
        The report folder; default ``reports/<source's name>``.
    force : bool
        Replace the report folder if it exists.
    """
    if not source.is_file():
        raise FileNotFoundError(f"{source} does not exist or is not a file")
    rows, metadata = load_pytest_benchmark(source)
    out = out or Path("reports") / source.stem
    metadata["title"] = f"fastnn benchmark suite: {source.name}"
    with RunFolder(out, force=force) as staging:
        write_report(staging, results_frame(rows), metadata)
    print(f"report: {out / 'report.md'} ({len(rows)} benchmarks"
          + (f", {len(metadata['left_out'])} left out" if metadata["left_out"] else "") + ")")
    return 0
