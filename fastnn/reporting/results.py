"""The results files of a run: ``results.csv`` and ``results.json``, and a case log.

``results.json`` holds a format marker, the run's metadata (the machine record, the
settings, the backends' roles, ...) and the rows (:mod:`fastnn.reporting.rows`);
``results.csv`` the same rows as a table. :class:`CaseLog` keeps rows case by case as
they arrive (one small JSON file per case, each written atomically), for sweeps whose
cases finish one at a time and out of order, such as a distributed one.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from fastnn.atomic import atomic_write_text
from fastnn.reporting.rows import JSON_ONLY_COLUMNS, REQUIRED_COLUMNS, Row

RESULTS_FORMAT = "fastnn-bench-results"
RESULTS_VERSION = 1
CASES_FOLDER = "cases"


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
    rows = [json_row(row) for row in frame.to_dict(orient="records")]
    return {"format": RESULTS_FORMAT, "version": RESULTS_VERSION, **metadata, "rows": rows}


def json_row(row):
    """A row (:class:`~fastnn.reporting.rows.Row` or dict) with JSON-ready values."""
    if isinstance(row, Row):
        row = row.as_dict()
    return {key: _json_value(value) for key, value in row.items()}


def _json_value(value):
    """A JSON-ready Python value: NumPy scalars unwrapped, NaN and NA as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (not isinstance(value, (str, bool, list, dict)) and pd.isna(value)):
        return None
    return value


def write_results(folder, frame, metadata):
    """Write ``results.csv`` and ``results.json`` into ``folder`` (atomically)."""
    folder = Path(folder)  # a path or a fastnn.reporting.run_folder.Staging
    buffer = io.StringIO()
    frame.drop(columns=[column for column in JSON_ONLY_COLUMNS if column in frame.columns]
               ).to_csv(buffer, index=False)
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


class CaseLog:
    """Rows kept case by case in ``cases/`` of a run folder, each case written atomically.

    A case's file appears whole or not at all, so a reader (a resumed sweep, a report
    of a run still going) sees only finished cases, each exactly once: writing a case
    again replaces it.

    Parameters
    ----------
    folder : path-like
        The run folder (or its staging folder).
    """

    def __init__(self, folder):
        self.folder = Path(folder) / CASES_FOLDER

    def write(self, key, rows, machine=None):
        """Record the rows of case ``key`` (and the machine record that measured them).

        Parameters
        ----------
        key : str
            Names the case, e.g. ``"float64 100-100-50-10 x32 forward t1"``.
        rows : list of Row or dict
        machine : dict or None
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        document = {"key": key, "machine": machine, "rows": [json_row(row) for row in rows]}
        atomic_write_text(self.folder / _case_file_name(key), json.dumps(document) + "\n")

    def keys(self):
        """The keys of the cases recorded so far."""
        return [document["key"] for document in self._documents()]

    def rows(self):
        """Every recorded row, as dicts, case by case in key order."""
        return [row for document in self._documents() for row in document["rows"]]

    def documents(self):
        """Every recorded case: dicts with ``key``, ``machine`` and ``rows``."""
        return self._documents()

    def _documents(self):
        if not self.folder.is_dir():
            return []
        return [read_json(path) for path in sorted(self.folder.glob("*.json"))]


def _case_file_name(key):
    """A file name for ``key``: its readable characters, then a digest against clashes."""
    import hashlib

    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", key)[:80]
    return f"{readable}-{hashlib.sha1(key.encode()).hexdigest()[:10]}.json"
