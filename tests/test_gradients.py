"""Central finite differences against ``gradients``: every activation x loss pair and backend."""

import numpy as np
import pytest
from conftest import BACKENDS, COMBINATIONS, FAST_BACKENDS, REFERENCE

from fastnn import MLP
from fastnn.params import flatten
from fastnn.testing import numerical_gradients, random_case, relative_difference


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("combination", COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
def test_gradients_match_finite_differences(combination, backend):
    index = COMBINATIONS.index(combination)
    rng = np.random.default_rng(500 + index)
    spec, params, X, T = random_case(rng, *combination, max_depth=3, max_width=6, max_batch=5)
    net = MLP.from_spec(spec, params, backend)
    _, dweights, dbiases = net.gradients(X, T)
    analytic = flatten(dweights, dbiases)
    numeric = numerical_gradients(spec, params, X, T, backend=backend)
    assert relative_difference(analytic, numeric) < 1e-6


@pytest.mark.parametrize("output_activation", ["tanh", "relu", "identity"])
@pytest.mark.parametrize("loss", ["cross_entropy", "binary_cross_entropy"])
def test_clipped_log_region_has_zero_slope_on_every_backend(output_activation, loss):
    # Outputs <= 0: log(y) is clipped at LOG_FLOOR, so only the (1 - t) log(1 - y) term
    # (binary cross-entropy) can move the loss; every backend must agree, finite.
    net = MLP([2, 3], activation="identity", output_activation=output_activation, loss=loss,
              backend=REFERENCE)
    net.set_params([np.zeros((2, 3))], [np.array([-0.5, -1.0, -2.0])])
    X = np.array([[0.3, -0.2], [1.0, 2.0]])
    T = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    expected_loss, expected_w, expected_b = net.gradients(X, T)
    assert np.isfinite(expected_loss)
    if loss == "cross_entropy":
        assert np.all(expected_b[0] == 0)
    for backend in FAST_BACKENDS:  # the reference's own numbers are checked above
        loss_value, dweights, dbiases = net.with_backend(backend).gradients(X, T)
        assert relative_difference(loss_value, expected_loss) < 1e-12
        assert relative_difference(dbiases[0], expected_b[0]) < 1e-12
        assert relative_difference(dweights[0], expected_w[0]) < 1e-12
