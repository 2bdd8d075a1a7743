"""Tiered execution for ``backend="auto"``: NumPy at once, Numba once its kernels are compiled.

When ``backend="auto"`` picks a compiling backend (``numba``, ``numba_parallel``) whose
kernels are not in the on-disk cache yet, the network gets a :class:`TieredBackend`: its
calls run on the ``numpy`` backend at once, while a separate, lower-priority process
(:mod:`fastnn.warmup`, ``os.nice``) compiles the kernels into Numba's
on-disk cache. The network moves to the compiled backend at the next call boundary after
that compile has finished (``forward``, ``loss``, binding the per-call fast path, or the
start of a training epoch; never inside an epoch, so ``gradients`` and ``train_step``
never switch), and says so: ``net.backend`` names the tier in force, a ``logging`` debug
line records the switch, ``fastnn info`` lists what is compiled.

Once the worker has compiled a stage, the network does not import Numba in one of its
calls either: unless Numba is imported in the process already, a thread loads the
compiled kernels (as below) and the network moves once they are loaded.

The worker compiles the network's own calls first (``forward``, ``loss``, ``gradients``,
``train_step`` and the epoch of the configuration's optimizer, dense ``X`` without sample
weights) and marks them ready: from then on those calls run compiled. It goes on with
the backend-level dense batches and the other optimizers' epochs, then the weighted and
the sparse calls, marking each stage (:data:`STAGES`); a call whose stage
is not compiled yet stays on NumPy.

Where the configuration is compiled already (its ready marker is there) but Numba is
not imported in this process yet, the network answers from NumPy too, while a thread
(``_Loader``, one per configuration and process) imports Numba and loads the
configuration's kernels from the cache by calling them once on a tiny input
(:func:`load_kernels`); the network moves at its next call boundary after that (about
half a second), for every call at once. The thread holds the GIL in parts of the
import, so NumPy calls made meanwhile are slower (tens of microseconds more per call,
a few milliseconds at worst). Where Numba was imported already (by a network on
``backend="numba"``, or the user) the network goes to the compiled backend at once. A
load that fails leaves the configuration's networks on NumPy, with one warning naming
the cause. A fork waits for a running load (at most :data:`FORK_WAIT` seconds), so the
child inherits Numba whole or not at all; a child forked past that wait never uses Numba
(its ``backend="auto"`` networks stay on NumPy, with one warning).

One compile per configuration is shared by every network and process: the worker holds
an exclusive ``flock`` on the configuration's lock file while it compiles and writes a
ready marker (atomically) when every kernel is in the cache; the others keep serving
NumPy and watch for the marker. A compile that fails, is killed, or cannot write its
cache leaves the network on NumPy, with one warning per configuration naming the cause.

The configuration is what decides the compiled code (:func:`configuration`): the dtype,
the hidden and output activations, the loss and the optimizer whose epoch is compiled
first, since the kernels are compiled per configuration
(:func:`fastnn.backends.numba_backend.specialised`); with ``FASTNN_SPECIALISED_KERNELS=0`` the
kernels read those at run time and the dtype alone is the key. The marker's name also
carries a stamp of the kernel sources' content, the fastnn and Numba versions and the CPU, so a new
version or another CPU never trusts an old marker, and of where the sources are
(:func:`sources_state`). Numba (0.68) stamps its own cache with the sources' content too,
so a reinstall of the same version keeps both; the marker also names the Numba index file
the compile wrote, and is stale once that file is gone (a cache kept in the package's
``__pycache__`` goes with a reinstall).

Environment:

``FASTNN_TIERED``
    ``0`` turns tiering off: ``backend="auto"`` then compiles in the foreground as an
    explicit ``backend="numba"`` does.
``FASTNN_CACHE_DIR``
    Where the markers, locks and worker logs live (default: ``NUMBA_CACHE_DIR`` if set,
    else ``$XDG_CACHE_HOME/fastnn`` or ``~/.cache/fastnn``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import threading
import time
import warnings
import weakref
from pathlib import Path

import numpy as np

from fastnn import config as fastnn_config
from fastnn.backends import registry
from fastnn.backends.base import Backend

# The backends whose kernels compile (and can be tiered), known without importing them.
COMPILED_BACKENDS = ("numba", "numba_parallel")
# The module the background compile runs (tests point it at a stand-in).
WORKER_MODULE = "fastnn.warmup"
# Exit status of a worker that found another process compiling the same configuration.
BUSY = 3
# Poll status of a worker whose process could not start.
_NOT_STARTED = "not started"
# What the worker (fastnn.warmup.compile_configuration) compiles, in order, marking each
# stage when it is done: first the network's own calls (dense X, no sample weights:
# forward, loss, gradients, train_step and the epoch of the configuration's optimizer),
# then the backend-level dense batches and the other optimizers' epochs, the weighted and
# the sparse calls. A call runs compiled once its stage is marked.
STAGES = ("network calls and its optimizer's epoch",
          "dense batches and the other optimizers' epochs",
          "weighted batches and epochs", "sparse batches and epochs")
_NETWORK, _BATCHES = 0, 1
# Seconds between two looks at the marker from one network's calls.
POLL_INTERVAL = 0.02
# Seconds a fork waits for a thread loading Numba in this process (see _Loader).
FORK_WAIT = 10.0
# The sources whose content decides the compiled kernels, relative to the package.
_KERNEL_SOURCES = fastnn_config.KERNEL_MODULES + fastnn_config.KERNEL_DEPENDENCIES


def enabled():
    """Whether ``backend="auto"`` tiers (``FASTNN_TIERED`` is not ``0`` and Numba's on-disk
    cache is on: without it a background compile could not be shared)."""
    if os.environ.get("FASTNN_TIERED", "1") == "0":
        return False
    return os.environ.get("FASTNN_NUMBA_CACHE", "1") != "0"


def cache_root():
    """The directory of the markers, locks and worker logs (see the module docstring)."""
    explicit = os.environ.get("FASTNN_CACHE_DIR") or os.environ.get("NUMBA_CACHE_DIR")
    if explicit:
        return Path(explicit) / "fastnn-tiers"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fastnn" / "tiers"


def configuration(spec, optimizer=None):
    """The configuration that decides the compiled kernels of ``spec``.

    Parameters
    ----------
    spec : NetworkSpec
    optimizer : str or None
        The optimizer whose epoch kernel is compiled first (default: ``fit``'s).

    Returns
    -------
    dict
        ``{"dtype", "hidden", "output", "loss", "optimizer"}`` (str each), as
        :func:`fastnn.backends.numba_backend.kernel_configuration` names the kernels (a
        network without hidden layers has the ``"identity"`` hidden activation); only
        ``{"dtype"}`` when :data:`fastnn.config.SPECIALISED_KERNELS` is off and one
        compile per dtype serves every network.
    """
    if not fastnn_config.SPECIALISED_KERNELS:
        return {"dtype": spec.dtype}
    if optimizer is None:
        from fastnn.hyperparameters import TrainingOptions

        optimizer = TrainingOptions().optimizer
    return {"dtype": spec.dtype, "hidden": spec.activation if spec.n_layers > 1 else "identity",
            "output": spec.output_activation, "loss": spec.loss, "optimizer": optimizer}


def stamp():
    """A short hash of the kernel sources, the fastnn and Numba versions and the CPU."""
    global _STAMP
    if _STAMP is None:
        from fastnn import __version__
        from fastnn.cpu import cpu_model

        digest = hashlib.sha256()
        package = Path(__file__).parent.parent
        for name in _KERNEL_SOURCES:
            with contextlib.suppress(OSError):
                digest.update((package / name).read_bytes())
        digest.update(_numba_version_source())
        digest.update(f"{__version__}|{cpu_model()}|{_cpu_flags()}".encode())
        _STAMP = digest.hexdigest()[:16]
    return _STAMP


def sources_state():
    """A hash of where the kernel sources are (their resolved paths).

    Numba 0.68 stamps its cache index with each source file's content hash, and keeps the
    entries of a file under a directory named after the file's path: a reinstall of the
    same version at the same place keeps them (the content is in :func:`stamp`), another
    install place has entries of its own, and so a marker of its own.
    """
    global _SOURCES_STATE
    if _SOURCES_STATE is None:
        digest = hashlib.sha256()
        package = Path(__file__).parent.parent
        for name in _KERNEL_SOURCES:
            digest.update(f"{(package / name).resolve()};".encode())
        _SOURCES_STATE = digest.hexdigest()[:16]
    return _SOURCES_STATE


def entry_name(config):
    """The file stem of a configuration's marker, lock and log."""
    parts = "-".join(f"{value}" for _, value in sorted(config.items()))
    # The sources' state too: two installs of one version (two environments) keep
    # Numba cache entries of their own, and so markers of their own.
    return f"{stamp()}-{sources_state()[:8]}-{parts}"


def marker_path(config):
    return cache_root() / f"{entry_name(config)}.ready"


def is_ready(config, complete=False):
    """Whether the kernels of ``config`` are compiled into the on-disk cache: the worker's
    marker is there, names this configuration, and was written for these source files
    (see :func:`sources_state`).

    Parameters
    ----------
    config : dict
    complete : bool
        Ask for every kernel (weighted and sparse too), not only those of the plain calls
        (dense ``X``, no sample weights), which the worker marks ready first.
    """
    record = _read_marker(config)
    return record is not None and (record.get("complete", False) or not complete)


def _read_marker(config):
    """The marker record of ``config`` if it is valid for these sources, else None."""
    try:
        record = json.loads(marker_path(config).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (isinstance(record, dict) and record.get("configuration") == config
            and record.get("sources") == sources_state() and _index_present(record)):
        return record
    return None


def _index_present(record):
    """Whether the Numba cache index the worker wrote is still there (a cache directory in
    the package's ``__pycache__`` goes with a reinstall; the marker then is stale)."""
    index = record.get("numba_index")
    return index is None or (isinstance(index, str) and os.path.exists(index))


def compiled_configurations():
    """The configurations compiled for this fastnn, Numba and CPU (for ``fastnn info``).

    Returns
    -------
    list of dict
        The marker records: ``configuration``, ``seconds`` (the compile), ``created``.
    """
    records = []
    with contextlib.suppress(OSError):
        for path in sorted(cache_root().glob(f"{stamp()}-*.ready")):
            with contextlib.suppress(OSError, ValueError):
                record = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(record, dict) and isinstance(record.get("configuration"), dict) \
                        and record.get("sources") == sources_state():
                    records.append(record)
    return records


class TieredBackend(Backend):
    """The ``numpy`` backend until the kernels of ``target`` are compiled, then ``target``.

    One per network (it holds that network's tier). Every method of the Backend interface
    delegates to the tier in force; see the module docstring for when it switches. The
    worker marks the plain calls' kernels (dense ``X``, no sample weights) ready first:
    from then on those calls run compiled, and weighted or sparse ones stay on NumPy until
    the whole configuration is compiled.

    Parameters
    ----------
    target : str
        The compiled backend ``backend="auto"`` chose (``"numba"`` or ``"numba_parallel"``).
    spec : NetworkSpec
    start : bool
        Start the background compile now (else at the first call).
    """

    description = "NumPy now, the chosen Numba backend once its kernels are compiled"
    compiles = False
    requested = "auto"

    def __init__(self, target, spec, start=True, loader=None):
        self.target = target
        self.config = configuration(spec)
        self._numpy = self._current = registry.get("numpy")
        self._complete = False  # every kernel compiled: no call stays on NumPy
        self._stages = frozenset()  # the indices of the worker's stages compiled so far
        self._pending = True    # may still move (False once complete, or given up)
        self._worker = None
        self._attempts = 0
        self._next_poll = 0.0
        self._loader = loader   # loading cached kernels in this process (no compile)
        self._stage_loader = None  # loading what the worker has compiled so far
        self._lock = threading.Lock()
        with _ALIVE_LOCK:
            _ALIVE.add(self)
        if start and loader is None:
            self._start_compile()

    # --- what it is: the tier in force --------------------------------------------------

    @property
    def name(self):
        return self._current.name

    @property
    def pending(self):
        """True while the network may still move to compiled kernels."""
        return self._pending

    @property
    def dtypes(self):
        return self._current.dtypes

    @property
    def accepts_sparse(self):
        return self._current.accepts_sparse

    @property
    def runs_epochs(self):
        # Read by training at the start of every epoch: a call boundary.
        return self._tier().runs_epochs

    # --- the interface ------------------------------------------------------------------

    def bind(self, spec, params):
        self._tier()
        return self._for(np.empty((0, 0)), None).bind(spec, params)

    def forward(self, spec, params, X):
        self._tier()
        return self._for(X, None).forward(spec, params, X)

    def loss(self, spec, params, X, T, sample_weight=None):
        self._tier()
        return self._for(X, sample_weight).loss(spec, params, X, T, sample_weight)

    def gradients(self, spec, params, X, T, sample_weight=None):
        return self._for(X, sample_weight, _BATCHES).gradients(spec, params, X, T,
                                                               sample_weight)

    def train_step(self, spec, params, X, T, learning_rate, sample_weight=None):
        return self._for(X, sample_weight, _BATCHES).train_step(spec, params, X, T,
                                                                learning_rate, sample_weight)

    def train_epoch(self, spec, params, X, T, order, options, optimizer, sample_weight=None):
        first = optimizer.name == self.config.get("optimizer", optimizer.name)
        backend = self._for(X, sample_weight, _NETWORK if first else _BATCHES)
        if not backend.runs_epochs:  # weighted or sparse, not compiled yet: NumPy's batches
            from fastnn import train

            return train.fit_epoch(backend, spec, params, X, T, order, options, optimizer,
                                   train.weight_mask(spec.layer_sizes), sample_weight)
        return backend.train_epoch(spec, params, X, T, order, options, optimizer,
                                   sample_weight)

    def __repr__(self):
        return f"<fastnn tiered backend {self.name!r} -> {self.target!r}>"

    # --- the switch ---------------------------------------------------------------------

    def _for(self, X, sample_weight, stage=0):
        """The tier for a call with these inputs whose dense, unweighted form the worker
        compiles in ``stage`` (``_NETWORK``: the network's own calls; ``_BATCHES``:
        backend-level batches and the other optimizers' epochs): NumPy for it, or for a
        weighted or sparse call, until that is compiled."""
        if self._complete or (sample_weight is None and type(X) is np.ndarray
                              and stage in self._stages):
            return self._current
        return self._numpy

    def _tier(self):
        """The tier in force, after a look at the marker (at most every POLL_INTERVAL)."""
        if self._pending:
            now = time.monotonic()
            if now >= self._next_poll:
                self._next_poll = now + POLL_INTERVAL
                self._poll()
        return self._current

    def _poll(self):
        with self._lock:
            if not self._pending:
                return
            if self._loader is not None:
                self._poll_loader()
                return
            record = _read_marker(self.config)
            if record is not None:
                self._stages = _stages_done(record)
                if self._current is self._numpy and self._loaded():
                    self._switch()
                if not self._pending:  # the load failed
                    return
                if record.get("complete", False) and self._current is not self._numpy:
                    self._complete, self._pending = True, False
                    return
            worker = self._worker
            if worker is None:
                # Another process compiles; if it is gone unfinished, take over.
                if not _lock_held(self.config):
                    self._start_compile()
                return
            code = worker.poll()
            if code is None:
                return
            self._worker = None
            if code == 0 or code == BUSY:
                # Finished (the next look sees its marker), or another process holds the
                # compile: watch for its marker; if its lock is free, compile again.
                if not is_ready(self.config, complete=True) and not _lock_held(self.config):
                    self._start_compile()
                return
            if code == _NOT_STARTED:
                self._give_up(f"the compile process could not start: {worker.error}")
                return
            self._give_up(_worker_failure(code, self.config))

    def _loaded(self):
        """Whether the compiled kernels (the worker's first stage at least) can be called
        now without a wait: Numba was imported by something else, or a loader thread
        (started here, see :func:`loader_for`) has loaded them; a failed load gives up."""
        loader = self._stage_loader
        if loader is None:
            loader = loader_for(self.config, self.target)
            if loader is None:
                return True
            self._stage_loader = loader
        if not loader.finished:
            return False
        if loader.error is not None:
            self._give_up(loader.error, "loading its compiled Numba kernels")
            return False
        return True

    def _poll_loader(self):
        """Loading mode: switch (for every call) once the loader thread has loaded the
        kernels, or stay on NumPy if it failed."""
        loader = self._loader
        if not loader.finished:
            return
        if loader.error is not None:
            self._give_up(loader.error, "loading its compiled Numba kernels")
            return
        self._complete, self._pending = True, False
        self._switch(f"loaded from the cache in {loader.seconds:.2f} s")

    def _switch(self, how="compiled"):
        self._current = registry.get(self.target)
        _log().debug("tiered: %s kernels %s; network moves from numpy to %s",
                     self.config, how, self.target)

    def _give_up(self, cause, what="the background Numba compile"):
        self._pending = False
        key = json.dumps(self.config, sort_keys=True)
        if key not in _WARNED:
            _WARNED.add(key)
            where = "numpy" if self._current is self._numpy else \
                f"numpy for weighted and sparse calls ({self.target} for the others)"
            warnings.warn(f"fastnn: {what} for {self.config} did not finish ({cause}); "
                          f"these networks stay on {where}", RuntimeWarning, stacklevel=4)

    def _start_compile(self):
        """Spawn the worker unless the configuration is compiled or another one holds it.

        The process starts from a helper thread (``fork``/``exec`` of a large process takes
        a tenth of a second; the calls go on meanwhile); ``_worker`` is the thread until
        the process exists.
        """
        if is_ready(self.config, complete=True):
            return
        if self._attempts >= 2:
            self._give_up("two compile attempts ended without a cache entry")
            return
        self._attempts += 1
        try:
            directory = cache_root()
            directory.mkdir(parents=True, exist_ok=True)
            log = open(directory / f"{entry_name(self.config)}.log", "ab")  # noqa: SIM115
        except OSError as exc:
            self._give_up(f"the cache directory is not writable: {exc}")
            return
        if _lock_held(self.config):
            log.close()
            self._worker = None  # another process compiles: watch its marker
            return
        starter = _Starter(self, log)
        self._worker = starter
        starter.start()


class _Starter(threading.Thread):
    """Starts one worker process; ``poll()`` as ``Popen.poll`` (None while starting)."""

    def __init__(self, backend, log):
        super().__init__(name="fastnn-tiered-start", daemon=True)
        self.config, self.target, self.log = backend.config, backend.target, log
        self.process = None
        self.error = None

    def run(self):
        import subprocess

        command = [sys.executable, "-m", WORKER_MODULE, json.dumps(self.config), self.target]
        try:
            with self.log:
                self.process = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=self.log, start_new_session=True, env=_worker_environment())
        except OSError as exc:
            self.error = exc
            return
        _log().debug("tiered: compiling %s for %s in process %d", self.config, self.target,
                     self.process.pid)

    def poll(self):
        if self.is_alive():
            return None
        if self.process is None:
            return _NOT_STARTED
        return self.process.poll()

    def kill(self):
        self.join()
        if self.process is not None:
            self.process.kill()

    def wait(self):
        self.join()
        return None if self.process is None else self.process.wait()


class _Loader(threading.Thread):
    """Imports the compiled backend and loads one configuration's kernels from Numba's
    on-disk cache, in this process (:func:`load_kernels`); one per configuration and
    target (:func:`loader_for`).

    Attributes
    ----------
    finished : bool
        Set last, when the load has succeeded or failed.
    error : str or None
        Why it failed.
    seconds : float
        How long it took.
    """

    def __init__(self, config, target):
        super().__init__(name="fastnn-tiered-load", daemon=True)
        self.config, self.target = config, target
        self.finished = False
        self.error = None
        self.seconds = 0.0

    def run(self):
        started = time.perf_counter()
        try:
            load_kernels(self.config, self.target)
        except Exception as exc:  # noqa: BLE001 (any failure leaves the networks on NumPy)
            self.error = f"{type(exc).__name__}: {exc}"
        self.seconds = time.perf_counter() - started
        self.finished = True
        if self.error is None:
            _log().debug("tiered: %s kernels for %s loaded in %.2f s", self.config,
                         self.target, self.seconds)


def loader_for(config, target):
    """The thread that loads the compiled kernels of ``config`` (a configuration marked
    complete) into this process while its networks answer from NumPy.

    Started here when Numba is not imported yet (or is being imported by another loader);
    a failed load stays failed (its networks stay on NumPy). None where a network can go
    to ``target`` at once, as it did before loading threads: Numba was imported by
    something else (a network on ``backend="numba"``, the user), or this configuration's
    kernels are loaded already.

    Parameters
    ----------
    config : dict
        :func:`configuration` of the network.
    target : str
        ``"numba"`` or ``"numba_parallel"``.

    Returns
    -------
    _Loader or None
    """
    key = (json.dumps(config, sort_keys=True), target)
    with _LOADERS_LOCK:
        loader = _LOADERS.get(key)
        if loader is None:
            if _CUT_BY_FORK is None and _numba_imported() and not any(
                    not other.finished for other in _LOADERS.values()):
                return None
            loader = _LOADERS[key] = _Loader(config, target)
            if _CUT_BY_FORK is not None:  # Numba is half-imported here: never touch it
                loader.error, loader.finished = _CUT_BY_FORK, True
            else:
                loader.start()
        elif loader.finished and loader.error is None:
            return None
        return loader


def _numba_imported():
    """Whether Numba is imported in this process (a loader may be importing it)."""
    return "numba" in sys.modules


def load_kernels(config, target):
    """Import ``target`` and call the kernels a network of ``config`` calls first, once
    each, on a tiny input: Numba loads them from its on-disk cache (a miss compiles them).

    The model's bound fast path (``forward``; ``gradients`` and ``train_step`` share one
    kernel), ``loss``, and one epoch of the configuration's optimizer (the gradients of a
    full-batch solver). Other calls (weighted, sparse, backend-level batches) load their
    kernels at their first use, in the caller's thread.

    Parameters
    ----------
    config : dict
        :func:`configuration` of the networks.
    target : str
    """
    from fastnn.hyperparameters import TrainingOptions
    from fastnn.optimizers import FULL_BATCH_SOLVERS, make_optimizer
    from fastnn.params import parameter_count
    from fastnn.spec import NetworkSpec

    backend = registry.get(target)
    dtype = config["dtype"]
    spec = NetworkSpec.create([2, 2, 2], activation=config.get("hidden", "sigmoid"),
                              output_activation=config.get("output"),
                              loss=config.get("loss", "mse"), dtype=dtype)
    # The inputs of the worker's compile (fastnn/warmup.py): the same argument types.
    X = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], dtype=dtype)
    T = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=dtype)
    params = np.zeros(parameter_count(spec.layer_sizes), dtype=dtype)
    bound = backend.bind(spec, params)
    if bound:
        bound.forward(X)
        bound.gradients(X, T)
    backend.loss(spec, params, X, T)
    options = TrainingOptions(optimizer=config.get("optimizer") or TrainingOptions().optimizer,
                              epochs=1, batch_size=2)
    if options.optimizer in FULL_BATCH_SOLVERS:
        backend.gradients(spec, params, X, T)
    elif backend.runs_epochs:
        backend.train_epoch(spec, params.copy(), X, T, np.arange(3, dtype=np.int64), options,
                            make_optimizer(options, params.size, params.dtype))


