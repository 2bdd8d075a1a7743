"""How much memory a sweep needs, against what the machine has: checked before it starts.

``fastnn bench --sizes 1000000000-10`` would allocate until it fails with a MemoryError
(or the machine swaps). :func:`check_sweep_memory` refuses such a sweep before anything
is allocated or written, from an estimate of its largest point. The points run one at
a time, so the largest one bounds the sweep. It checks the options of ``fastnn bench``
and the plan (``run.json``) that ``fastnn bench --resume`` reads.

The memory compared is the memory of the machine running ``fastnn bench``: with
``--scheduler tcp://...`` that is the coordinator, not the workers (whose memory is not
asked; a worker that runs out fails its case, which the report lists).

The estimate is a lower bound of what the harness holds at one point (so that a sweep
it refuses cannot run): :data:`PARAMETER_COPIES` copies of the parameters (the case's,
each backend's network, the gradients, the optimizer state, the reference's) and
:data:`ACTIVATION_COPIES` of every layer's activations for the batch (the inputs and
targets, the forward activations, the backward deltas, the reference's outputs).
"""

from __future__ import annotations

import os

import numpy as np

from fastnn.params import parameter_count

PARAMETER_COPIES = 4
ACTIVATION_COPIES = 3
# What a sweep may take of the memory available when it starts.
USABLE_FRACTION = 0.8


def point_bytes(layer_sizes, batch_size, dtype):
    """Estimated bytes the harness holds while it measures one point.

    Parameters
    ----------
    layer_sizes : sequence of int
    batch_size : int
    dtype : str

    Returns
    -------
    int
    """
    itemsize = np.dtype(dtype).itemsize
    units = sum(int(size) for size in layer_sizes)
    return itemsize * (PARAMETER_COPIES * parameter_count(layer_sizes)
                       + ACTIVATION_COPIES * int(batch_size) * units)


def largest_point(config):
    """The point of ``config`` (a SweepConfig) with the largest estimate, and its bytes.

    Returns
    -------
    (dtype, layer_sizes, batch_size), int
    """
    points = {(dtype, tuple(sizes), batch) for dtype, sizes, batch, _ in config.cases()}
    sized = [(point_bytes(sizes, batch, dtype), (dtype, sizes, batch))
             for dtype, sizes, batch in points]
    needed, point = max(sized)
    return point, needed


def available_memory():
    """Bytes of memory available to a new allocation now (None if unknown).

    ``MemAvailable`` from ``/proc/meminfo`` on Linux, else the free physical pages.
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_sweep_memory(config, available=None):
    """Refuse a sweep whose largest point needs more memory than the machine has.

    Parameters
    ----------
    config : fastnn.bench.measure.sweep.SweepConfig
    available : int or None
        Bytes available; None: :func:`available_memory` (nothing is checked if unknown).

    Raises
    ------
    MemoryError
        Naming the point, its estimate and the memory available (exit status 2 on the
        command line, like any request the user can change).
    """
    available = available_memory() if available is None else available
    if available is None:
        return
    (dtype, sizes, batch), needed = largest_point(config)
    if needed > USABLE_FRACTION * available:
        label = "-".join(str(size) for size in sizes)
        raise MemoryError(f"the sweep's largest point ({label} x batch {batch}, {dtype}) needs "
                          f"at least {_size_text(needed)}, more than the "
                          f"{_size_text(USABLE_FRACTION * available)} this machine (the one "
                          f"running fastnn bench; with --scheduler, the coordinator) can give "
                          f"it ({USABLE_FRACTION:.0%} of {_size_text(available)} available); "
                          f"choose smaller --sizes or --batches")


def _size_text(n_bytes):
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n_bytes < 1000 or unit == "PB":
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1000
    return f"{n_bytes:.3g} PB"
