"""Tutorial C's Keras comparison: Keras and fastnn train the same model, seed by seed.

For every seed the tutorial's Keras model (:mod:`fastnn.reproduce.keras_model`) trains
first, then the same network in fastnn, interleaved, both with every thread of the
process on one CPU (:func:`fastnn.bench.measure.one_cpu.one_cpu`) and fastnn's own pools
pinned to one thread by the caller. Both shuffle (Keras with its seed, fastnn with
``default_rng(seed)``), so the two runs of a seed see different batch orders and start
from different draws of the same initialisation: the accuracies are two samples of
the same distribution, compared as mean ± std over the seeds.

Times: Keras compiles its training step (XLA) during its first epoch, for every new
model; that compile is reported apart (first epoch minus the median epoch) and left
out of the training time, as fastnn's Numba compile is (a warm-up before the timings).

Without keras installed the comparison is :class:`KerasComparison` with ``missing`` set
to the message saying how to install it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from fastnn.bench.measure.one_cpu import CpuClock, one_cpu
from fastnn.reproduce import keras_model as km
from fastnn.reproduce.datasets import tutorial_c_digits

TUTORIAL_EPOCHS = 1000
INSTALL = 'pip install "fastnn[keras]"'


@dataclass(frozen=True)
class SideRun:
    """One seed's training run by Keras or by fastnn.

    Attributes
    ----------
    seed : int
    accuracy : float
        Test accuracy after the last epoch.
    train_seconds : float
        Wall time of training, compile left out.
    compile_seconds : float
        Keras: the first epoch's extra time (XLA compile); fastnn: 0 (warmed up before).
    cpu_per_wall : float
        Process CPU time over wall time while training (at most about 1 when pinned).
    final_loss : float
        Training loss of the last epoch.
    clipped : float
        Fraction of training images whose true-class probability is beyond Keras's
        clip (1 - 1e-7) at the end: no gradient from them in Keras's loss.
    """

    seed: int
    accuracy: float
    train_seconds: float
    compile_seconds: float
    cpu_per_wall: float
    final_loss: float
    clipped: float


@dataclass
class KerasComparison:
    """The comparison's runs, or why there are none.

    Attributes
    ----------
    epochs : int
    backend : str
        fastnn's backend.
    keras_runs, fastnn_runs : list of SideRun
    missing : str or None
        Set when keras could not be imported: the message, naming the install command.
    versions : dict
        keras, its backend and that backend's version.
    pinning : str
        How the threads were held to one CPU.
    batches_per_epoch : int
        Mini-batches of 32 in one pass over the training images.
    """

    epochs: int
    backend: str
    keras_runs: list = field(default_factory=list)
    fastnn_runs: list = field(default_factory=list)
    missing: str | None = None
    versions: dict = field(default_factory=dict)
    pinning: str = ""
    batches_per_epoch: int = 0

    @property
    def available(self):
        return self.missing is None


def compare(epochs, seeds, backend):
    """Train Keras's and fastnn's model for every seed, interleaved.

    Parameters
    ----------
    epochs : int
    seeds : sequence of int
    backend : str
        fastnn's backend.

    Returns
    -------
    KerasComparison
    """
    result = KerasComparison(epochs, backend)
    try:
        keras = km.import_keras()
    except ImportError as exc:
        result.missing = f"{exc}"
        return result
    result.versions = keras_versions(keras)
    split = tutorial_c_digits()
    data = _float32(split)
    result.batches_per_epoch = -(-data[0].shape[0] // km.BATCH_SIZE)
    with one_cpu() as how:
        result.pinning = how
        _warm_up_fastnn(data, backend)
        for seed in seeds:
            result.keras_runs.append(train_keras(keras, data, split, epochs, seed))
            result.fastnn_runs.append(train_fastnn(data, split, epochs, seed, backend))
    return result


def keras_versions(keras):
    """keras's version, its backend and the backend's version."""
    name = keras.backend.backend()
    versions = {"keras": keras.__version__, "keras_backend": name}
    try:
        versions[name] = __import__(name).__version__
    except (ImportError, AttributeError):
        pass
    return versions


def train_keras(keras, data, split, epochs, seed):
    """One run of the tutorial's Keras code (``fit(..., epochs)``, batch size 32, shuffled)."""
    X, T, X_test, _ = data
    model = km.keras_model(keras, seed, X.shape[1], T.shape[1])
    ends = _epoch_end_recorder(keras)
    with CpuClock() as clock:
        history = model.fit(X, T, epochs=epochs, batch_size=km.BATCH_SIZE, verbose=0,
                            callbacks=[ends])
    durations = np.diff([clock.started, *ends.times])
    compile_seconds = max(0.0, durations[0] - np.median(durations[1:])) \
        if len(durations) > 1 else 0.0
    return SideRun(seed, km.keras_accuracy(model, X_test, split.y_test),
                   float(clock.wall - compile_seconds), float(compile_seconds),
                   clock.cpu / clock.wall,
                   float(history.history["loss"][-1]),
                   km.clipped_fraction(model.predict(X, verbose=0), T))


def train_fastnn(data, split, epochs, seed, backend):
    """The same network in fastnn from ``default_rng(seed)``, Adam with Keras's defaults."""
    X, T, X_test, _ = data
    net = km.fastnn_model((X.shape[1], km.HIDDEN, T.shape[1]), backend, seed)
    with CpuClock() as clock:
        losses = km.fit_fastnn(net, X, T, epochs, seed=seed)
    accuracy = float(np.mean(net.predict(X_test) == split.y_test))
    return SideRun(seed, accuracy, clock.wall, 0.0, clock.cpu / clock.wall,
                   float(losses[-1]), km.clipped_fraction(net.forward(X), T))


def _warm_up_fastnn(data, backend):
    """Compile (or load) fastnn's kernels for this network outside the timings."""
    X, T, _, _ = data
    net = km.fastnn_model((X.shape[1], km.HIDDEN, T.shape[1]), backend, 0)
    km.fit_fastnn(net, X[:64], T[:64], 1, seed=0)
    net.predict(X[:2])


def _float32(split):
    """Training and test inputs and targets in float32, Keras's precision (fastnn's here)."""
    return tuple(np.array(a, dtype=np.float32) for a in
                 (split.X_train, split.T_train, split.X_test, split.T_test))


def _epoch_end_recorder(keras):
    """A Keras callback whose ``times`` lists ``time.perf_counter()`` at every epoch's end."""

    class EpochEnds(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter())

    return EpochEnds()
