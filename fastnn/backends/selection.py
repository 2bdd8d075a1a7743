"""Choosing the fastest backend for a layer-size / batch-size / operation case."""

from __future__ import annotations

import numbers

from fastnn.spec import check_name, validate_dtype, validate_layer_sizes

OPS = ("forward", "gradients", "train_step")

# Compiled first, then vectorised; the pure-Python reference is never the fastest.
PREFERENCE = ("numba", "numpy")


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
    validate_layer_sizes(layer_sizes)
    validate_dtype(dtype)
    check_name("op", op, OPS)
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
    for name in PREFERENCE:
        if name in available:
            return name
    return available[0]
