"""The subcommands of ``fastnn`` (:mod:`fastnn.cli`), one module each.

Each module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args)``;
the work itself lives in :mod:`fastnn.bench`, :mod:`fastnn.reproduce` and the library.
"""
