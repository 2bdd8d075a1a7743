"""The Numba kernels' training step (fastnn/backends/_numba_step.py): the update in the
network's precision, the one-row step that applies the first layer's gradient without
forming it, and its exact fallback near the largest float."""

import numpy as np
import pytest

from fastnn import MLP
from fastnn.backends import numba_backend

RATE = 0.37


def _case(sizes, rows, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (rows, sizes[0])).astype(dtype)
    T = rng.uniform(0.0, 1.0, (rows, sizes[-1])).astype(dtype)
    return X, T


def _two_pass_step(net, X, T, rate):
    """The loss and the new parameters of the step formed the long way: the gradient,
    then NumPy's ``params - rate * grad`` (in the parameters' dtype, NEP 50)."""
    return net.gradients(X, T)[0], net.flat_parameters - rate * _flat_gradient(net, X, T)


def _flat_gradient(net, X, T):
    """The gradient as one buffer in the parameters' layout (each layer's W, then b)."""
    _, dweights, dbiases = net.gradients(X, T)
    return np.concatenate([part for dW, db in zip(dweights, dbiases)
                           for part in (dW.ravel(), db)])


def _with_first_weights(net, values):
    """``net`` with the first layer's weights at ``values`` ({(i, j): value})."""
    weights, biases = [w.copy() for w in net.weights], net.biases
    for (i, j), value in values.items():
        weights[0][i, j] = value
    net.set_params(weights, biases)
    return net


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sizes", [[6, 5, 3], [70, 64, 3]])  # the first layer's weight
# gradient in the loops (30 weights), through BLAS (4480)
def test_a_one_row_step_is_the_two_pass_step_bit_for_bit(sizes, dtype):
    net = MLP(sizes, backend="numba", dtype=dtype, seed=1)
    X, T = _case(sizes, 1, dtype)
    for step in _steps(net, X, T):
        loss, params, expected_loss, expected = step()
        assert loss == expected_loss
        assert np.array_equal(params, expected)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sizes", [[6, 5, 3], [70, 64, 3]])
def test_a_batch_step_is_the_two_pass_step_to_the_last_rounding(sizes, dtype):
    # Three rows: [6, 5, 3] forms the gradient in loops and steps in two passes;
    # [70, 64, 3] adds the first layer's product to the weights with gemm (beta = 1),
    # which rounds the weight and the product's term once together.
    net = MLP(sizes, backend="numba", dtype=dtype, seed=1)
    X, T = _case(sizes, 3, dtype)
    eps = np.finfo(dtype).eps
    for step in _steps(net, X, T):
        old = net.flat_parameters.copy()
        loss, params, expected_loss, expected = step()
        assert loss == expected_loss
        assert np.all(np.abs(params - expected) <= 4 * eps * (np.abs(old)
                                                               + np.abs(old - expected)))


def _steps(net, X, T):
    """The model's checked step and the backend's unchecked kernel, each as a call giving
    ``(loss, new params, the two-pass loss, the two-pass params)`` from the same start."""
    def model_step():
        expected_loss, expected = _two_pass_step(net, X, T, RATE)
        return net.train_step(X, T, RATE), net.flat_parameters, expected_loss, expected

    def backend_step():  # the model's checked path and training use it
        params = net.flat_parameters.copy()
        expected_loss, expected = _two_pass_step(net, X, T, RATE)
        loss = numba_backend.NumbaBackend().train_step(net.spec, params, X, T, RATE)
        return loss, params, expected_loss, expected

    return model_step, backend_step


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sizes, rows", [([4, 3, 2], 1), ([70, 64, 2], 3)])
def test_a_step_beside_the_largest_float_takes_the_exact_test(sizes, rows, dtype):
    # The first weight is the dtype's largest value and its input 0: its gradient is 0,
    # the step keeps it finite, but no bound proves that, so the exact test decides.
    largest = np.finfo(dtype).max
    net = _with_first_weights(MLP(sizes, backend="numba", dtype=dtype, seed=2),
                              {(0, 0): largest})
    X, T = _case(sizes, rows, dtype, seed=3)
    X[:, 0] = 0.0
    loss, expected = _two_pass_step(net, X, T, RATE)
    assert np.isfinite(expected).all() and expected[0] == largest

    assert net.train_step(X, T, RATE) == loss
    assert np.array_equal(net.flat_parameters, expected)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sizes, rows", [([4, 3, 2], 1), ([70, 64, 2], 3)])
def test_a_step_that_overflows_a_first_layer_weight_changes_nothing(sizes, rows, dtype):
    # Two first-layer weights of opposite sign a millionth below the largest float cancel
    # in the unit's input (inputs 1 and 1), so the unit's delta is ordinary and both
    # weights get the same gradient: a step of this size pushes one of them past it.
    largest = float(np.finfo(dtype).max)
    net = _with_first_weights(MLP(sizes, backend="numba", dtype=dtype, seed=4),
                              {(0, 0): -(1 - 1e-6) * largest,
                               (1, 0): (1 - 1e-6) * largest})
    X, T = _case(sizes, rows, dtype, seed=5)
    X[:, :2] = 1.0
    grad = _flat_gradient(net, X, T)
    n_out = sizes[1]
    assert grad[0] == grad[n_out] != 0.0  # weights (0, 0) and (1, 0)
    rate = 2e-6 * largest / abs(float(grad[0]))
    before = net.flat_parameters.copy()

    with pytest.raises(ValueError, match="updated parameters"):
        net.train_step(X, T, rate)
    assert np.array_equal(net.flat_parameters, before)
