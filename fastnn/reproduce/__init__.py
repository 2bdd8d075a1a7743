"""Reproduce the tutorials' figures on this machine, side by side with theirs.

:func:`reproduce` runs everything and writes ``report.md``, ``results.json`` and PNG plots
into the output folder; ``fastnn reproduce`` (:mod:`fastnn.commands.reproduce`) is its
command line, which describes the stages.
"""

from __future__ import annotations


def reproduce(settings, out, command="fastnn reproduce", progress=True):
    """Run everything with ``settings`` and write the report into ``out``.

    Parameters
    ----------
    settings : Settings
    out : str or os.PathLike
    command : str
        The command line shown in the report.
    progress : bool
        Report each stage on stderr.

    Returns
    -------
    int
        0, or 1 if a literal check failed (the report is written either way).
    """
    from fastnn.reporting.run_folder import REPORT_SUFFIXES, RunFolder
    from fastnn.reproduce.plots import all_figures
    from fastnn.reproduce.records import results_json
    from fastnn.reproduce.report import report_markdown
    from fastnn.reproduce.runner import print_progress, run_all
    from fastnn.reproduce.tables import headline

    # The one documented exception to "never replace without --force": reproduce owns
    # its report folder and replaces it as a whole (and refuses a folder of anything else).
    with RunFolder(out, replaces=REPORT_SUFFIXES) as folder:
        results = run_all(settings, print_progress if progress else None)
        for name, figure in all_figures(results).items():
            folder.write_figure(name, figure)
        folder.write_text("results.json", results_json(results, command))
        folder.write_text("report.md", report_markdown(results, command))
    print(headline(results))
    print(f"report: {folder.target / 'report.md'}")
    return 0 if results.checks_passed else 1
