"""The result row: one measurement of one backend (or peer) on one case, and its table.

The columns are declared once, by :class:`Row`'s fields, in the order of
``results.csv``. Every source of rows builds them through :class:`Row`: the sweep of
``fastnn bench``, a pytest-benchmark file (``fastnn report``), and the coming peer
adapters and remote workers. Columns of one source only (pytest-benchmark's ``group``,
a worker's ``host``) go into ``extra`` and follow the declared ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

# Identify one measurement; two runs are compared on these.
KEY_COLUMNS = ("backend", "level", "layer_sizes", "batch_size", "op", "dtype",
               "blas_threads", "numba_threads")
REQUIRED_COLUMNS = KEY_COLUMNS + ("status", "median_s")
# The statistics columns of a timed row; None in rows that were not timed.
STAT_COLUMNS = ("number", "rounds", "min_s", "median_s", "q1_s", "q3_s", "iqr_s", "mean_s",
                "unstable", "gflops", "peak_fraction")
# What a row's status means; "ok" rows are timed, the others say why not in ``note``.
STATUSES = {"ok": "timed", "skipped": "skipped", "failed": "FAILED gate", "error": "error"}


@dataclass
class Row:
    """One measurement (or the reason there is none).

    Attributes
    ----------
    backend : str
        A backend's registry name (or a peer's name).
    level : str
        ``mlp`` (the public call) or ``backend`` (the bare method).
    layer_sizes : str
        ``"100-100-50-10"``.
    n_params, batch_size : int
    op, dtype, activation, loss : str
    flops : int
        Matrix-product FLOPs of one call (see :func:`fastnn.bench.workload.cases.flop_count`).
    blas_threads, numba_threads : int or None
    status : str
        One of :data:`STATUSES`; empty while the row is being measured.
    note : str
        Why a row was not timed.
    reference : str or None
        The backend the result was checked against.
    max_rel_diff : float or None
        Of the result against the reference's.
    compile_s, first_call_s : float or None
        ``backend.prepare(spec)`` and the first call, timed apart from the rounds.
    peak_gflops : float or None
        The machine's matmul peak in the row's dtype (sgemm for float32, dgemm for
        float64) at the same thread count. Runs made before the peaks were measured per
        dtype recorded the float64 peak in every row.
    number, rounds, min_s, median_s, q1_s, q3_s, iqr_s, mean_s, unstable
        The :class:`fastnn.reporting.timing.Summary` of the rounds (seconds per call).
    gflops, peak_fraction : float or None
        ``flops / median_s``, and that over ``peak_gflops``.
    samples_s : list of float or None
        Seconds per call of every round, in round order. The rounds of one point are
        interleaved across its backends and peers, so sample ``i`` of two rows of a
        point come from the same round (paired). Kept in ``results.json`` only;
        None in rows of older runs and of sources that do not keep them.
    extra : dict
        Columns of one source only, written after the declared ones.
    """

    backend: str
    level: str
    layer_sizes: str
    n_params: int
    batch_size: int
    op: str
    dtype: str
    activation: str | None = None
    loss: str | None = None
    flops: int | None = None
    blas_threads: int | None = None
    numba_threads: int | None = None
    status: str = ""
    note: str = ""
    reference: str | None = None
    max_rel_diff: float | None = None
    compile_s: float | None = None
    first_call_s: float | None = None
    peak_gflops: float | None = None
    number: int | None = None
    rounds: int | None = None
    min_s: float | None = None
    median_s: float | None = None
    q1_s: float | None = None
    q3_s: float | None = None
    iqr_s: float | None = None
    mean_s: float | None = None
    unstable: bool | None = None
    gflops: float | None = None
    peak_fraction: float | None = None
    samples_s: list | None = None
    extra: dict = field(default_factory=dict)

    def not_timed(self, status, note):
        """Mark the row skipped, failed or in error, with the reason."""
        if status not in STATUSES or status == "ok":
            raise ValueError(f"not a status of an untimed row: {status!r}")
        self.status, self.note = status, note
        return self

    def timed(self, summary, peak_gflops=None):
        """Fill in the statistics of the rounds (a :class:`~fastnn.reporting.timing.Summary`)."""
        for key, value in summary.as_dict().items():
            setattr(self, key, value)
        self.gflops = self.flops / summary.median / 1e9 if summary.median > 0 else None
        if peak_gflops:
            self.peak_gflops = peak_gflops
            self.peak_fraction = self.gflops / peak_gflops if self.gflops else None
        self.status = "ok"
        return self

    def __getitem__(self, column):
        """``row["median_s"]``: a column, as in the dict of :meth:`as_dict`."""
        if column in self.extra:
            return self.extra[column]
        if column in COLUMNS:
            return getattr(self, column)
        raise KeyError(column)

    def as_dict(self):
        """The row as ``results.csv`` has it: the declared columns, then ``extra``."""
        data = {name: getattr(self, name) for name in COLUMNS}
        data.update(self.extra)
        return data


COLUMNS = tuple(item.name for item in dataclasses.fields(Row) if item.name != "extra")


# Columns of results.json only (a list per row, not a table cell).
JSON_ONLY_COLUMNS = ("samples_s",)


def results_frame(rows):
    """The rows (:class:`Row` or dicts) as a DataFrame with the key columns first."""
    import pandas as pd

    frame = pd.DataFrame([row.as_dict() if isinstance(row, Row) else row for row in rows])
    first = [column for column in KEY_COLUMNS if column in frame.columns]
    return frame[first + [column for column in frame.columns if column not in first]]
