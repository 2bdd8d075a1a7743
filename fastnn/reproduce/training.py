"""Table 2: the tutorials' training experiments, with fastnn's true gradients.

Tutorial A: digits, 64-30-10, sigmoid, mse, U[0, 1) init, alpha 0.25, 3000 passes.
Tutorial B: three Gaussian clouds, 2-5-3, sigmoid + softmax, cross-entropy, 10 000 epochs.
Tutorial C: digits, 64-64-10, sigmoid + softmax, cross-entropy, lr 0.1, 1000 epochs.

Every run is full-batch gradient descent on fastnn's mean loss through the backend
interface (``train_step``), which is exactly the tutorials' update (see the notes on
each experiment). The networks start from ``default_rng(seed)``; the seeds are listed
in the report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fastnn import backends
from fastnn.params import init_params
from fastnn.reproduce.datasets import Split, gaussian_clouds, tutorial_a_digits, tutorial_c_digits
from fastnn.spec import NetworkSpec


@dataclass(frozen=True)
class Experiment:
    """One of the tutorials' training set-ups.

    Attributes
    ----------
    key : str
        ``"A"``, ``"B"`` or ``"C"``.
    title : str
    spec : NetworkSpec
    init : str
        fastnn init scheme.
    learning_rate : float
        On fastnn's mean loss.
    epochs : int
    data : callable
        ``data(seed) -> Split``.
    accuracy_on : {"test", "train"}
        Which part the accuracy is measured on (tutorial B reports it on its training data).
    record_test_loss : bool
    tutorial_accuracy : float or None
        The tutorial's figure (a fraction), None if it gives none.
    """

    key: str
    title: str
    spec: NetworkSpec
    init: str
    learning_rate: float
    epochs: int
    data: object
    accuracy_on: str
    record_test_loss: bool
    tutorial_accuracy: float | None


@dataclass(frozen=True)
class RunResult:
    """One training run.

    Attributes
    ----------
    seed : int
    backend : str
    train_loss : ndarray, shape (epochs,)
        Mean training loss before each step.
    test_loss : ndarray, shape (epochs,) or None
        Mean test loss before each step (tutorial C records it).
    accuracy : float
        On the experiment's ``accuracy_on`` part, after the last step.
    final_train_loss : float
        After the last step.
    """

    seed: int
    backend: str
    train_loss: np.ndarray
    test_loss: np.ndarray | None
    accuracy: float
    final_train_loss: float


def experiments(settings):
    """The three experiments, with the training lengths of ``settings``.

    Returns
    -------
    list of Experiment
    """
    return [
        Experiment(
            "A", "Tutorial A: digits, 64-30-10, sigmoid, mse",
            NetworkSpec.create([64, 30, 10], "sigmoid", "sigmoid", "mse"), "uniform01", 0.25,
            settings.passes_a, tutorial_a_digits, "test", False, 0.86),
        Experiment(
            # The tutorial's 1e-5 on the summed gradient of 1500 points is 0.015 on the mean.
            "B", "Tutorial B: three Gaussian clouds, 2-5-3, sigmoid + softmax",
            NetworkSpec.create([2, 5, 3], "sigmoid", "softmax", "cross_entropy"), "normal",
            1e-5 * 1500, settings.epochs_b, _clouds_split, "train", False, 0.97),
        Experiment(
            # Tutorial C does not state its initialisation; Glorot is fastnn's sigmoid default.
            "C", "Tutorial C: digits, 64-64-10, sigmoid + softmax, cross-entropy",
            NetworkSpec.create([64, 64, 10], "sigmoid", "softmax", "cross_entropy"), "xavier",
            0.1, settings.epochs_c, lambda seed: tutorial_c_digits(), "test", True, None),
    ]


def train(experiment, seed, backend_name, epochs=None):
    """Train one network from ``default_rng(seed)`` by full-batch gradient descent.

    Parameters
    ----------
    experiment : Experiment
    seed : int
    backend_name : str
    epochs : int or None
        Defaults to ``experiment.epochs``.

    Returns
    -------
    RunResult
    """
    epochs = experiment.epochs if epochs is None else epochs
    spec, backend = experiment.spec, backends.get(backend_name)
    split = experiment.data(seed)
    X, T = writable(split.X_train), writable(split.T_train)
    X_test, T_test = writable(split.X_test), writable(split.T_test)
    params = init_params(spec, experiment.init, seed)
    backend.prepare(spec)
    train_loss = np.empty(epochs)
    test_loss = np.empty(epochs) if experiment.record_test_loss else None
    for epoch in range(epochs):
        if test_loss is not None:
            test_loss[epoch] = backend.loss(spec, params, X_test, T_test)
        train_loss[epoch] = backend.train_step(spec, params, X, T, experiment.learning_rate)
    if not np.isfinite(params).all():
        raise RuntimeError(f"tutorial {experiment.key}, seed {seed}: training diverged")
    return RunResult(seed, backend.name, train_loss, test_loss,
                     accuracy(backend, spec, params, split, experiment.accuracy_on),
                     backend.loss(spec, params, X, T))


def accuracy(backend, spec, params, split, part="test"):
    """Fraction of ``part`` ("test" or "train") classified correctly (argmax of the output)."""
    X, y = (split.X_test, split.y_test) if part == "test" else (split.X_train, split.y_train)
    predicted = np.argmax(backend.forward(spec, params, writable(X)), axis=1)
    return float(np.mean(predicted == y))


def per_sample_pass(backend, spec, params, X, T, learning_rate):
    """Tutorial A's training pass: per-sample forward and backprop, accumulated, one update.

    The tutorial's cost is ``(1/m) sum 1/2 ||y - h||^2`` and its update
    ``W -= alpha * (1/m) * sum of per-sample gradients``: the same step as one
    ``train_step`` on the whole batch, computed sample by sample in a Python loop.

    Parameters
    ----------
    backend : Backend
    spec : NetworkSpec
    params : ndarray, shape (n_params,)
        Updated in place.
    X : ndarray, shape (m, n_inputs)
    T : ndarray, shape (m, n_outputs)
    learning_rate : float
    """
    m = X.shape[0]
    total = np.zeros_like(params)
    for i in range(m):
        _, grad = backend.gradients(spec, params, X[i:i + 1], T[i:i + 1])
        total += grad
    params -= learning_rate * (total / m)


def writable(array):
    """A writable C-contiguous float64 copy (the cached data sets are read-only)."""
    return np.array(array, dtype=np.float64, order="C")


def _clouds_split(seed):
    """Tutorial B trains and scores on the same 1500 points; ``seed`` does not change them."""
    X, T, y = gaussian_clouds()
    return Split(X, X, T, T, y, y)
