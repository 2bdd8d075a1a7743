"""The machine a benchmark runs on: CPU, versions, thread pools, and its matmul peak."""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import subprocess
import timeit
from pathlib import Path

import numpy as np
import threadpoolctl

from fastnn import config
from fastnn.timing import calibrate, time_rounds


def machine_info():
    """What a reader needs to judge a timing: CPU, cores, versions, BLAS and threads.

    Returns
    -------
    dict
        JSON-serialisable.
    """
    import fastnn

    return {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "fastnn": fastnn.__version__,
        "numpy": np.__version__,
        "numba": _numba_version(),
        "blas": blas_libraries(),
        "numba_threads_max": _numba_max_threads(),
        "backends": fastnn.available_backends(),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def source_revision():
    """The git commit of the fastnn source that runs, and its locally modified files.

    Returns
    -------
    dict or None
        ``{"commit": str, "modified": list of str}``; None outside a git checkout.
    """
    import fastnn

    root = Path(fastnn.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no",
                                 "--", "fastnn"], cwd=root, capture_output=True, text=True,
                                timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "modified": [line[3:] for line in status.splitlines()]}


def cpu_model():
    """The CPU model name from ``/proc/cpuinfo``, else ``platform.processor()``."""
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def blas_libraries():
    """The BLAS libraries NumPy loaded, as ``threadpoolctl.threadpool_info`` reports them.

    Returns
    -------
    list of dict
        Keys ``internal_api``, ``version``, ``num_threads``, ``architecture``,
        ``threading_layer`` (missing ones are None).
    """
    keys = ("internal_api", "version", "num_threads", "architecture", "threading_layer")
    return [{key: pool.get(key) for key in keys}
            for pool in threadpoolctl.threadpool_info() if pool.get("user_api") == "blas"]


def blas_summary(blas):
    """``"openblas 0.3.31 (Haswell)"`` from :func:`blas_libraries` output."""
    if not blas:
        return "none found"
    return ", ".join(f"{lib.get('internal_api')} {lib.get('version')}"
                     + (f" ({lib['architecture']})" if lib.get("architecture") else "")
                     for lib in blas)


def pinned_threads(threads):
    """Limit BLAS and Numba to ``threads`` threads inside the block.

    :func:`fastnn.config.pinned_threads` on the BLAS pools only, after checking
    ``threads`` against the Numba thread pool.

    Yields
    ------
    dict
        ``{"blas_threads": int or None, "numba_threads": int or None}``: the counts
        actually in force (None where there is no such pool).

    Raises
    ------
    ValueError
        If ``threads`` exceeds the Numba thread pool's size (``NUMBA_NUM_THREADS``).
    """
    check_thread_count(threads)
    return config.pinned_threads(threads, user_api="blas")


def check_thread_count(threads):
    """ValueError if ``threads`` exceeds the Numba thread pool (``NUMBA_NUM_THREADS``)."""
    numba_max = _numba_max_threads()
    if numba_max is not None and threads > numba_max:
        raise ValueError(f"--threads {threads} exceeds Numba's thread pool of {numba_max} "
                         f"(set NUMBA_NUM_THREADS to raise it)")


def matmul_peak(n=1024, min_time=0.1, rounds=3):
    """This machine's float64 matrix-product rate at the current thread settings.

    Times ``np.dot`` of two ``(n, n)`` float64 matrices and takes the best round,
    as a peak should.

    Returns
    -------
    dict
        ``{"n": n, "seconds": best per-call time, "gflops": 2 n**3 / seconds / 1e9}``.
    """
    rng = np.random.default_rng(0)
    A = rng.random((n, n))
    B = rng.random((n, n))
    timer = timeit.Timer(lambda: np.dot(A, B))
    number = calibrate(timer, min_time)
    (per_call,) = time_rounds([timer], [number], rounds)
    seconds = float(per_call.min())
    return {"n": n, "seconds": seconds, "gflops": 2.0 * n ** 3 / seconds / 1e9}


def _numba_version():
    numba = config.numba_module()
    return None if numba is None else numba.__version__


def _numba_max_threads():
    numba = config.numba_module()
    return None if numba is None else int(numba.config.NUMBA_NUM_THREADS)

