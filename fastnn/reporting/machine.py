"""The machine a measurement ran on: one record, one set of keys, everywhere.

``fastnn bench``, ``fastnn report``, ``fastnn reproduce`` and ``fastnn info`` all write
and read :class:`MachineRecord`; a peer adapter adds its library versions to ``peers``,
and a remote worker sends its own record with its rows (``host`` tells machines apart).
Also here: thread pinning for timings, and the machine's matmul peak in each dtype (sgemm
for float32, dgemm for float64).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import os
import platform
import subprocess
import timeit
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import threadpoolctl

from fastnn import config
from fastnn.cpu import cpu_model  # re-exported: the machine record names the CPU
from fastnn.reporting.timing import calibrate, time_rounds

# Keys older files used for the same facts (reproduce's results.json before the record
# was shared), read into the record's own keys.
_LEGACY_KEYS = {"cpu": "cpu_model", "cores": "logical_cores"}


@dataclass
class MachineRecord:
    """What a reader needs to judge a timing: CPU, cores, versions, BLAS and threads.

    Attributes
    ----------
    cpu_model : str
    logical_cores, usable_cores : int or None
    host : str
        The machine's network name: tells the machines of a distributed run apart.
    machine : str
        The architecture (``x86_64``).
    system : str
        ``"Linux 6.1"``.
    platform : str
        ``platform.platform()``.
    python, python_implementation, fastnn, numpy : str
    numba : str or None
        None where Numba is not installed.
    blas : list of dict
        See :func:`blas_libraries`.
    numba_threads_max : int or None
    backends : list of str
        The backends available here.
    peers : dict of str -> str
        Peer libraries timed against fastnn, and their versions.
    load_average : list of float or None
        The 1, 5 and 15 minute load averages when the record was taken.
    date_utc : str
        ISO 8601.
    """

    cpu_model: str = "unknown"
    logical_cores: int | None = None
    usable_cores: int | None = None
    host: str = ""
    machine: str = ""
    system: str = ""
    platform: str = ""
    python: str = "?"
    python_implementation: str = ""
    fastnn: str = "?"
    numpy: str = "?"
    numba: str | None = None
    blas: list = field(default_factory=list)
    numba_threads_max: int | None = None
    backends: list = field(default_factory=list)
    peers: dict = field(default_factory=dict)
    load_average: list | None = None
    date_utc: str = ""

    def as_dict(self):
        """The record as a JSON-ready dict (the keys of ``results.json``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        """A record from a stored dict; unknown keys are ignored, missing ones default."""
        data = {_LEGACY_KEYS.get(key, key): value for key, value in (data or {}).items()}
        names = {item.name for item in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})

    @property
    def cores(self):
        """The cores this process may use (else the logical cores; None if unknown)."""
        return self.usable_cores if self.usable_cores is not None else self.logical_cores

    def summary(self):
        """``"AMD EPYC, 2 cores, Linux ..., Python 3.11, NumPy 2.4, Numba 0.68, BLAS ..."``."""
        return (f"{self.cpu_model}, {self.cores if self.cores is not None else '?'} cores, "
                f"{self.system}, Python {self.python}, NumPy {self.numpy}, "
                f"Numba {self.numba or 'not installed'}, BLAS {blas_summary(self.blas)}, "
                f"fastnn {self.fastnn}" + peers_summary(self.peers))


def machine_record(peers=None):
    """The record of this machine, now.

    Parameters
    ----------
    peers : dict of str -> str, or None
        The peer libraries of the run and their versions (they are not imported here).

    Returns
    -------
    MachineRecord
    """
    import fastnn

    return MachineRecord(
        cpu_model=cpu_model(),
        logical_cores=os.cpu_count(),
        usable_cores=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        host=platform.node(),
        machine=platform.machine(),
        system=f"{platform.system()} {platform.release()}",
        platform=platform.platform(),
        python=platform.python_version(),
        python_implementation=platform.python_implementation(),
        fastnn=fastnn.__version__,
        numpy=np.__version__,
        numba=_numba_version(),
        blas=blas_libraries(),
        numba_threads_max=_numba_max_threads(),
        backends=fastnn.available_backends(),
        peers=dict(peers or {}),
        load_average=load_average(),
        date_utc=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )


def machine_info(peers=None):
    """:func:`machine_record` as a dict (the ``machine`` entry of ``results.json``)."""
    return machine_record(peers).as_dict()


