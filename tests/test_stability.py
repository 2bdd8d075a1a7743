"""Numerically stable maths, identical on every backend: saturation, huge inputs, no log(0)."""

import warnings

import numpy as np
import pytest
from conftest import BACKENDS

from fastnn import MLP


def _single_layer(backend, output_activation, loss, bias):
    """A 1-input network whose output pre-activation is ``bias`` (the weight is 0)."""
    bias = np.asarray(bias, dtype=float)
    net = MLP([1, bias.size], activation="identity", output_activation=output_activation,
              loss=loss, backend=backend)
    net.set_params([np.zeros((1, bias.size))], [bias])
    return net


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("z", [-1000.0, -745.0, -50.0, 50.0, 745.0, 1000.0])
def test_sigmoid_saturates_without_warnings(backend, z):
    net = _single_layer(backend, "sigmoid", "mse", [z])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = net.forward([0.0])
    assert np.isfinite(y).all() and 0.0 <= y[0] <= 1.0
    assert y[0] == (1.0 if z > 0 else pytest.approx(np.exp(z), rel=1e-12, abs=1e-300))


@pytest.mark.parametrize("backend", BACKENDS)
def test_softmax_of_huge_logits_is_exact(backend):
    net = _single_layer(backend, "softmax", "cross_entropy", [1000.0, 0.0, -1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = net.forward([0.0])
        loss, _, dbiases = net.gradients([0.0], [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(y, [1.0, 0.0, 0.0])
    # -log softmax(z)_1 = logsumexp(z) - z_1 = 1000 exactly in float64.
    assert loss == 1000.0
    np.testing.assert_array_equal(dbiases[0], [1.0, -1.0, 0.0])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("z,t,expected_loss", [
    (-800.0, 1.0, 800.0),   # log sigmoid(-800) = -800: no log(0)
    (800.0, 0.0, 800.0),    # log(1 - sigmoid(800)) = -800
    (40.0, 1.0, np.log1p(np.exp(-40.0))),
])
def test_sigmoid_binary_cross_entropy_at_saturation(backend, z, t, expected_loss):
    net = _single_layer(backend, "sigmoid", "binary_cross_entropy", [z])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, _, dbiases = net.gradients([0.0], [t])
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    # dL/dz = y - t, computed without cancellation.
    y = 1.0 / (1.0 + np.exp(-z)) if z >= 0 else np.exp(z) / (1.0 + np.exp(z))
    assert dbiases[0][0] == pytest.approx(y - t, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("output_activation", ["tanh", "relu", "softplus", "silu", "identity",
                                               "softmax"])
def test_log_losses_never_take_log_of_zero(backend, output_activation):
    # Outputs of exactly 0 and 1: the clip keeps the loss finite.
    net = _single_layer(backend, output_activation, "binary_cross_entropy",
                        [-1000.0, 1000.0] if output_activation == "softmax" else [0.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dweights, dbiases = net.gradients([0.0], [1.0, 0.0])
    assert np.isfinite(loss)
    assert np.isfinite(dbiases[0]).all() and np.isfinite(dweights[0]).all()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu", "elu",
                                        "softplus", "silu", "identity"])
@pytest.mark.parametrize("magnitude", [1e10, 1e100, 1e300])
def test_huge_inputs_give_finite_outputs_or_a_clear_error(backend, activation, magnitude):
    net = MLP([3, 4, 2], activation=activation, loss="cross_entropy", backend=backend, seed=0)
    X = np.array([[magnitude, -magnitude, magnitude], [1.0, 2.0, -magnitude]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy may warn on overflow
        try:
            Y = net.forward(X)
        except ValueError as error:
            assert "not finite" in str(error)
        else:
            assert np.isfinite(Y).all()
            np.testing.assert_allclose(Y.sum(axis=1), 1.0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("activation", ["softplus", "silu"])
@pytest.mark.parametrize("loss", ["mse", "binary_cross_entropy"])
@pytest.mark.parametrize("z", [-1000.0, 1000.0])
def test_softplus_and_silu_at_huge_pre_activations(backend, activation, loss, z):
    # softplus(z) = max(z, 0) + log1p(exp(-|z|)) never overflows; silu = z * sigmoid(z).
    # On both the output and a hidden layer: no warning, finite values and gradients.
    net = _single_layer(backend, activation, loss, [z, -z])
    hidden = MLP([1, 2, 1], activation=activation, output_activation="sigmoid", loss=loss,
                 backend=backend)
    hidden.set_params([np.zeros((1, 2)), np.ones((2, 1))], [np.array([z, -z]), np.zeros(1)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = net.forward([0.0])
        losses = [net.gradients([0.0], [0.5, 0.5]), hidden.gradients([0.0], [0.5])]
        y_hidden = hidden.forward([0.0])
    # Both saturate to max(z, 0) exactly at |z| = 1000.
    np.testing.assert_array_equal(y, [max(z, 0.0), max(-z, 0.0)])
    assert np.isfinite(y_hidden).all()
    for loss_value, dweights, dbiases in losses:
        assert np.isfinite(loss_value)
        assert all(np.isfinite(d).all() for d in dweights + dbiases)
