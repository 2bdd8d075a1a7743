"""Choosing the fastest backend for a layer-size / batch-size / operation case.

The choice is measured, not assumed: ``fastest_table.json`` (next to this module) holds
the winner of every point of issue 3's grid - layer sizes {3-3-1, 64-30-10,
100-100-50-10, 784-256-128-10, 1024-1024-1024-10} x batch {1, 32, 256, 2048} x op -
timed on the project machine by ``benchmarks/test_numba_targets.py`` (rewrite it with
``FASTNN_UPDATE_SELECTION_TABLE=1 pytest benchmarks/test_numba_targets.py``).

On a machine where ``fastnn tune`` has run, its table (:mod:`fastnn.backends.tuning`,
measured there) is used instead; the shipped table is the fallback. ``fastnn tune`` names a
point's winner by the reports' tie rule (``fastnn.bench.measure.backend_table.winner``): where
the 95 % interval of the paired per-round speedup against the fastest spans 1 ("no clear
winner") or the medians are within 3 %, the candidate listed first wins.

A case on the grid gets its measured winner. A case off the grid gets the winner of
the nearest grid point for the same op, by distance in log multiply-adds per sample
and log batch size. A winner that is not available here (or a missing table) falls
back to :data:`PREFERENCE`.
"""

from __future__ import annotations

import functools
import json
import math
import numbers
from pathlib import Path

from fastnn.backends import tuning as tuning_file
from fastnn.ops import SELECTED_OPS
from fastnn.spec import check_name, validate_dtype, validate_layer_sizes

# The ops of the measured table (fastnn/ops.py declares which).
OPS = SELECTED_OPS

# Compiled first, then vectorised; the pure-Python reference is never the fastest.
PREFERENCE = ("numba", "numpy")

TABLE_PATH = Path(__file__).with_name("fastest_table.json")


def choose_backend(layer_sizes, batch_size, op, dtype, available):
    """Pick a backend name from ``available`` for this case.

    Parameters
    ----------
    layer_sizes : sequence of int
    batch_size : int
    op : {"forward", "gradients", "train_step"}
    dtype : str
    available : list of str

    Returns
    -------
    str
    """
    sizes = validate_layer_sizes(layer_sizes)
    validate_dtype(dtype)
    check_name("op", op, OPS)
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
    winner = measured_winner(sizes, int(batch_size), op)
    if winner in available:
        return winner
    for name in PREFERENCE:
        if name in available:
            return name
    return available[0]


def measured_winner(layer_sizes, batch_size, op):
    """The table's winner for this case (nearest grid point off the grid), or None.

    Parameters
    ----------
    layer_sizes : tuple of int
    batch_size : int
    op : str

    Returns
    -------
    str or None
    """
    table = _table()
    exact = table.get(grid_key(layer_sizes, batch_size, op))
    if exact is not None:
        return exact
    candidates = [(sizes, batch, winner) for (sizes, batch, point_op), winner
                  in _points(table) if point_op == op]
    if not candidates:
        return None
    work = math.log(_multiply_adds(layer_sizes))
    batch_log = math.log(batch_size)
    _, _, winner = min(candidates, key=lambda point: (
        (math.log(_multiply_adds(point[0])) - work) ** 2
        + (math.log(point[1]) - batch_log) ** 2))
    return winner


def grid_key(layer_sizes, batch_size, op):
    """The table's key for a case, e.g. ``"64-30-10 x32 forward"``."""
    return f"{'-'.join(str(size) for size in layer_sizes)} x{batch_size} {op}"


def table_source():
    """Where the table in force comes from: the tune file's path, or ``"shipped"``."""
    tuning = tuning_file.in_force()
    return str(tuning.path) if tuning is not None and tuning.table else "shipped"


def _table():
    """Key -> winner: this machine's tuned table if there is one, else the shipped one."""
    tuning = tuning_file.in_force()
    if tuning is not None and tuning.table:
        return _winners(tuning.table)
    return shipped_table()


@functools.lru_cache(maxsize=1)
def shipped_table():
    """Key -> winner, from the shipped table; empty if there is none."""
    try:
        data = json.loads(TABLE_PATH.read_text())
    except (OSError, ValueError):
        return {}
    return _winners(data.get("table", {}))


def _winners(table):
    return {key: entry["winner"] for key, entry in table.items()}


def _points(table):
    for key, winner in table.items():
        label, batch, op = key.split(" ")
        yield (tuple(int(size) for size in label.split("-")), int(batch[1:]), op), winner


def _multiply_adds(layer_sizes):
    return sum(n_in * n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))