def peers_summary(peers):
    """``", peers: torch 2.13.0, jax 0.10.2"``; empty without peers."""
    if not peers:
        return ""
    return ", peers: " + ", ".join(f"{name} {version or '?'}" for name, version in peers.items())


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


def revision_text(revision, length=12):
    """``"0123abcd4567"``, with ``" + local changes"`` if files were modified; None if unknown."""
    if not revision:
        return None
    return revision["commit"][:length] + (" + local changes" if revision.get("modified") else "")


def load_average():
    """The 1, 5 and 15 minute load averages (two decimals); None where unsupported."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


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
    """Limit BLAS, OpenMP and Numba to ``threads`` threads inside the block.

    :func:`fastnn.config.pinned_threads` on every pool (OpenMP too: oneDNN's sgemm, which
    the float32 kernels call where ``fastnn[onednn]`` is installed, runs on it), after
    checking ``threads`` against the Numba thread pool.

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
    return config.pinned_threads(threads)


@contextlib.contextmanager
def single_threaded():
    """Pin every BLAS/OpenMP pool and Numba to one thread; yields what was set.

    Yields
    ------
    dict
        ``{"blas_threads": 1, "numba_threads": 1 or None, "blas_libraries": [...]}``
        (None: Numba not importable); the libraries as threadpoolctl sees them, pinned.
    """
    with config.pinned_threads(1, with_pools=True) as in_force:
        pools = in_force.pop("pools")
        in_force["blas_libraries"] = [
            f"{pool.get('internal_api')} ({_short_path(pool.get('filepath', ''))}): "
            f"{pool.get('num_threads')}"
            for pool in pools]
        yield in_force


def check_thread_count(threads):
    """ValueError if ``threads`` exceeds the Numba thread pool (``NUMBA_NUM_THREADS``)."""
    numba_max = _numba_max_threads()
    if numba_max is not None and threads > numba_max:
        raise ValueError(f"--threads {threads} exceeds Numba's thread pool of {numba_max} "
                         f"(set NUMBA_NUM_THREADS to raise it)")


def matmul_peak(n=1024, min_time=0.1, rounds=3, dtype="float64", clock=None):
    """This machine's matrix-product rate in ``dtype`` at the current thread settings.

    Times ``np.dot`` of two ``(n, n)`` matrices of ``dtype`` (BLAS's sgemm for float32,
    dgemm for float64) and takes the best round, as a peak should.

    Parameters
    ----------
    n : int
    min_time : float
        Seconds per round, for the loop-count calibration.
    rounds : int
    dtype : {"float64", "float32"}
    clock : callable or None
        The clock to time with (``time.process_time``, say); default ``timeit``'s
        (``time.perf_counter``).

    Returns
    -------
    dict
        ``{"n": n, "dtype": dtype, "seconds": best per-call time,
        "gflops": 2 n**3 / seconds / 1e9}``.
    """
    rng = np.random.default_rng(0)
    A = rng.random((n, n)).astype(dtype, copy=False)
    B = rng.random((n, n)).astype(dtype, copy=False)
    timer = timeit.Timer(lambda: np.dot(A, B), timer=clock or timeit.default_timer)
    number = calibrate(timer, min_time)
    (per_call,) = time_rounds([timer], [number], rounds)
    seconds = float(per_call.min())
    return {"n": n, "dtype": str(np.dtype(dtype)), "seconds": seconds,
            "gflops": 2.0 * n ** 3 / seconds / 1e9}


def peak_dtype(peak):
    """The dtype a recorded peak was measured in: float64 for files that predate the
    per-dtype peaks (their one peak was always dgemm's)."""
    return peak.get("dtype") or "float64"


def peak_label(dtype):
    """``"fp32"`` / ``"fp64"``: how the reports name a dtype's matmul peak."""
    return "fp" + str(np.dtype(dtype).itemsize * 8)


def _short_path(filepath):
    """The library's folder and file name: which package's copy of BLAS it is."""
    parts = filepath.replace("\\", "/").split("/")
    return "/".join(parts[-2:])


def _numba_version():
    numba = config.numba_module()
    return None if numba is None else numba.__version__


def _numba_max_threads():
    numba = config.numba_module()
    return None if numba is None else int(numba.config.NUMBA_NUM_THREADS)
