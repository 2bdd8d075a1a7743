"""The ``readme-code`` directive: a code block of the README, quoted verbatim.

The README's examples are run by the test suite (``tests/test_readme.py`` and
``tests/test_fit_readme.py`` take the first ``python`` block of the section
"Use as a library"). The user guide quotes the same blocks, found the same way, so a
page can never show code other than what the tests run::

    .. readme-code:: Use as a library
       :language: python
       :start-at: # Training: class labels in
       :end-before: # The same as a scikit-learn estimator

The argument is the title of a ``## `` section of README.md; the block is the
``:block:``-th (default 1) fenced block of ``:language:`` in it. ``:start-at:``,
``:start-after:``, ``:end-at:`` and ``:end-before:`` cut it at the first line containing
the given text. A section, block or marker that is not found is an error, which fails
the ``-W`` build: the guide has to be updated with the README.
"""

import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

README = Path(__file__).resolve().parents[2] / "README.md"


class ReadmeCode(SphinxDirective):
    """A fenced code block of one README section, optionally cut at marker lines."""

    required_arguments = 1
    final_argument_whitespace = True
    option_spec = {
        "language": directives.unchanged_required,
        "block": directives.positive_int,
        "start-at": directives.unchanged_required,
        "start-after": directives.unchanged_required,
        "end-at": directives.unchanged_required,
        "end-before": directives.unchanged_required,
    }

    def run(self):
        self.env.note_dependency(str(README))
        language = self.options.get("language", "python")
        try:
            code = readme_block(README.read_text(encoding="utf-8"), self.arguments[0],
                                language, self.options.get("block", 1))
            code = cut(code, self.options)
        except ValueError as exc:
            raise self.error(f"readme-code: {exc}") from None
        block = nodes.literal_block(code, code, language=language)
        self.set_source_info(block)
        return [block]


def readme_block(readme, title, language, number):
    """The ``number``-th fenced ``language`` block of the section ``## title``."""
    parts = readme.split(f"\n## {title}\n", 1)
    if len(parts) == 1:
        raise ValueError(f"README.md has no section '## {title}'")
    section = parts[1].split("\n## ", 1)[0]
    blocks = re.findall(rf"```{re.escape(language)}\n(.*?)\n```", section, flags=re.S)
    if len(blocks) < number:
        raise ValueError(f"section '{title}' of README.md has {len(blocks)} {language} "
                         f"block(s); block {number} asked for")
    return blocks[number - 1]


def cut(code, options):
    """The lines of ``code`` between the start and end markers in ``options``."""
    lines = code.splitlines()
    for key, offset in (("start-at", 0), ("start-after", 1)):
        if key in options:
            lines = lines[_find(lines, options[key], key) + offset:]
    for key, offset in (("end-at", 1), ("end-before", 0)):
        if key in options:
            lines = lines[:_find(lines, options[key], key) + offset]
    return "\n".join(lines)


def _find(lines, marker, key):
    for index, line in enumerate(lines):
        if marker in line:
            return index
    raise ValueError(f"{key} marker {marker!r} not found in the README block")


def setup(app):
    app.add_directive("readme-code", ReadmeCode)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
