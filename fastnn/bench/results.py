"""The tidy results table (one row per measurement), its files, and the run folder.

A run folder holds ``results.csv``, ``results.json`` (the rows plus machine info and
settings), ``report.md`` and PNG plots. It is built in a hidden staging folder beside
the target and renamed into place only when every file is written, so a failed or
interrupted run leaves nothing behind, and an existing folder (a saved baseline) is
replaced only when the caller forces it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from fastnn.atomic import atomic_write_text

RESULTS_FORMAT = "fastnn-bench-results"
RESULTS_VERSION = 1

# Identify one measurement; two runs are compared on these.
KEY_COLUMNS = ("backend", "level", "layer_sizes", "batch_size", "op", "dtype",
               "blas_threads", "numba_threads")
REQUIRED_COLUMNS = KEY_COLUMNS + ("status", "median_s")


def results_frame(rows):
    """The rows as a DataFrame with the key columns first."""
    frame = pd.DataFrame(rows)
    first = [column for column in KEY_COLUMNS if column in frame.columns]
    return frame[first + [column for column in frame.columns if column not in first]]


def results_document(frame, metadata):
    """The JSON document of a run: a format marker, the metadata, and the rows.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per measurement.
    metadata : dict
        ``machine``, ``config``, ``peaks``, ``source``, ... (JSON-serialisable).

    Returns
    -------
    dict
    """
    # Not DataFrame.to_json: it rounds to 10 decimal places, which turns a 1e-15
    # relative difference into 0 and keeps only a few digits of a microsecond.
    rows = [{key: _json_value(value) for key, value in row.items()}
            for row in frame.to_dict(orient="records")]
    return {"format": RESULTS_FORMAT, "version": RESULTS_VERSION, **metadata, "rows": rows}


def _json_value(value):
    """A JSON-ready Python value: NumPy scalars unwrapped, NaN and NA as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (not isinstance(value, (str, bool, list, dict)) and pd.isna(value)):
        return None
    return value


def write_results(folder, frame, metadata):
    """Write ``results.csv`` and ``results.json`` into ``folder`` (atomically)."""
    folder = Path(folder)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    atomic_write_text(folder / "results.csv", buffer.getvalue())
    document = results_document(frame, metadata)
    atomic_write_text(folder / "results.json", json.dumps(document, indent=1) + "\n")


def load_results(path):
    """Read the results of a run: a run folder or its ``results.json``.

    Returns
    -------
    frame : pandas.DataFrame
    metadata : dict
        Everything in the document but the rows.

    Raises
    ------
    FileNotFoundError
        If there is no such file or folder.
    ValueError
        If the file is not valid JSON or not a fastnn results file.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    document = read_json(path)
    if not isinstance(document, dict) or document.get("format") != RESULTS_FORMAT:
        raise ValueError(f"{path} is not a fastnn results file (no '{RESULTS_FORMAT}' marker); "
                         f"give a run folder written by `fastnn bench` or its results.json")
    if document.get("version") != RESULTS_VERSION:
        raise ValueError(f"{path} has results version {document.get('version')!r}; this "
                         f"fastnn reads version {RESULTS_VERSION}")
    rows = document.get("rows")
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ValueError(f"{path}: 'rows' must be a list of objects")
    frame = pd.DataFrame(rows)
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if rows and missing:
        raise ValueError(f"{path}: the rows lack the columns {missing}")
    metadata = {key: value for key, value in document.items() if key != "rows"}
    return frame, metadata


def read_json(path):
    """Parse a JSON file; ValueError naming the file if it is not valid JSON."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a folder, not a JSON file") from None


class RunFolder:
    """A run folder built in a hidden staging folder and renamed into place.

    Parameters
    ----------
    path : str or os.PathLike
        The final folder, e.g. ``reports/baseline``.
    force : bool
        Allow replacing an existing folder.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``force`` is False: it may be a saved baseline.
    ValueError
        If ``path`` exists but is not a folder, or the folder cannot be created.

    Examples
    --------
    >>> with RunFolder("reports/run") as staging:   # doctest: +SKIP
    ...     write_results(staging, frame, metadata)
    """

    def __init__(self, path, force=False):
        self.path = Path(path)
        self.force = force
        self.staging = None
        self._created = []
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"{self.path} exists and is not a folder")
        if self.path.exists() and not force:
            raise FileExistsError(f"{self.path} exists (a saved run or baseline); choose another "
                                  f"--out or pass --force to replace it")

    def __enter__(self):
        try:
            self._make_parents()
            self.staging = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.partial-",
                                                 dir=self.path.parent))
        except OSError as exc:
            self._remove_created_parents()
            raise ValueError(f"cannot write the output folder {self.path}: "
                             f"{exc.strerror or exc}") from None
        return self.staging

    def __exit__(self, exc_type, exc, traceback):
        if exc_type is None:
            try:
                self._commit()
                return False
            except BaseException:
                self._discard()
                raise
        self._discard()
        return False

    def _make_parents(self):
        missing = []
        parent = self.path.parent
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        for folder in reversed(missing):
            folder.mkdir()
            self._created.append(folder)

    def _commit(self):
        _publish_permissions(self.staging)
        if not self.path.exists():
            os.rename(self.staging, self.path)
            return
        if not self.force:
            raise FileExistsError(f"{self.path} appeared while the run was being written; "
                                  f"refusing to replace it")
        old = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.replaced-", dir=self.path.parent))
        old.rmdir()
        os.rename(self.path, old)
        os.rename(self.staging, self.path)
        shutil.rmtree(old, ignore_errors=True)

    def _discard(self):
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
        self._remove_created_parents()

    def _remove_created_parents(self):
        for folder in reversed(self._created):
            with contextlib.suppress(OSError):
                folder.rmdir()


def _publish_permissions(folder):
    """Give the staged folder and files the usual permissions (mkdtemp makes them private)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)
    for path in Path(folder).iterdir():
        if path.is_file():
            os.chmod(path, 0o666 & ~umask)
