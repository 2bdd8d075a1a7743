"""Tutorial C's Keras model: fastnn runs the same algorithm, and the comparison's plumbing.

The loss-curve test needs keras (the ``keras`` extra, in ``dev``); it is skipped only
where keras is not installed at all. Everything else runs without keras.
"""

import importlib.util
import os
import sys

import numpy as np
import pytest

from fastnn.bench.measure import one_cpu
from fastnn.reproduce import keras_model as km
from fastnn.reproduce import keras_row
from fastnn.reproduce.datasets import tutorial_c_digits
from fastnn.testing import relative_difference

HAS_KERAS = importlib.util.find_spec("keras") is not None

# Keras computes in float32 (unit roundoff 6e-8). fastnn runs in float32 too, but sums
# in another order, so the two differ by rounding that Adam's steps carry forward.
# Measured over these 20 steps: losses 7e-7 apart, parameters 7e-6 (norm-wise, per
# array). The bounds leave room for other BLAS orders: the losses within 1e-5 (still
# 1000 times smaller than the loss's fall, asserted too), the parameters within 1e-4
# (the project's float32 contract). A different Adam lands far outside: scikit-learn's
# epsilon 1e-8 instead of Keras's 1e-7 moves the parameters by 4e-3 (the control below).
LOSS_TOLERANCE = 1e-5
PARAMETER_TOLERANCE = 1e-4


@pytest.mark.skipif(not HAS_KERAS, reason='keras is not installed (pip install "fastnn[keras]")')
def test_fastnn_follows_keras_loss_curve_from_keras_weights_and_batch_order():
    keras = km.import_keras()  # installed, so it must import (on jax unless the user chose)
    split = tutorial_c_digits()
    X = np.array(split.X_train[:160], dtype=np.float32)  # 5 batches of 32
    T = np.array(split.T_train[:160], dtype=np.float32)
    model = km.keras_model(keras, 0, X.shape[1], T.shape[1])
    weights, biases = km.keras_parameters(model)
    keras_loss = km.fit_keras(model, X, T, epochs=4, shuffle=False)

    net = _fastnn_from(weights, biases)
    fastnn_loss = km.fit_fastnn(net, X, T, epochs=4, shuffle=False)

    assert keras_loss[0] / keras_loss[-1] > 1.01  # the curve moves: 20 Adam steps of 1e-3
    np.testing.assert_allclose(fastnn_loss, keras_loss, rtol=LOSS_TOLERANCE)
    keras_params = sum(km.keras_parameters(model), [])
    assert _largest_difference(net, keras_params) < PARAMETER_TOLERANCE
    # Control: scikit-learn's Adam epsilon (fastnn's default, 1e-8) is told apart.
    other = _fastnn_from(weights, biases)
    other.fit(X, T, epochs=4, batch_size=km.BATCH_SIZE, optimizer="adam", alpha=0.0,
              shuffle=False, **dict(km.ADAM, epsilon=1e-8))
    assert _largest_difference(other, keras_params) > 10 * PARAMETER_TOLERANCE


def _fastnn_from(weights, biases):
    net = km.fastnn_model((64, km.HIDDEN, 10), "numpy", dtype="float32")
    return net.set_params(weights, biases)


def _largest_difference(net, keras_params):
    return max(relative_difference(ours, theirs)
               for ours, theirs in zip(net.weights + net.biases, keras_params))


def test_keras_is_imported_on_jax_unless_the_user_chose(monkeypatch):
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    monkeypatch.setattr(km, "import_optional", lambda name, **kw: os.environ[km.KERAS_BACKEND])
    monkeypatch.delenv(km.KERAS_BACKEND, raising=False)
    assert km.import_keras() == "jax"
    monkeypatch.setenv(km.KERAS_BACKEND, "torch")
    assert km.import_keras() == "torch"


def test_without_keras_the_row_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras", None)  # import keras -> ImportError
    comparison = keras_row.compare(2, (0,), "numpy")
    assert not comparison.available and comparison.keras_runs == []
    assert 'pip install "fastnn[keras]"' in comparison.missing


def test_clipped_fraction_counts_rows_beyond_keras_clip():
    T = np.eye(3)[[0, 1, 2, 0]]
    p = np.array([[1.0, 0, 0], [0, 1 - 1e-8, 1e-8], [0.5, 0, 0.5], [1 - 1e-6, 1e-6, 0]])
    assert km.clipped_fraction(p, T) == 0.5


def test_glorot_uniform_has_keras_limits_and_zero_biases():
    weights, biases = km.glorot_uniform(np.random.default_rng(0), (64, 64, 10))
    for W, (n_in, n_out) in zip(weights, ((64, 64), (64, 10))):
        limit = np.sqrt(6.0 / (n_in + n_out))
        assert W.shape == (n_in, n_out) and W.dtype == np.float32
        assert np.abs(W).max() <= limit and np.abs(W).max() > 0.9 * limit
    assert all(not b.any() for b in biases)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no sched_setaffinity")
def test_one_cpu_pins_every_thread_and_restores():
    before = os.sched_getaffinity(0)
    with one_cpu.one_cpu() as how:
        assert os.sched_getaffinity(0) == {min(before)}
        assert "pinned" in how
    assert os.sched_getaffinity(0) == before
