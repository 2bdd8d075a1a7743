"""Compiling a network configuration's Numba kernels into the on-disk cache: the background
process of :mod:`fastnn.backends.tiered` and ``fastnn warmup``'s foreground compile.

``python -m fastnn.warmup CONFIG_JSON TARGET`` lowers its priority
(``os.nice``), takes the configuration's lock (exit status ``tiered.BUSY`` if another
process holds it), compiles every kernel of the configuration into Numba's on-disk cache
(:func:`compile_configuration`) and writes the ready marker, atomically, last: a worker
killed at any point leaves no marker, and Numba writes its own cache files atomically.

On two cores or more the worker's first stage runs in two processes: the network's calls
in the worker, its optimizer's epoch kernel in ``python -m fastnn.warmup --epoch
CONFIG_JSON TARGET`` (:func:`compile_epoch`, which ends when the worker is gone). The
worker waits for it, then loads the epoch kernel from the cache (or compiles what it
left). Their Numba cache saves hold a lock (:func:`serialise_cache_saves`).
"""

from __future__ import annotations

import json
import os
import sys
import time

from fastnn.backends.tiered import STAGES

NICE = 10
# The background worker (main) compiles its first stage in two processes: the network's
# calls here, its optimizer's epoch kernel in a second one (compile_epoch).
SPLIT_EPOCH = False


