"""Compiling a network configuration's Numba kernels into the on-disk cache: the background
process of :mod:`fastnn.backends.tiered` and ``fastnn warmup``'s foreground compile.

``python -m fastnn.warmup CONFIG_JSON TARGET`` lowers its priority
(``os.nice``), takes the configuration's lock (exit status ``tiered.BUSY`` if another
process holds it), compiles every kernel of the configuration into Numba's on-disk cache
(:func:`compile_configuration`) and writes the ready marker, atomically, last: a worker
killed at any point leaves no marker, and Numba writes its own cache files atomically.
"""

from __future__ import annotations

import json
import os
import sys
import time

NICE = 10
# What compile_configuration compiles, in order: after the first, a network's plain calls
# (dense X, no sample weights) run compiled; the marker says so at once (see warm).
STAGES = ("dense batches and epochs", "weighted batches and epochs",
          "sparse batches and epochs")


def compile_configuration(config, target="numba", progress=None):
    """Compile (or load from the cache) every kernel a network of ``config`` can call on
    ``target``, in the order of :data:`STAGES`: the per-call fast path and the plain
    dense batches and epochs, then the weighted ones, then the sparse (CSR, int32
    indices) ones.

    Parameters
    ----------
    config : dict
        :func:`fastnn.backends.tiered.configuration` of the networks.
    target : str
    progress : callable or None
        Called with the name of each of the :data:`STAGES` once it is compiled.

    Returns
    -------
    str or None
        The Numba cache index file the marker names (:func:`numba_index_path`).

    Raises
    ------
    RuntimeError
        If Numba's on-disk cache is off or not writable (the compile could not be shared).
    """
    import numpy as np

    from fastnn import backends
    from fastnn.backends import _numba_kernels
    from fastnn.model import MLP

    dtype = config["dtype"]
    net = MLP([2, 2, 2], backend=target, dtype=dtype, seed=0)
    X = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], dtype=dtype)
    T = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=dtype)
    backend = backends.get(target)
    done = progress or (lambda stage: None)
    net.forward(X)
    net.forward(X[0])
    net.gradients(X, T)
    net.train_step(X, T, 0.1)
    if backend.serial_below_rows:
        # A parallel backend's block kernels run from this many rows on.
        rows = backend.serial_below_rows
        X_big, T_big = np.resize(X, (rows, 2)), np.resize(T, (rows, 2))
        net.forward(X_big)
        net.gradients(X_big, T_big)
        net.train_step(X_big, T_big, 0.1)
        backend.loss(net.spec, net.flat_parameters.copy(), X_big, T_big)
    _exercise(net, backend, X, T, None)
    if type(_numba_kernels.forward_into._cache).__name__ == "NullCache":
        raise RuntimeError("Numba's on-disk cache is off or not writable here "
                           f"(NUMBA_CACHE_DIR={os.environ.get('NUMBA_CACHE_DIR')!r})")
    done(STAGES[0])
    _exercise(net, backend, X, T, np.ones(3, dtype=dtype))
    done(STAGES[1])
    import scipy.sparse

    sparse = scipy.sparse.csr_matrix(X)
    _exercise(net, backend, sparse, T, None)
    _exercise(net, backend, sparse, T, np.ones(3, dtype=dtype))
    done(STAGES[2])
    return numba_index_path()


def numba_index_path():
    """The Numba cache index file of the forward kernel once written (Numba internals, here
    only: ``tests/test_tiered.py`` fails loudly when an upgrade moves them), or None."""
    kernels = sys.modules.get("fastnn.backends._numba_kernels")
    try:
        path = str(kernels.forward_into._cache._cache_file._index_path)
    except AttributeError:
        return None
    return path if os.path.exists(path) else None


def _exercise(net, backend, X, T, weights):
    """Call every backend method, and a training epoch, with these inputs."""
    spec, params = net.spec, net.flat_parameters.copy()
    extra = {} if weights is None else {"sample_weight": weights}
    backend.forward(spec, params, X)
    backend.loss(spec, params, X, T, weights)
    backend.gradients(spec, params, X, T, weights)
    backend.train_step(spec, params, X, T, 0.1, weights)
    net.fit(X, T, epochs=1, batch_size=2, seed=0, **extra)


def main(argv):
    """The worker's entry: ``argv`` is ``[config_json, target]``; returns the exit status."""
    config, target = json.loads(argv[0]), argv[1]
    if hasattr(os, "nice"):
        os.nice(NICE)
    return warm(config, target)


def warm(config, target="numba", progress=None, wait=False):
    """Compile ``config`` for ``target`` into the cache under its lock, then write its ready
    marker (``fastnn warmup`` calls this in the foreground).

    Returns
    -------
    int
        0 (compiled, or already compiled), or ``tiered.BUSY`` if another process holds
        the configuration's lock (with ``wait``: waits for it, then compiles whatever it
        left undone).
    """
    import fcntl

    from fastnn.atomic import atomic_write_text
    from fastnn.backends import tiered

    directory = tiered.cache_root()
    directory.mkdir(parents=True, exist_ok=True)
    name = tiered.entry_name(config)
    with open(directory / f"{name}.lock", "a+b") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError:
            return tiered.BUSY
        if tiered.is_ready(config, complete=True):
            return 0
        started = time.perf_counter()
        stages = {}

        index = {}

        def write_marker(complete):
            record = {"configuration": config, "target": target, "stages": stages, **index,
                      "sources": tiered.sources_state(), "complete": complete,
                      "seconds": round(time.perf_counter() - started, 3),
                      "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            atomic_write_text(tiered.marker_path(config), json.dumps(record, sort_keys=True))

        def finished(stage):
            stages[stage] = round(time.perf_counter() - started - sum(stages.values()), 3)
            if stage == STAGES[0]:
                path = numba_index_path()
                if path is not None:
                    index["numba_index"] = path
                write_marker(complete=False)  # plain calls can move to the compiled tier
            if progress is not None:
                progress(stage)

        path = compile_configuration(config, target, finished)
        if path is not None:
            index["numba_index"] = path
        write_marker(complete=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
