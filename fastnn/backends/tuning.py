"""The tune file: this machine's measured crossovers and fastest-backend table.

``fastnn tune`` measures them (:mod:`fastnn.commands.tune`) and stores them here, in
the user cache: ``$FASTNN_TUNE_FILE`` if set, else ``$XDG_CACHE_HOME/fastnn/tune.json``
(``~/.cache/fastnn/tune.json`` without ``XDG_CACHE_HOME``). The file is written
atomically and records what it was measured on (CPU model, fastnn / NumPy / Numba
versions, date). It is used only where it still describes this machine and this code;
a missing file means the shipped values, silently; a file that cannot be used (bad
JSON, wrong schema, another CPU, another fastnn or Numba version) gives one
:class:`TuningWarning` naming the problem, and the shipped values.

Readers: :mod:`fastnn.backends.selection` (the table behind ``backend="auto"``),
:func:`crossovers` (for the Numba kernels' BLAS / loop dispatch),
:func:`forward_row_block` (the forward pass's row blocks), :func:`external_gemm` and
:func:`external_gradient_gemm` (the float32 products sent to oneDNN) and ``fastnn info``
(:func:`status`).
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from fastnn.atomic import atomic_write_text
from fastnn.cpu import cpu_model
from fastnn.schemas import TUNE_FILE, TUNE_SCHEMA, SchemaError, check

SCHEMA = TUNE_SCHEMA
PATH_ENV = "FASTNN_TUNE_FILE"
# The kernels' matrix products, in the order of ``_numba_kernels.BLAS_CROSSOVER``.
PRODUCTS = ("forward_layer", "weight_gradient", "back_delta")
# What a crossover triple means, in that order (see ``_numba_kernels._use_blas``).
CROSSOVER_FIELDS = ("single_row", "min_rows", "min_multiply_adds")
# The tune file's key for the forward pass's rows per block (see forward_row_block).
ROW_BLOCK_KEY = "forward_row_block"
# The tune file's key for the oneDNN rule (see external_gemm).
EXTERNAL_KEY = "external_sgemm"
# The tune file's key for the gradient's oneDNN rule (see external_gradient_gemm).
EXTERNAL_GRADIENT_KEY = "external_sgemm_gradient"
# A crossover that is never reached ("always the loops"): larger than any product.
NEVER = 2 ** 62
# The libraries whose versions a measurement depends on, the one list: a tune file
# records them; a distributed sweep's workers must have the coordinator's
# (fastnn/bench/distributed/task.py); a report over several machines lists where they
# differ (fastnn/bench/report/machines.py).
LIBRARY_VERSIONS = ("fastnn", "numpy", "numba")
# What must match this process for the file to apply (a NumPy update keeps it), and how a
# mismatch reads.
IDENTITY_FIELDS = {"cpu_model": "measured on another CPU",
                   "fastnn": "measured with another fastnn version",
                   "numba": "measured with another Numba version"}


class TuningWarning(UserWarning):
    """The tune file exists but cannot be used; the shipped values are in force."""


@dataclass(frozen=True)
class Tuning:
    """A validated tune file.

    Attributes
    ----------
    path : Path
    created : str
        ISO 8601 UTC date and time of the measurement.
    identity : dict of str -> str
        ``cpu_model``, ``fastnn``, ``numba`` (and ``numpy``) it was measured with.
    crossovers : dict of str -> tuple of int or None
        Product name (:data:`PRODUCTS`) -> ``(single_row, min_rows, min_multiply_adds)``.
    table : dict of str -> dict or None
        ``selection.grid_key`` -> ``{"winner": name, ...}``.
    extra : dict
        The rest of the record (measurements, settings, durations), kept as written.
    """

    path: Path
    created: str
    identity: dict
    crossovers: dict | None
    table: dict | None
    extra: dict


def tune_file_path():
    """Where the tune file lives (it may not exist).

    Returns
    -------
    Path
        ``$FASTNN_TUNE_FILE``, else ``$XDG_CACHE_HOME/fastnn/tune.json``, else
        ``~/.cache/fastnn/tune.json``.
    """
    chosen = os.environ.get(PATH_ENV)
    if chosen:
        return Path(chosen).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "fastnn" / "tune.json"


def check_destination(path=None):
    """Refuse a tune-file path that cannot be written, before anything is measured.

    Parameters
    ----------
    path : path-like or None
        Default: :func:`tune_file_path`.

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        If the path is a directory, or a folder on the way is a file or not writable;
        the message names ``$FASTNN_TUNE_FILE`` when it chose the path.
    """
    path = tuning_path(path)
    chosen = os.environ.get(PATH_ENV)
    source = f" (from ${PATH_ENV})" if chosen and Path(chosen).expanduser() == path else ""
    if path.is_dir():
        raise ValueError(f"the tune file {path}{source} is a directory; it must name a file")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ValueError(f"the tune file {path}{source} cannot be written: {folder} is not a "
                         f"directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"the tune file {path}{source} cannot be written: no permission to "
                         f"write in {folder}")
    return path


def current_identity():
    """The CPU model and versions a tune file must have been measured with to apply.

    Returns
    -------
    dict of str -> str or None
    """
    from fastnn import __version__  # the package imports the backends

    return {"cpu_model": cpu_model(),
            **{name: __version__ if name == "fastnn" else _distribution_version(name)
               for name in LIBRARY_VERSIONS}}


def save(crossovers=None, table=None, extra=None, path=None):
    """Write a tune file atomically, stamped with this machine's identity and the date.

    Parameters
    ----------
    crossovers : dict of str -> sequence of 3 int, or None
        See :attr:`Tuning.crossovers`.
    table : dict of str -> dict, or None
        See :attr:`Tuning.table`.
    extra : dict or None
        More JSON-serialisable fields (measurements, durations).
    path : path-like or None
        Default: :func:`tune_file_path`.

    Returns
    -------
    Path
        Where it was written.

    Raises
    ------
    ValueError
        If the crossovers or the table are malformed (nothing is written).
    """
    path = Path(path) if path is not None else tune_file_path()
    record = dict(extra or {})
    record.update(schema=SCHEMA, created=_now(), **current_identity())
    if crossovers is not None:
        record["crossovers"] = {name: [int(value) for value in triple]
                                for name, triple in crossovers.items()}
    if table is not None:
        record["table"] = table
    problem = _validate(record)  # never write what the loader would refuse
    if problem:
        raise ValueError(f"not a valid tune record: {problem}")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(record, indent=1, sort_keys=True) + "\n")
    reload()
    return path


def load(path=None):
    """The tune file if it applies here, else None (with a :class:`TuningWarning` why).

    Parameters
    ----------
    path : path-like or None
        Default: :func:`tune_file_path`.

    Returns
    -------
    Tuning or None
        None when the file is missing (silently) or cannot be used (with a warning).
    """
    tuning, problem = inspect(path)
    if problem:
        warnings.warn(f"fastnn: ignoring the tune file {tuning_path(path)}: {problem}; "
                      f"using the shipped values (run `fastnn tune` to measure this "
                      f"machine again)", TuningWarning, stacklevel=2)
    return tuning


def inspect(path=None):
    """The tune file and what is wrong with it, without warning.

    Returns
    -------
    tuning : Tuning or None
    problem : str
        Empty when the file applies or is simply missing.
    """
    path = tuning_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, ""
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot read it ({exc})"
    try:
        record = json.loads(text)
    except ValueError as exc:
        return None, f"not valid JSON ({exc})"
    problem = _validate(record) or _foreign(record)
    if problem:
        return None, problem
    crossovers = record.get("crossovers")
    return Tuning(
        path=path, created=record["created"],
        identity={key: record.get(key) for key in ("cpu_model", *LIBRARY_VERSIONS)},
        crossovers=None if crossovers is None else
        {name: tuple(crossovers[name]) for name in PRODUCTS},
        table=record.get("table"),
        extra={key: value for key, value in record.items()
               if key not in ("crossovers", "table")}), ""


def tuning_path(path=None):
    """``path`` as a Path, or :func:`tune_file_path`."""
    return Path(path) if path is not None else tune_file_path()


@functools.lru_cache(maxsize=1)
def in_force():
    """The tune file in force in this process (read once, warned about once), or None."""
    return load()


def reload():
    """Forget the tune file read by :func:`in_force` (after writing or removing it), and
    the kernel arguments built from it."""
    in_force.cache_clear()
    numba_backend = sys.modules.get("fastnn.backends.numba_backend")
    if numba_backend is not None:
        numba_backend.clear_argument_cache()


def crossovers():
    """The BLAS / loop crossovers for the Numba kernels: tuned here, else the shipped ones.

    Returns
    -------
    tuple of 3 tuples of 3 int
        Per product, in the order of :data:`PRODUCTS` (that of
        ``_numba_kernels.BLAS_CROSSOVER``): ``(single_row, min_rows, min_multiply_adds)``.
    """
    tuning = in_force()
    if tuning is not None and tuning.crossovers is not None:
        return tuple(tuning.crossovers[name] for name in PRODUCTS)
    return shipped_crossovers()


def shipped_crossovers():
    """The crossovers the kernels were built with (``_numba_kernels.BLAS_CROSSOVER``)."""
    from fastnn.backends._numba_kernels import BLAS_CROSSOVER

    return tuple(tuple(int(value) for value in triple) for triple in BLAS_CROSSOVER)


def forward_row_block():
    """The forward pass's rows per block for the Numba kernels (0: whole batches): tuned
    here (the tune file's ``forward_row_block``), else the shipped one.

    Returns
    -------
    int
    """
    tuning = in_force()
    if tuning is not None and _is_count(tuning.extra.get(ROW_BLOCK_KEY)):
        return int(tuning.extra[ROW_BLOCK_KEY])
    return shipped_row_block()


def shipped_row_block():
    """The row block the kernels were built with (``_numba_kernels.FORWARD_ROW_BLOCK``)."""
    from fastnn.backends._numba_kernels import FORWARD_ROW_BLOCK

    return int(FORWARD_ROW_BLOCK)


def external_gemm():
    """The rule sending the Numba forward pass's float32 products to oneDNN: tuned here
    (the tune file's ``external_sgemm``, measured only where oneDNN is installed), else the
    shipped one (never).

    Returns
    -------
    tuple of 2 int
        ``(min_rows, min_weights)``: a product of ``m`` rows through ``n_in x n_out``
        weights goes to oneDNN when ``m >= min_rows`` and ``n_in * n_out >= min_weights``.
    """
    return _tuned_rule(EXTERNAL_KEY, shipped_external_gemm)


def shipped_external_gemm():
    """The oneDNN rule the kernels were built with (``_numba_kernels.EXTERNAL_GEMM``)."""
    from fastnn.backends._numba_kernels import EXTERNAL_GEMM

    return tuple(int(value) for value in EXTERNAL_GEMM)


def external_gradient_gemm():
    """The rule sending the Numba gradient's float32 products to oneDNN: tuned here (the
    tune file's ``external_sgemm_gradient``, measured only where oneDNN is installed), else
    the shipped one (never).

    Returns
    -------
    tuple of 2 int
        ``(weight_gradient, back_delta)``: the multiply-adds (``m * n_in * n_out``) from
        which a weight gradient ``A_prev.T @ delta`` / a back-propagated delta
        ``delta @ W.T`` goes to oneDNN.
    """
    return _tuned_rule(EXTERNAL_GRADIENT_KEY, shipped_external_gradient_gemm)


def _tuned_rule(key, shipped):
    """The tune file's valid pair under ``key`` (``_external_problem`` finds nothing wrong
    with it), else ``shipped()``."""
    tuning = in_force()
    if tuning is not None and tuning.extra.get(key) is not None \
            and _external_problem(tuning.extra[key]) == "":
        return tuple(int(value) for value in tuning.extra[key])
    return shipped()


def shipped_external_gradient_gemm():
    """The gradient's oneDNN rule the kernels were built with
    (``_numba_kernels.EXTERNAL_GRADIENT_GEMM``)."""
    from fastnn.backends._numba_kernels import EXTERNAL_GRADIENT_GEMM

    return tuple(int(value) for value in EXTERNAL_GRADIENT_GEMM)


def status():
    """One line for ``fastnn info``: which tuning is in force, and why.

    Returns
    -------
    str
    """
    path = tune_file_path()
    tuning, problem = inspect(path)
    if tuning is not None:
        parts = [name for name, value in (("crossovers", tuning.crossovers),
                                          ("backend table", tuning.table)) if value]
        return (f"tuned: {path} (measured {tuning.created}; "
                f"{' and '.join(parts) or 'nothing'})")
    if problem:
        return f"shipped table (tune file {path} ignored: {problem})"
    return f"shipped table (no tune file at {path}; `fastnn tune` measures this machine)"


# --- helpers -----------------------------------------------------------------------------

def _validate(record):
    """What is wrong with the record's structure, or ``""``."""
    try:
        check(record, TUNE_FILE, "tune file")  # the schema name (fastnn-tune/1) included
    except SchemaError as exc:
        return f"wrong schema ({exc})"
    if "crossovers" in record:
        problem = _crossover_problem(record["crossovers"])
        if problem:
            return f"wrong schema (crossovers: {problem})"
    if ROW_BLOCK_KEY in record and not _is_count(record[ROW_BLOCK_KEY]):
        return f"wrong schema ({ROW_BLOCK_KEY} is not a non-negative integer)"
    for key in (EXTERNAL_KEY, EXTERNAL_GRADIENT_KEY):
        if key in record and record[key] is not None:
            problem = _external_problem(record[key])
            if problem:
                return f"wrong schema ({key}: {problem})"
    if "table" in record:
        problem = _table_problem(record["table"])
        if problem:
            return f"wrong schema (table: {problem})"
    return ""


def _crossover_problem(crossovers):
    if not isinstance(crossovers, dict) or set(crossovers) != set(PRODUCTS):
        return f"expected an object with the keys {', '.join(PRODUCTS)}"
    for name, triple in crossovers.items():
        if not (isinstance(triple, list) and len(triple) == len(CROSSOVER_FIELDS)
                and all(_is_count(value) for value in triple)):
            return f"{name} is not a list of {len(CROSSOVER_FIELDS)} non-negative integers"
    return ""


def _external_problem(rule):
    if not (isinstance(rule, list) and len(rule) == 2 and all(_is_count(v) for v in rule)):
        return "not a list of 2 non-negative integers"
    return ""


def _table_problem(table):
    if not isinstance(table, dict) or not table:
        return "expected a non-empty object"
    for key, entry in table.items():
        parts = key.split(" ") if isinstance(key, str) else []
        if len(parts) != 3 or not parts[1].startswith("x") or not parts[1][1:].isdigit() \
                or not all(size.isdigit() for size in parts[0].split("-")):
            return f"malformed key {key!r}"
        if not isinstance(entry, dict) or not isinstance(entry.get("winner"), str):
            return f"{key!r} has no winner"
    return ""


def _foreign(record):
    """How the record's machine or versions differ from this process's, or ``""``."""
    here = current_identity()
    for key, label in IDENTITY_FIELDS.items():
        if record.get(key) != here[key]:
            return f"{label} ({record.get(key)!r}; here {here[key]!r})"
    return ""


def _is_count(value):
    # NEVER is the largest value the kernels take (it fits their int64 argument array).
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= NEVER


def _distribution_version(name):
    from importlib import metadata  # here: importing it costs a first call 0.1-0.2 s

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()