def compile_configuration(config, target="numba", progress=None):
    """Compile (or load from the cache) every kernel a network of ``config`` can call on
    ``target``, in the order of :data:`STAGES` (``fastnn.backends.tiered.STAGES``), and
    only those of its configuration.

    Parameters
    ----------
    config : dict
        :func:`fastnn.backends.tiered.configuration` of the networks: the dtype and, for
        kernels compiled per configuration, the activations, loss and optimizer.
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
    import scipy.sparse

    from fastnn import backends
    from fastnn.backends import numba_backend
    from fastnn.model import MLP
    from fastnn.optimizers import OPTIMIZERS

    dtype = config["dtype"]
    first = config.get("optimizer", "adam")
    # The plain kernels (no configuration but the dtype) serve every activation and loss.
    net = MLP([2, 2, 2], activation=config.get("hidden", "sigmoid"),
              output_activation=config.get("output"), loss=config.get("loss", "mse"),
              backend=target, dtype=dtype, seed=0)
    X = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], dtype=dtype)
    T = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=dtype)
    weights = np.ones(3, dtype=dtype)
    backend = backends.get(target)
    done = progress or (lambda stage: None)
    others = [name for name in OPTIMIZERS if name != first]

    helper = None
    if _split(first):
        serialise_cache_saves()
        helper = _start_epoch_compile(config, target)
    net.forward(X)
    net.forward(X[0])
    net.loss(X, T)
    net.gradients(X, T)
    net.train_step(X, T, 0.1)
    if helper is not None:
        # Whatever it did not cache (it failed, or was killed) compiles here.
        helper.wait()
    _fit(net, X, T, [first], None)
    if backend.serial_below_rows:
        # A parallel backend's block kernels run from this many rows on.
        rows = backend.serial_below_rows
        X_big, T_big = np.resize(X, (rows, 2)), np.resize(T, (rows, 2))
        net.forward(X_big)
        net.gradients(X_big, T_big)
        net.train_step(X_big, T_big, 0.1)
        backend.loss(net.spec, net.flat_parameters.copy(), X_big, T_big)
    module = numba_backend.network_kernels(net.spec)
    if type(module.forward_into._cache).__name__ == "NullCache":
        raise RuntimeError("Numba's on-disk cache is off or not writable here "
                           f"(NUMBA_CACHE_DIR={os.environ.get('NUMBA_CACHE_DIR')!r})")
    done(STAGES[0])
    _batches(net, backend, X, T, None)
    _fit(net, X, T, others, None)
    done(STAGES[1])
    _batches(net, backend, X, T, weights)
    _fit(net, X, T, [first, *others], weights)
    done(STAGES[2])
    for sparse_weights in (None, weights):
        _batches(net, backend, scipy.sparse.csr_matrix(X), T, sparse_weights)
        _fit(net, scipy.sparse.csr_matrix(X), T, [first, *others], sparse_weights)
    done(STAGES[3])
    return numba_index_path(module)


def compile_epoch(config, target="numba"):
    """Compile (or load) the epoch kernel of the configuration's optimizer alone (dense
    ``X``, no sample weights): the second process of a split compile."""
    import numpy as np

    from fastnn.model import MLP

    dtype = config["dtype"]
    net = MLP([2, 2, 2], activation=config.get("hidden", "sigmoid"),
              output_activation=config.get("output"), loss=config.get("loss", "mse"),
              backend=target, dtype=dtype, seed=0)
    X = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], dtype=dtype)
    T = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=dtype)
    _fit(net, X, T, [config.get("optimizer", "adam")], None)


def _split(optimizer):
    """Whether the first stage's epoch kernel compiles in a second process: in the
    background worker (:data:`SPLIT_EPOCH`), with two cores or more, for a mini-batch
    optimizer (a full-batch solver's epoch is the network's gradients)."""
    from fastnn.optimizers import FULL_BATCH_SOLVERS

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return SPLIT_EPOCH and cores >= 2 and optimizer not in FULL_BATCH_SOLVERS


def _start_epoch_compile(config, target):
    """``python -m fastnn.warmup --epoch CONFIG TARGET`` (its errors go to this process's
    log), or None if it cannot start."""
    import subprocess

    try:
        return subprocess.Popen([sys.executable, "-m", "fastnn.warmup", "--epoch",
                                 json.dumps(config), target],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    except OSError:
        return None


def serialise_cache_saves():
    """Make this process's Numba cache saves take an exclusive lock (a file next to the
    markers) while they read, update and rewrite a function's index.

    Numba internals, here only (``tests/test_tiered.py`` fails loudly when an upgrade
    moves them): ``IndexDataCacheFile.save`` rewrites the index with no lock, so two
    processes of one compile saving entries of one function at once could lose one, or
    leave one pointing at the other's data file.
    """
    import fcntl

    from numba.core import caching

    from fastnn.backends import tiered

    save = caching.IndexDataCacheFile.save
    if getattr(save, "serialised", False):
        return
    path = tiered.cache_root() / "numba-cache-save.lock"

    def locked_save(self, key, data):
        with open(path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            return save(self, key, data)

    locked_save.serialised = True
    caching.IndexDataCacheFile.save = locked_save


def _exit_with_parent():
    """End this process when its parent (the worker) is gone (killed mid-compile)."""
    import threading

    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="fastnn-warmup-parent", daemon=True).start()


def numba_index_path(module=None):
    """The Numba cache index file of ``module``'s forward kernel (default: the plain
    kernels) once written (Numba internals, here only: ``tests/test_tiered.py`` fails
    loudly when an upgrade moves them), or None."""
    kernels = module or sys.modules.get("fastnn.backends._numba_kernels")
    try:
        path = str(kernels.forward_into._cache._cache_file._index_path)
    except AttributeError:
        return None
    return path if os.path.exists(path) else None


def _batches(net, backend, X, T, weights):
    """Call every backend method with these inputs (on a copy of the parameters)."""
    spec, params = net.spec, net.flat_parameters.copy()
    backend.forward(spec, params, X)
    backend.loss(spec, params, X, T, weights)
    backend.gradients(spec, params, X, T, weights)
    backend.train_step(spec, params, X, T, 0.1, weights)


def _fit(net, X, T, optimizers, weights):
    """One epoch of two batches per optimizer, on copies of the network."""
    extra = {} if weights is None else {"sample_weight": weights}
    for optimizer in optimizers:
        net.copy().fit(X, T, epochs=1, batch_size=2, seed=0, optimizer=optimizer, **extra)


def main(argv):
    """The worker's entry: ``argv`` is ``[config_json, target]`` (or ``["--epoch",
    config_json, target]`` for the second process of a split compile); returns the exit
    status."""
    global SPLIT_EPOCH

    if hasattr(os, "nice"):
        os.nice(NICE)
    if argv[0] == "--epoch":
        _exit_with_parent()
        serialise_cache_saves()
        compile_epoch(json.loads(argv[1]), argv[2])
        return 0
    config, target = json.loads(argv[0]), argv[1]
    SPLIT_EPOCH = True
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
                path = numba_index_path(_network_kernels(config))
                if path is not None:
                    index["numba_index"] = path
            write_marker(complete=False)  # the stage's calls can move to the compiled tier
            if progress is not None:
                progress(stage)

        path = compile_configuration(config, target, finished)
        if path is not None:
            index["numba_index"] = path
        write_marker(complete=True)
    return 0


def _network_kernels(config):
    """The network kernel module a compile of ``config`` loaded (None if none did)."""
    from fastnn.backends import numba_backend

    if "hidden" not in config:
        return sys.modules.get(numba_backend.NETWORK_KERNELS)
    return sys.modules.get(f"{numba_backend.NETWORK_KERNELS}__" + numba_backend.KernelConfiguration(
        config["hidden"], config["output"], config["loss"]).tag)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
