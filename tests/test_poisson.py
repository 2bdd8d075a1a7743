"""The poisson loss and the exp output beyond the shared cross-checks (which cover every
pair with them, and their finite differences): scikit-learn's formula, the canonical
delta, the targets it accepts, and the overflow of exp."""

import numpy as np
import pytest
from conftest import BACKENDS, REFERENCE
from scipy.special import xlogy

from fastnn import MLP
from fastnn.functions import ACTIVATIONS, LOSSES
from fastnn.spec import NetworkSpec
from fastnn.testing import relative_difference


def _poisson_net(backend, rng, sizes=(3, 4, 2)):
    net = MLP(list(sizes), activation="tanh", loss="poisson", backend=backend, seed=0)
    X = rng.standard_normal((6, sizes[0]))
    T = rng.poisson(1.5, (6, sizes[-1])).astype(float)  # counts, zeros included
    return net, X, T


def test_table_entries():
    assert LOSSES["poisson"].default_output == "exp"
    assert not LOSSES["poisson"].classification
    assert LOSSES["poisson"].nonnegative_targets
    assert ACTIVATIONS["exp"].output and not ACTIVATIONS["exp"].hidden
    assert NetworkSpec.create([2, 1], loss="poisson").output_activation == "exp"
    with pytest.raises(ValueError, match="only allowed on the output layer"):
        MLP([2, 3, 1], activation="exp")


@pytest.mark.parametrize("backend", BACKENDS)
def test_loss_is_scikit_learns_half_poisson_deviance(backend, rng):
    from sklearn.neural_network._base import poisson_loss

    net, X, T = _poisson_net(backend, rng)
    Y = net.forward(X)
    # scikit-learn averages over samples and sums over outputs, as fastnn does.
    expected = poisson_loss(T, Y)
    assert relative_difference(net.loss(X, T), expected) <= 1e-12
    weights = rng.uniform(0, 2, X.shape[0])
    assert relative_difference(net.loss(X, T, sample_weight=weights),
                               poisson_loss(T, Y, sample_weight=weights)) <= 1e-12
    assert relative_difference(expected, np.mean(np.sum(xlogy(T, T / Y) - T + Y, axis=1))) < 1e-12


@pytest.mark.parametrize("backend", BACKENDS)
def test_exp_output_delta_is_y_minus_t(backend, rng):
    # With a single layer, dL/db is the mean over samples of the output delta.
    net = MLP([3, 2], loss="poisson", backend=backend, seed=1)
    X = rng.standard_normal((5, 3))
    T = rng.poisson(2.0, (5, 2)).astype(float)
    _, dweights, dbiases = net.gradients(X, T)
    delta = net.forward(X) - T
    assert relative_difference(dbiases[0], delta.mean(axis=0)) <= 1e-12
    assert relative_difference(dweights[0], X.T @ delta / 5) <= 1e-12


@pytest.mark.parametrize("backend", BACKENDS)
def test_negative_targets_are_refused_and_leave_the_network_unchanged(backend, rng):
    net, X, T = _poisson_net(backend, rng)
    before = net.flat_parameters.copy()
    T[2, 1] = -0.5
    for call in (net.loss, net.gradients, lambda X, T: net.train_step(X, T, 0.1)):
        with pytest.raises(ValueError, match="poisson loss needs non-negative targets"):
            call(X, T)
    np.testing.assert_array_equal(net.flat_parameters, before)


@pytest.mark.parametrize("backend", BACKENDS)
def test_exp_overflow_is_a_clean_error(backend):
    net = MLP([1, 1], loss="poisson", backend=backend)
    net.set_params([np.array([[1.0]])], [np.array([0.0])])
    X, T = np.array([[800.0]]), np.array([[1.0]])
    with np.errstate(over="ignore"):
        with pytest.raises(ValueError, match="not finite"):
            net.forward(X)
        with pytest.raises(ValueError, match="not finite"):
            net.loss(X, T)


@pytest.mark.parametrize("output_activation", ["relu", "identity", "tanh"])
def test_poisson_on_outputs_reaching_zero_clips_the_log_on_every_backend(output_activation):
    # y <= 0: log y is clipped at LOG_FLOOR (slope 0), so the gradient is that of y - t.
    net = MLP([2, 3], activation="identity", output_activation=output_activation,
              loss="poisson", backend=REFERENCE)
    net.set_params([np.zeros((2, 3))], [np.array([-0.5, -1.0, -2.0])])
    X = np.array([[0.3, -0.2], [1.0, 2.0]])
    T = np.array([[1.0, 0.0, 3.0], [0.0, 2.0, 1.0]])
    expected_loss, _, expected_b = net.gradients(X, T)
    assert np.isfinite(expected_loss)
    slope = 0.0 if output_activation == "relu" else 1.0  # dy/dz at the outputs
    if output_activation != "tanh":
        np.testing.assert_allclose(expected_b[0], slope)
    for backend in BACKENDS:
        loss_value, _, dbiases = net.with_backend(backend).gradients(X, T)
        assert relative_difference(loss_value, expected_loss) < 1e-12
        assert relative_difference(dbiases[0], expected_b[0]) < 1e-12


def test_a_poisson_network_saves_and_loads(tmp_path):
    net = MLP([3, 2], loss="poisson", backend="numpy", seed=2)
    net.save(tmp_path / "net.npz")
    loaded = MLP.load(tmp_path / "net.npz", backend="numpy")
    assert loaded.spec == net.spec and loaded.spec.output_activation == "exp"
    np.testing.assert_array_equal(loaded.flat_parameters, net.flat_parameters)
