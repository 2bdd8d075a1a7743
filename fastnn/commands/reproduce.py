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


def run_from_args(args):
    """Read the parsed options into plain values and run; returns the exit status."""
    return run(args.quick, args.out, args.seeds, command_line(args))


def run(quick=False, out=DEFAULT_OUT, seeds=None, command="fastnn reproduce"):
    """Run the reproduction with the settings chosen; returns the exit status.

    Parameters
    ----------
    quick : bool
        The reduced settings.
    out : str or os.PathLike
        The report folder, replaced as a whole.
    seeds : int or None
        Training seeds 0..seeds-1 (default: the settings').
    command : str
        The command line shown in the report.
    """
    from fastnn.reproduce import reproduce
    from fastnn.reproduce.settings import FULL, QUICK

    settings = QUICK if quick else FULL
    if seeds is not None:
        settings = settings.with_seeds(seeds)
    return reproduce(settings, out, command)


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
