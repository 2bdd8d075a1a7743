"""``fastnn publish``: a static history site of benchmark runs, readable offline.

:mod:`.history` loads the runs and groups them by machine and settings,
:mod:`.findings` finds the significant changes between consecutive runs of a group,
:mod:`.markdown` renders the reports' Markdown, and :mod:`.site` writes the pages (plain
HTML with inline SVG charts drawn by a small inline script, no CDN, no server).
"""

from fastnn.bench.report.publish.site import publish

__all__ = ["publish"]
