"""The one place for Numba compilation flags and thread settings.

Every ``@njit`` kernel in fastnn takes its options from :data:`JIT_OPTIONS` (through
:func:`fastnn.backends._numba_kernels.jit`); nothing else in the package spells out
``fastmath=`` or ``cache=``.

Environment overrides (read once, at import):

``FASTNN_NUMBA_CACHE``
    ``0`` turns the on-disk kernel cache off (default on).
``FASTNN_NUMBA_THREADS``
    Threads for the ``numba_parallel`` backend (default: Numba's own default).
"""

from __future__ import annotations

import os
from contextlib import contextmanager

# Fast-math flags for the kernels. Never 'nnan' or 'ninf': the model refuses NaN and
# infinity after the fact, so the kernels must propagate them faithfully.
# Only 'nsz' (the sign of a zero) is set, because the others change results measurably:
# 'contract' (fused multiply-add) rounds Z = A @ W + b differently from the reference,
# which tanh/sigmoid outputs near +-1 followed by log(1 - y) amplify past the 1e-9
# bound of tests/test_properties.py; 'reassoc' reorders every sum; 'arcp' and 'afn'
# change sigmoid and exp by an ulp each.
FASTMATH = frozenset({"nsz"})
if {"nnan", "ninf", "fast"} & FASTMATH:  # pragma: no cover - guards an edit of this file
    raise ValueError("fastmath must not assume away NaN or infinity")

CACHE = os.environ.get("FASTNN_NUMBA_CACHE", "1") != "0"

# error_model "numpy": a division by zero gives inf/NaN (refused by the model afterwards)
# instead of a check per division, which would also stop loops from vectorising.
JIT_OPTIONS = {"nogil": True, "fastmath": set(FASTMATH), "cache": CACHE,
               "error_model": "numpy"}

# Threads of the parallel backend; None leaves Numba's default (NUMBA_NUM_THREADS).
_threads = os.environ.get("FASTNN_NUMBA_THREADS")
NUMBA_THREADS = int(_threads) if _threads else None


@contextmanager
def single_threaded():
    """Pin BLAS (every loaded BLAS library) and Numba to one thread inside the block.

    Yields
    ------
    dict
        The settings in force, for recording next to timings:
        ``{"blas_threads": 1, "numba_threads": 1}``.
    """
    import numba
    from threadpoolctl import threadpool_limits

    previous = numba.get_num_threads()
    with threadpool_limits(limits=1):
        numba.set_num_threads(1)
        try:
            yield {"blas_threads": 1, "numba_threads": numba.get_num_threads()}
        finally:
            numba.set_num_threads(previous)