def _stages_done(record):
    """The indices of the worker's stages a marker record says are compiled (the first one
    at least: a marker is written once it is)."""
    stages = record.get("stages")
    done = {STAGES.index(name) for name in stages if name in STAGES} \
        if isinstance(stages, dict) else set()
    return frozenset(done | {_NETWORK})


def _worker_failure(code, config):
    """The cause of a worker's exit status ``code``, with the last line of its log."""
    if code < 0:
        cause = f"the compile process was killed by signal {-code}"
    else:
        cause = f"the compile process exited with status {code}"
    last = ""
    with contextlib.suppress(OSError):
        lines = (cache_root() / f"{entry_name(config)}.log").read_text(
            encoding="utf-8", errors="replace").strip().splitlines()
        last = lines[-1] if lines else ""
    return f"{cause}: {last}" if last else cause


def _lock_held(config):
    """Whether a process holds the configuration's compile lock now."""
    import fcntl

    path = cache_root() / f"{entry_name(config)}.lock"
    try:
        handle = open(path, "a+b")  # noqa: SIM115
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def _worker_environment():
    """The worker's environment: this one, with the package this process imported first on
    the path (so that it compiles these sources into the same cache)."""
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parents[2])
    path = env.get("PYTHONPATH", "")
    if package_parent not in path.split(os.pathsep):
        env["PYTHONPATH"] = package_parent + (os.pathsep + path if path else "")
    return env


