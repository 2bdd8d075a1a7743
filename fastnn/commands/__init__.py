"""The subcommands of ``fastnn`` (:mod:`fastnn.cli`), one module each.

Each module defines ``HELP`` (one line), ``add_arguments(parser)``, ``run_from_args(args)``,
which reads the parsed options into plain values, and ``run(...)``, which takes them (a
test or another command calls it without a command line). The work itself lives in
:mod:`fastnn.bench`, :mod:`fastnn.reproduce` and the library. (``warmup``'s module, which
the kernel rewrite owns, still takes the parsed options in ``run``.)
"""
