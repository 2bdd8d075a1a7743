"""The one place for Numba compilation flags and thread settings.

Every ``@njit`` kernel in fastnn takes its options from :data:`JIT_OPTIONS` (and the
private helpers also :data:`HELPER_JIT_OPTIONS`), through
:func:`fastnn.backends._numba_kernels.jit`; nothing else in the package spells out
``fastmath=`` or ``cache=``.

Environment overrides (read once, at import):

``FASTNN_NUMBA_CACHE``
    ``0`` turns the on-disk kernel cache off (default on).
``FASTNN_SPECIALISED_KERNELS``
    ``0`` gives every network the plain kernels, which read the activations, loss and
    optimizer at run time (one compile per dtype for all of them), instead of kernels
    compiled for its configuration alone (default on; see
    :mod:`fastnn.backends.numba_backend`).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from contextlib import contextmanager, suppress
from pathlib import Path

# Fast-math flags for the kernels. Never 'nnan' or 'ninf': the model refuses NaN and
# infinity after the fact, so the kernels must propagate them faithfully.
# Only 'nsz' (the sign of a zero) is set, because the others change results measurably:
# 'contract' (fused multiply-add) rounds Z = A @ W + b differently from the reference,
# which tanh/sigmoid outputs near +-1 followed by log(1 - y) amplify past the 1e-9
# bound of tests/test_properties.py; 'reassoc' reorders every sum; 'arcp' and 'afn'
# change sigmoid and exp by an ulp each.
FASTMATH = frozenset({"nsz"})
# The float32 activation bodies (fastnn.backends._numba_math) may also fuse a multiply and
# an add: their polynomials then run as fused multiply-adds, half the floating-point
# operations, and the float32 contract (1e-4 relative) leaves room for the rounding.
FASTMATH_FLOAT32 = FASTMATH | {"contract"}
if {"nnan", "ninf", "fast"} & (FASTMATH | FASTMATH_FLOAT32):  # pragma: no cover - guards an edit
    raise ValueError("fastmath must not assume away NaN or infinity")

CACHE = os.environ.get("FASTNN_NUMBA_CACHE", "1") != "0"

# The compiled kernels' own modules and the backends that call them (relative to the
# package); fastnn.backends.tiered stamps its ready markers with these and the files below.
KERNEL_MODULES = ("backends/_numba_kernels.py", "backends/_numba_train_kernels.py",
                  "backends/_numba_parallel_kernels.py", "backends/numba_backend.py",
                  "backends/numba_parallel_backend.py")
# The files the kernels are built from besides their own module. Numba stamps a cache
# entry with its own source file only, so the kernels' names carry a digest of these
# (see kernel_dependencies_digest): an edit or upgrade of any of them compiles afresh
# instead of loading a stale kernel.
KERNEL_DEPENDENCIES = ("backends/_numba_math.py", "backends/_external_gemm.py",
                       "backends/_numba_step.py",
                       "functions.py", "optimizers.py", "config.py", "params.py")
SPECIALISED_KERNELS = os.environ.get("FASTNN_SPECIALISED_KERNELS", "1") != "0"

# error_model "numpy": a division by zero gives inf/NaN (refused by the model afterwards)
# instead of a check per division, which would also stop loops from vectorising.
JIT_OPTIONS = {"nogil": True, "fastmath": set(FASTMATH), "cache": CACHE,
               "error_model": "numpy"}

# Added for the kernels' private helpers, which only other kernels call: no Python (or C)
# entry wrapper. A wrapper unboxes every argument; Numba would compile, optimise and
# translate it for each helper, and LLVM again in every kernel that links the helper
# (about a tenth of a cold first step's compile time).
HELPER_JIT_OPTIONS = {"no_cpython_wrapper": True, "no_cfunc_wrapper": True}



def njit(py_function, **options):
    """``numba.njit(**options)(py_function)``, and without the on-disk cache where Numba
    finds nowhere writable to keep it (``NUMBA_CACHE_DIR``, the package's ``__pycache__``
    or the user cache): Numba then refuses to decorate, and this warns and compiles
    without the cache instead.

    Parameters
    ----------
    py_function : callable
    **options
        Options of ``numba.njit`` (normally :data:`JIT_OPTIONS` and more).

    Returns
    -------
    numba dispatcher
    """
    import numba

    if options.get("no_cpython_wrapper") and options.get("no_cfunc_wrapper"):
        from fastnn import _numba_linking

        # A helper only kernels call: linked into them, never translated alone, so there
        # is no machine code of its own to cache (see _numba_linking).
        if _numba_linking.defer(py_function.__qualname__):
            options = dict(options, cache=False)
    if options.get("cache"):
        try:
            return numba.njit(**options)(py_function)
        except RuntimeError as exc:
            warnings.warn(f"fastnn: compiling {py_function.__name__} without the kernel "
                          f"cache ({exc})", RuntimeWarning, stacklevel=3)
    return numba.njit(**dict(options, cache=False))(py_function)


def kernel_dependencies_digest():
    """A short hash of the content of :data:`KERNEL_DEPENDENCIES` (computed once).

    Returns
    -------
    str
        Eight hexadecimal digits.
    """
    global _DEPENDENCIES_DIGEST
    if _DEPENDENCIES_DIGEST is None:
        digest = hashlib.sha256()
        package = Path(__file__).parent
        for name in KERNEL_DEPENDENCIES:
            digest.update((package / name).read_bytes())
        _DEPENDENCIES_DIGEST = digest.hexdigest()[:8]
    return _DEPENDENCIES_DIGEST


_DEPENDENCIES_DIGEST = None


@contextmanager
def pinned_threads(threads, user_api=None, with_pools=False):
    """Limit the thread pools and Numba to ``threads`` threads inside the block (for timings).

    ``threadpoolctl`` limits only the libraries loaded when the limit is set; the kernels'
    ``np.dot`` calls SciPy's BLAS (a separate OpenBLAS), which would otherwise load lazily,
    at the first compilation, after the limit, so it is loaded first.

    Parameters
    ----------
    threads : int
    user_api : {None, "blas", "openmp"}
        The pools to limit, as ``threadpoolctl.threadpool_limits`` takes it (None: all).
    with_pools : bool
        Also yield ``"pools"``: the ``threadpoolctl.threadpool_info`` entries once
        limited (Numba's pool started, and with it any OpenMP runtime it loads).

    Yields
    ------
    dict
        The counts in force, to record next to timings:
        ``{"blas_threads": int or None, "numba_threads": int or None}`` (None where there
        is no such pool), and ``"pools"`` (list of dict) if asked for.
    """
    from threadpoolctl import threadpool_info, threadpool_limits

    with suppress(ImportError):
        import scipy.linalg.cython_blas  # noqa: F401
    # Numba's pool first: its OpenMP threading layer loads libgomp and sets that runtime's
    # thread count to NUMBA_NUM_THREADS, and oneDNN's sgemm (fastnn[onednn]) runs on the
    # same runtime; limited before, oneDNN would run on every core.
    previous = _set_numba_threads(threads)
    try:
        with threadpool_limits(limits=threads, user_api=user_api):
            in_force = threads_in_force()
            yield dict(in_force, pools=threadpool_info()) if with_pools else in_force
    finally:
        _set_numba_threads(previous)


def threads_in_force():
    """The BLAS and Numba thread counts in force now (None where there is no such pool)."""
    from threadpoolctl import threadpool_info

    blas = [pool["num_threads"] for pool in threadpool_info()
            if pool.get("user_api") == "blas" and pool.get("num_threads")]
    numba = numba_module()
    return {"blas_threads": max(blas) if blas else None,
            "numba_threads": None if numba is None else int(numba.get_num_threads())}


def numba_module():
    """The ``numba`` module, or None where it cannot be imported."""
    try:
        import numba
    except ImportError:
        return None
    return numba


def _set_numba_threads(threads):
    """Set Numba's thread count; returns the previous one (None without Numba)."""
    numba = numba_module()
    if numba is None or threads is None:
        return None
    previous = int(numba.get_num_threads())
    numba.set_num_threads(threads)
    return previous
