"""Changes across a history: consecutive runs of a group compared by `fastnn compare`'s rule."""

from __future__ import annotations

from dataclasses import dataclass

from fastnn.bench.report.compare import compare_runs


@dataclass
class Step:
    """Two consecutive runs of a group and their comparison.

    Attributes
    ----------
    old, new : Run
    table : pandas.DataFrame or None
        :func:`fastnn.bench.report.compare.compare_runs`'s table; None if they share nothing.
    page : str
        The comparison page's file name.
    """

    old: object
    new: object
    table: object
    page: str

    def changes(self, verdict):
        """The rows of ``table`` with this verdict."""
        if self.table is None:
            return self.table
        return self.table[self.table["verdict"] == verdict]


def steps(runs, threshold=0.10):
    """Every consecutive pair of ``runs`` (one group, date order), compared.

    Returns
    -------
    list of Step
    """
    found = []
    for old, new in zip(runs, runs[1:]):
        try:
            table = compare_runs(old.frame, new.frame, threshold,
                                 old_noise=old.metadata.get("noise"),
                                 new_noise=new.metadata.get("noise"))
        except ValueError:
            table = None
        found.append(Step(old, new, table, f"compare-{old.name}--{new.name}.html"))
    return found
