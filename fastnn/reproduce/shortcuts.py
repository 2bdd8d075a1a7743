"""Tutorial C's two gradient shortcuts against fastnn's true gradients.

Tutorial C trains its sigmoid-output network with an output delta that is the
derivative with respect to the activation, not the pre-activation (see
:func:`~fastnn.reproduce.tutorial_code.shortcut_output_delta`). Its categorical
cross-entropy + softmax path is right; the mse and log_loss (binary cross-entropy)
paths are not. This module shows what that does: on one batch, both gradients against
central finite differences of the loss; over a whole run of tutorial C's set-up
(64-64-10, lr 0.1), the loss and accuracy each gradient reaches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fastnn import backends
from fastnn.params import init_params
from fastnn.reproduce.datasets import tutorial_c_digits
from fastnn.reproduce.training import Experiment, RunResult, accuracy, train, writable
from fastnn.reproduce.tutorial_code import shortcut_gradients
from fastnn.spec import NetworkSpec
from fastnn.testing import numerical_gradients, relative_difference

SHORTCUT_LOSSES = ("mse", "binary_cross_entropy")
GRADIENT_CHECK_SAMPLES = 20
LEARNING_RATE = 0.1


@dataclass(frozen=True)
class GradientCheck:
    """Relative differences from finite differences on one batch.

    Attributes
    ----------
    loss : str
    true_error : float
        fastnn's gradient against finite differences.
    shortcut_error : float
        Tutorial C's gradient against finite differences.
    """

    loss: str
    true_error: float
    shortcut_error: float


def sigmoid_output_experiment(loss, epochs):
    """Tutorial C's set-up with a sigmoid output and ``loss``; returns an Experiment."""
    spec = NetworkSpec.create([64, 64, 10], "sigmoid", "sigmoid", loss)
    return Experiment("C", f"Tutorial C, sigmoid output, {loss}", spec, "xavier", LEARNING_RATE,
                      epochs, lambda seed: tutorial_c_digits(), "test", True, None)


def gradient_checks(backend_name=None):
    """Both gradients on tutorial C's first 20 training images, against finite differences.

    ``backend_name`` computes the true gradient (default: the vectorised reference,
    :func:`fastnn.backends.reference_backend` without time-limited backends).

    Returns
    -------
    list of GradientCheck
    """
    split = tutorial_c_digits()
    X = writable(split.X_train[:GRADIENT_CHECK_SAMPLES])
    T = writable(split.T_train[:GRADIENT_CHECK_SAMPLES])
    vectorised = backends.reference_backend(time_limited_ok=False)
    backend_name = backend_name or vectorised
    checks = []
    for loss in SHORTCUT_LOSSES:
        experiment = sigmoid_output_experiment(loss, 1)
        spec = experiment.spec
        params = init_params(spec, experiment.init, 0)
        numerical = numerical_gradients(spec, params, X, T, backend=vectorised)
        _, true = backends.get(backend_name).gradients(spec, params, X, T)
        shortcut = shortcut_gradients(spec, params, X, T)
        checks.append(GradientCheck(loss, relative_difference(true, numerical),
                                    relative_difference(shortcut, numerical)))
    return checks


def train_with_shortcut(experiment, seed):
    """Train like :func:`fastnn.reproduce.training.train`, stepping along tutorial C's gradient.

    The recorded losses are the true losses (fastnn's definition), so the two runs are
    compared on the quantity both claim to minimise.

    Returns
    -------
    RunResult
        ``backend`` is ``"tutorial C shortcut (<backend>)"``, on the vectorised reference.
    """
    spec = experiment.spec
    vectorised_backend = backends.get(backends.reference_backend(time_limited_ok=False))
    split = experiment.data(seed)
    X, T = writable(split.X_train), writable(split.T_train)
    X_test, T_test = writable(split.X_test), writable(split.T_test)
    params = init_params(spec, experiment.init, seed)
    train_loss = np.empty(experiment.epochs)
    test_loss = np.empty(experiment.epochs)
    for epoch in range(experiment.epochs):
        test_loss[epoch] = vectorised_backend.loss(spec, params, X_test, T_test)
        train_loss[epoch] = vectorised_backend.loss(spec, params, X, T)
        params -= experiment.learning_rate * shortcut_gradients(spec, params, X, T)
    return RunResult(seed, f"tutorial C shortcut ({vectorised_backend.name})", train_loss,
                     test_loss, accuracy(vectorised_backend, spec, params, split, "test"),
                     vectorised_backend.loss(spec, params, X, T))


def compare_training(epochs, seeds, backend_name):
    """Per shortcut loss, runs with the true gradient and with tutorial C's.

    Returns
    -------
    dict of str -> (list of RunResult, list of RunResult)
        ``loss -> (true-gradient runs, shortcut runs)``, one run per seed.
    """
    comparison = {}
    for loss in SHORTCUT_LOSSES:
        experiment = sigmoid_output_experiment(loss, epochs)
        comparison[loss] = ([train(experiment, seed, backend_name) for seed in seeds],
                            [train_with_shortcut(experiment, seed) for seed in seeds])
    return comparison
