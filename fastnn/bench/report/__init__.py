"""The report of a run: ``report.md`` and its figures (:mod:`~fastnn.bench.report.document`,
:mod:`~fastnn.bench.report.plots`), the sections of a run over several machines, two runs
compared, pytest-benchmark JSON files as result rows, and the published history site."""