def _numba_version_source():
    """The text of Numba's ``_version.py`` (its version), found without importing Numba
    (``importlib.metadata`` would cost a tenth of a second)."""
    import importlib.util

    with contextlib.suppress(ImportError, ValueError, OSError, TypeError):
        spec = importlib.util.find_spec("numba")
        for location in spec.submodule_search_locations or ():
            return (Path(location) / "_version.py").read_bytes()
    return b"no numba"


def _log():
    import logging

    return logging.getLogger("fastnn.tiered")


def _cpu_flags():
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("flags"):
                    return hashlib.sha256(line.encode()).hexdigest()[:16]
    return ""


def _finish_loading_before_fork():
    """Before a fork: wait (at most FORK_WAIT seconds) for the loader threads, so that the
    child inherits Numba either not imported or imported with the kernels loaded, never
    half of it (a module import or LLVM's state locked by a thread the child has not)."""
    current = threading.current_thread()
    for loader in list(_LOADERS.values()):
        if loader is not current and loader.is_alive():
            loader.join(FORK_WAIT)


def _forget_workers_after_fork():
    """In a forked child: the parent's compile processes are not this process's children
    (nothing of them is inherited but the handle, which is dropped); the child watches
    the markers only. A loader thread still running at the fork (past FORK_WAIT) left
    Numba half-imported here: the child's networks stay on NumPy, with one warning."""
    global _CUT_BY_FORK, _LOADERS_LOCK

    for backend in list(_ALIVE):
        backend._worker = None
        backend._lock = threading.Lock()
    _LOADERS_LOCK = threading.Lock()
    for loader in list(_LOADERS.values()):
        if not loader.finished:
            _CUT_BY_FORK = ("the process forked while a thread of its parent was loading "
                            "Numba; Numba is not used in this process")
            loader.error, loader.finished = _CUT_BY_FORK, True


_STAMP = None
_SOURCES_STATE = None
_WARNED = set()
_ALIVE = weakref.WeakSet()
_ALIVE_LOCK = threading.Lock()
# (configuration as JSON, target) -> its _Loader, for the life of the process.
_LOADERS = {}
_LOADERS_LOCK = threading.Lock()
# Why Numba must not be used in this process (it forked amid a load), or None.
_CUT_BY_FORK = None
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_finish_loading_before_fork,
                        after_in_child=_forget_workers_after_fork)
