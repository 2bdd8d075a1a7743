"""The ``command-help`` directive: the ``fastnn`` command's ``--help`` pages, verbatim.

``.. command-help::`` renders ``fastnn --help`` followed by one section per subcommand
with its ``fastnn <command> --help`` text, taken from the argument parser at build time
(:func:`fastnn.cli.build_parser`). The pages therefore list every subcommand the parser
has, and show exactly what a terminal shows, 88 columns wide.
"""

import argparse
import contextlib
import io
import os

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

HELP_COLUMNS = "88"


class CommandHelp(SphinxDirective):
    """Sections with the ``--help`` text of ``fastnn`` and each of its subcommands."""

    has_content = False

    def run(self):
        from fastnn.cli import build_parser

        parser = build_parser()
        lines = _literal(_help_text(parser, []))
        for name in _subcommands(parser):
            title = f"fastnn {name}"
            lines += ["", title, "-" * len(title), ""] + _literal(_help_text(parser, [name]))
        container = nodes.section()
        nested_parse_with_titles(self.state, StringList(lines, source="fastnn --help"),
                                 container)
        return container.children


def _subcommands(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


def _help_text(parser, argv):
    """What ``fastnn ARGV --help`` prints, at a fixed width."""
    out = io.StringIO()
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS  # argparse reads the width from here
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            parser.parse_args([*argv, "--help"])
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return out.getvalue()


def _literal(text):
    return [".. code-block:: text", ""] + ["   " + line for line in text.rstrip().splitlines()]


def setup(app):
    app.add_directive("command-help", CommandHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
