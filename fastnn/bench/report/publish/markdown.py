"""The Markdown of fastnn's reports as HTML: headings, paragraphs, lists, tables, images.

Only the subset the reports use (:mod:`fastnn.bench.report.document`,
:mod:`fastnn.commands.compare`); everything else is escaped text.
"""

from __future__ import annotations

import html
import re


def inline(text):
    """Escape ``text`` and render ``**bold**``, ```code``` and ``[text](link)``."""
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)",
                  lambda match: f'<a href="{html.escape(match.group(2))}">{match.group(1)}</a>',
                  text)


def to_html(markdown):
    """HTML of a report's Markdown.

    Parameters
    ----------
    markdown : str

    Returns
    -------
    str
    """
    out, paragraph, table, items = [], [], [], []

    def flush():
        if paragraph:
            out.append(f"<p>{inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if table:
            out.append(_table(table))
            table.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{inline(item)}</li>" for item in items) + "</ul>")
            items.clear()

    for line in markdown.splitlines():
        stripped = line.strip()
        heading = re.match(r"(#{1,4}) (.*)", stripped)
        image = re.fullmatch(r"!\[([^\]]*)\]\(([^)\s]+)\)", stripped)
        if not stripped:
            flush()
        elif heading:
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        elif image:
            flush()
            out.append(f'<img alt="{html.escape(image.group(1))}" '
                       f'src="{html.escape(image.group(2))}">')
        elif stripped.startswith("|"):
            if paragraph or items:
                flush()
            table.append(stripped)
        elif stripped.startswith("- "):
            if paragraph or table:
                flush()
            items.append(stripped[2:])
        else:
            if table or items:
                flush()
            paragraph.append(stripped)
    flush()
    return "\n".join(out)


def _table(lines):
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines
            if not re.fullmatch(r"\|[\s:|-]*\|?", line)]
    if not rows:
        return ""
    head = "".join(f"<th>{inline(cell)}</th>" for cell in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{inline(cell)}</td>" for cell in row) + "</tr>"
                   for row in rows[1:])
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")
