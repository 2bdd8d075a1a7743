"""Reproduce the tutorials' figures on this machine, side by side with theirs.

Writes ``report.md``, ``results.json`` and PNG plots into the output folder (replaced
as a whole, only when everything has been written) and prints the headline tables:

1. tutorial A's looped vs vectorised feed-forward, with fastnn's backends;
2. the tutorials' training experiments (accuracy over seeds, time per backend), and
   tutorial C's Keras model next to the same model in fastnn (accuracy, time on one CPU;
   needs the ``keras`` extra, else the row says how to install it);
3. the literal checks (3-3-1 output, softmax([5, 1, 1]), two 1-D gradient descents).

The full run takes several minutes (the Keras model's 1000 epochs x 5 seeds are most of
them); ``--quick`` runs reduced settings (30 Keras epochs) in a minute or two.
Exit status: 0, or 1 if a literal check disagrees with the tutorial; 2 for bad arguments.
"""

from __future__ import annotations

import argparse

HELP = "the tutorials' figures side by side with this machine's (speedups, training accuracy)"
DEFAULT_OUT = "reports/reproduce"


def add_arguments(parser):
    """Register ``--quick``, ``--out`` and ``--seeds``."""
    parser.add_argument("--quick", action="store_true",
                        help="reduced settings (about a minute), labelled 'quick' in the report")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help=f"report folder, replaced as a whole (default: {DEFAULT_OUT})")
    parser.add_argument("--seeds", type=positive_int, default=None, metavar="N",
                        help="training seeds 0..N-1 (default: 5, or 2 with --quick)")


def run(args):
    """Run the reproduction with the settings the arguments select; returns the exit status."""
    from fastnn.reproduce.settings import FULL, QUICK

    settings = QUICK if args.quick else FULL
    if args.seeds is not None:
        settings = settings.with_seeds(args.seeds)
    return reproduce(settings, args.out, command_line(args))


def reproduce(settings, out, command="fastnn reproduce", progress=True):
    """Run everything with ``settings`` and write the report into ``out``.

    Parameters
    ----------
    settings : Settings
    out : str or os.PathLike
    command : str
        The command line shown in the report.
    progress : bool
        Report each stage on stderr.

    Returns
    -------
    int
        0, or 1 if a literal check failed (the report is written either way).
    """
    from fastnn.reporting.run_folder import REPORT_SUFFIXES, RunFolder
    from fastnn.reproduce.plots import all_figures
    from fastnn.reproduce.records import results_json
    from fastnn.reproduce.report import report_markdown
    from fastnn.reproduce.runner import print_progress, run_all
    from fastnn.reproduce.tables import headline

    # The one documented exception to "never replace without --force": reproduce owns
    # its report folder and replaces it as a whole (and refuses a folder of anything else).
    with RunFolder(out, replaces=REPORT_SUFFIXES) as folder:
        results = run_all(settings, print_progress if progress else None)
        for name, figure in all_figures(results).items():
            folder.write_figure(name, figure)
        folder.write_text("results.json", results_json(results, command))
        folder.write_text("report.md", report_markdown(results, command))
    print(headline(results))
    print(f"report: {folder.target / 'report.md'}")
    return 0 if results.checks_passed else 1


def positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {value}")
    return value


def command_line(args):
    """The command as a user would type it, for the report."""
    parts = ["fastnn reproduce"]
    if args.quick:
        parts.append("--quick")
    if args.out != DEFAULT_OUT:
        parts.append(f"--out {args.out}")
    if args.seeds is not None:
        parts.append(f"--seeds {args.seeds}")
    return " ".join(parts)
