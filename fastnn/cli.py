"""The ``fastnn`` command: one console script, one module per subcommand.

Each subcommand module (``fastnn/commands/``) defines ``HELP`` (one line),
``add_arguments(parser)``, ``run_from_args(args) -> int``, which reads the parsed options
into plain values, and ``run(...) -> int``, which takes those values (a test or another
command calls it without a command line); registering one is one line in :data:`COMMANDS`.

The exit-status policy lives here, for every subcommand (their modules raise, they do
not print errors or choose statuses for them):

- 0: done; 1 where a subcommand says so (e.g. a backend failed the correctness gate);
- 2: an error the user can cause (:func:`is_user_error`: bad values, missing or
  unreadable files, a directory where a file is expected, an unreachable scheduler, a
  missing optional package, a request too large for memory): one line on stderr naming it;
- 1: an unexpected internal error: one line saying so and asking for a bug report;
  the traceback only with ``--debug`` (or ``FASTNN_DEBUG=1``);
- 130: interrupted (Ctrl-C), one line, no traceback.
"""

from __future__ import annotations

import argparse
import dis
import importlib
import os
import sys
import traceback

from fastnn.schemas import SchemaError

# Subcommand -> module implementing it.
COMMANDS = {
    "bench": "fastnn.commands.bench",
    "compare": "fastnn.commands.compare",
    "publish": "fastnn.commands.publish",
    "report": "fastnn.commands.report",
    "tune": "fastnn.commands.tune",
    "info": "fastnn.commands.info",
    "warmup": "fastnn.commands.warmup",
    "reproduce": "fastnn.commands.reproduce",
}

DEBUG_ENV = "FASTNN_DEBUG"


class UsageError(ValueError):
    """A problem with the command line or the files it names: exit status 2."""


# Errors a user can cause, whatever raised them: status 2. OSError covers missing files,
# directories where files are expected, permissions, full disks and unreachable or lost
# schedulers (ConnectionError, TimeoutError); ImportError a missing optional package;
# SchemaError a file that does not follow its declared schema.
USER_ERRORS = (UsageError, SchemaError, OSError, MemoryError, ImportError)

# Errors that are a user's only when fastnn's own validation raised them (see is_user_error).
REFUSALS = (ValueError, TypeError)

_RAISE = dis.opmap["RAISE_VARARGS"]


def is_user_error(exc):
    """Whether ``exc`` is an error the user caused (status 2) rather than a bug (status 1).

    :data:`USER_ERRORS` always are. A ``ValueError`` or ``TypeError`` is when fastnn's own
    code refused something with a ``raise`` statement (the project's rule: bad input gets
    a clear error naming the problem, raised at the boundary); the same types raised by the
    interpreter or a library inside fastnn or beyond it (``unsupported format string passed
    to NoneType.__format__``, a NumPy shape error) are internal errors.
    """
    if isinstance(exc, USER_ERRORS):
        return True
    if not isinstance(exc, REFUSALS) or exc.__traceback__ is None:
        return False
    frame_tb = exc.__traceback__
    while frame_tb.tb_next is not None:
        frame_tb = frame_tb.tb_next
    code = frame_tb.tb_frame.f_code
    module = str(frame_tb.tb_frame.f_globals.get("__name__", ""))
    return (module == "fastnn" or module.startswith("fastnn.")) \
        and code.co_code[frame_tb.tb_lasti] == _RAISE

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser():
    """The argument parser with every subcommand registered."""
    from fastnn import __version__

    parser = argparse.ArgumentParser(
        prog="fastnn", description="Benchmark and reproduce small neural networks on the CPU.")
    parser.add_argument("--version", action="version", version=f"fastnn {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="print the traceback of an error (also FASTNN_DEBUG=1)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help="print the traceback of an error")
        sub.set_defaults(handler=module.run_from_args)
        module.add_arguments(sub)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False)) or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        _quiet_interpreter_shutdown()
        return _fail(args.command, "interrupted", EXIT_INTERRUPTED, debug)
    except Exception as exc:  # noqa: BLE001  (the policy's last resort: say it is a bug)
        if is_user_error(exc):
            return _fail(args.command, f"error: {one_line(exc)}", EXIT_USAGE, debug)
        return _fail(args.command, f"internal error: {type(exc).__name__}: {one_line(exc)}. "
                                   f"This is a bug in fastnn; please report it with the command "
                                   f"line and the output of `fastnn info`"
                                   + ("" if debug else " (rerun with --debug for the traceback)"),
                     EXIT_INTERNAL, debug)


def one_line(exc):
    """An exception's message on one line (its type name if it has none)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, MemoryError) and not text:
        return "not enough memory for this request; ask for smaller sizes or batches"
    return text or type(exc).__name__


def _fail(command, message, status, debug):
    if debug:
        traceback.print_exc(file=sys.stderr)
    print(f"fastnn {command}: {message}", file=sys.stderr, flush=True)
    return status


_SHUTDOWN_QUIETED = []


def _quiet_interpreter_shutdown():
    """After Ctrl-C, silence what libraries log while the interpreter shuts down (Dask's
    lock and semaphore lease callbacks, its worker processes): the one line printed says
    it all.

    Scoped to the shutdown: logging is disabled by an ``atexit`` handler (registered once,
    run before Dask's own exit handlers, which were registered earlier), never while
    :func:`main` or its caller still runs; ``main`` is a library function too.
    """
    import atexit
    import logging

    if not _SHUTDOWN_QUIETED:
        _SHUTDOWN_QUIETED.append(True)
        atexit.register(logging.disable, logging.CRITICAL)
