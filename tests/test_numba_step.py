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
@pytest.mark.parametrize("rows", [1, 3])
@pytest.mark.parametrize("sizes", [[6, 5, 3], [70, 64, 3]])  # the first layer's weight
# gradient at one row: in the loops (30 weights), through BLAS (4480)
def test_the_step_is_the_two_pass_step_bit_for_bit(sizes, rows, dtype):
    net = MLP(sizes, backend="numba", dtype=dtype, seed=1)
    X, T = _case(sizes, rows, dtype)
    loss, expected = _two_pass_step(net, X, T, RATE)
    assert expected.dtype == np.dtype(dtype)

    assert net.train_step(X, T, RATE) == loss
    assert np.array_equal(net.flat_parameters, expected)

    # The backend's unchecked kernel (the model's checked path and training use it).
    backend = numba_backend.NumbaBackend()
    params = net.flat_parameters.copy()
    _, expected = _two_pass_step(net, X, T, RATE)
    backend.train_step(net.spec, params, X, T, RATE)
    assert np.array_equal(params, expected)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_one_row_step_beside_the_largest_float_takes_the_exact_test(dtype):
    # The first weight is the dtype's largest value and its input 0: its gradient is 0,
    # the step keeps it finite, but no bound proves that, so the exact test decides.
    largest = np.finfo(dtype).max
    net = _with_first_weights(MLP([4, 3, 2], backend="numba", dtype=dtype, seed=2),
                              {(0, 0): largest})
    X, T = _case([4, 3, 2], 1, dtype, seed=3)
    X[0, 0] = 0.0
    loss, expected = _two_pass_step(net, X, T, RATE)
    assert np.isfinite(expected).all() and expected[0] == largest

    assert net.train_step(X, T, RATE) == loss
    assert np.array_equal(net.flat_parameters, expected)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_one_row_step_that_overflows_a_first_layer_weight_changes_nothing(dtype):
    # Two first-layer weights of opposite sign a millionth below the largest float cancel
    # in the unit's input (inputs 1 and 1), so the unit's delta is ordinary and both
    # weights get the same gradient: a step of this size pushes one of them past it.
    largest = float(np.finfo(dtype).max)
    net = _with_first_weights(MLP([4, 3, 2], backend="numba", dtype=dtype, seed=4),
                              {(0, 0): -(1 - 1e-6) * largest,
                               (1, 0): (1 - 1e-6) * largest})
    X, T = _case([4, 3, 2], 1, dtype, seed=5)
    X[0, :2] = 1.0
    grad = _flat_gradient(net, X, T)
    assert grad[0] == grad[3] != 0.0  # weights (0, 0) and (1, 0) of a 4 x 3 layer
    rate = 2e-6 * largest / abs(float(grad[0]))
    before = net.flat_parameters.copy()

    with pytest.raises(ValueError, match="updated parameters"):
        net.train_step(X, T, rate)
    assert np.array_equal(net.flat_parameters, before)
