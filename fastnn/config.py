"""The one place for Numba compilation flags and thread settings.

Every ``@njit`` kernel in fastnn takes its options from :data:`JIT_OPTIONS` (through
:func:`fastnn.backends._numba_kernels.jit`); nothing else in the package spells out
``fastmath=`` or ``cache=``.

Environment overrides (read once, at import):

``FASTNN_NUMBA_CACHE``
    ``0`` turns the on-disk kernel cache off (default on).
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



@contextmanager
def single_threaded():
    """Pin every BLAS library and Numba to one thread inside the block (for timings).

    The kernels' ``np.dot`` calls SciPy's BLAS, which threadpoolctl can only limit once
    it is loaded, so it is loaded first.

    Yields
    ------
    dict
        The settings in force, to record next to timings:
        ``{"blas_threads": 1, "numba_threads": 1}``.
    """
    import numba
    import scipy.linalg.cython_blas  # noqa: F401
    from threadpoolctl import threadpool_info, threadpool_limits

    previous = numba.get_num_threads()
    with threadpool_limits(limits=1):
        numba.set_num_threads(1)
        try:
            blas = {info["num_threads"] for info in threadpool_info()
                    if info["user_api"] == "blas"}
            yield {"blas_threads": max(blas, default=None),
                   "numba_threads": numba.get_num_threads()}
        finally:
            numba.set_num_threads(previous)
