"""The ``fastnn`` command: one console script, one module per subcommand.

Each subcommand module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Usage errors (bad arguments, unknown names, unreadable files)
exit with status 2 and a message naming the problem.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Subcommand -> module implementing it.
COMMANDS = {
    "bench": "fastnn.bench.cli_bench",
    "compare": "fastnn.bench.cli_compare",
    "report": "fastnn.bench.cli_report",
    "tune": "fastnn.bench.cli_tune",
    "info": "fastnn.bench.cli_info",
    "warmup": "fastnn.bench.cli_warmup",
    "reproduce": "fastnn.reproduce",
}


class UsageError(ValueError):
    """A problem with the command line or the files it names: exit status 2."""


def build_parser():
    """The argument parser with every subcommand registered."""
    from fastnn import __version__

    parser = argparse.ArgumentParser(
        prog="fastnn", description="Benchmark and reproduce small neural networks on the CPU.")
    parser.add_argument("--version", action="version", version=f"fastnn {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.set_defaults(handler=module.run)
        module.add_arguments(sub)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (UsageError, ValueError, TypeError, FileNotFoundError, FileExistsError,
            PermissionError) as exc:
        print(f"fastnn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fastnn {args.command}: interrupted", file=sys.stderr)
        return 130
