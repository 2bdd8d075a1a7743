"""Hand-worked numbers from the tutorials, on every backend."""

import numpy as np
import pytest
from conftest import BACKENDS

from fastnn import MLP
from fastnn.functions import softmax


def tutorial_a_network(backend):
    """Tutorial A's 3-3-1 example. The tutorial writes W as (out, in); fastnn uses (in, out)."""
    net = MLP([3, 3, 1], activation="sigmoid", loss="mse", backend=backend)
    W1 = np.array([[0.2, 0.2, 0.2], [0.4, 0.4, 0.4], [0.6, 0.6, 0.6]])
    W2 = np.array([[0.5, 0.5, 0.5]])
    net.set_params([W1.T, W2.T], [[0.8, 0.8, 0.8], [0.2]])
    return net


@pytest.mark.parametrize("backend", BACKENDS)
def test_tutorial_a_hidden_and_output(backend):
    net = tutorial_a_network(backend)
    x = np.array([1.5, 2.0, 3.0])
    # Hidden: sigmoid(0.8 + 6.5 * w) for w = 0.2, 0.4, 0.6, i.e. sigmoid(2.1, 3.4, 4.7).
    hidden = MLP([3, 3], activation="sigmoid", backend=backend)
    hidden.set_params(net.weights[:1], net.biases[:1])
    # The tutorial prints values truncated to 4 decimals (0.990987 shows as 0.9909).
    np.testing.assert_array_equal(_truncate4(hidden.forward(x)), [0.8909, 0.9677, 0.9909])
    output = net.forward(x)
    assert output.shape == (1,)
    assert _truncate4(output) == [0.8354]


@pytest.mark.parametrize("backend", BACKENDS)
def test_softmax_of_5_1_1(backend):
    net = MLP([3, 3], activation="identity", output_activation="softmax",
              loss="cross_entropy", backend=backend)
    net.set_params([np.eye(3)], [np.zeros(3)])
    expected = [0.96466316, 0.01766842, 0.01766842]
    np.testing.assert_allclose(net.forward([5.0, 1.0, 1.0]), expected, atol=5e-9)
    np.testing.assert_allclose(softmax(np.array([5.0, 1.0, 1.0])), expected, atol=5e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_sgd_step_worked_by_hand(backend):
    # 1-1 network, identity output, mse: y = w x + b, L = 0.5 (y - t)^2.
    # w = 2, b = 1, x = 3, t = 4: y = 7, dL/dy = 3, dL/dw = 9, dL/db = 3, L = 4.5.
    # After one step with lr 0.1: w = 2 - 0.9 = 1.1, b = 1 - 0.3 = 0.7.
    net = MLP([1, 1], output_activation="identity", loss="mse", backend=backend)
    net.set_params([[[2.0]]], [[1.0]])
    assert net.train_step([3.0], [4.0], 0.1) == pytest.approx(4.5)
    assert net.weights[0][0, 0] == pytest.approx(1.1)
    assert net.biases[0][0] == pytest.approx(0.7)


def _truncate4(values):
    return [np.floor(value * 1e4) / 1e4 for value in np.asarray(values)]
