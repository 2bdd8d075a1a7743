"""The tutorials' own code, written as the tutorials write it, for side-by-side runs.

Nothing here is fastnn's implementation: these functions are the reference points
(tutorial A's element-indexed loops, its vectorised forward, the two 1-D gradient
descents) and the foil (tutorial C's gradient shortcuts) that the report measures
fastnn against. Weight matrices are in the tutorials' ``(n_out, n_in)`` layout.
"""

from __future__ import annotations

import numpy as np


def tutorial_sigmoid(x):
    """Tutorial A's activation, ``1 / (1 + exp(-x))``, as it wrote it."""
    return 1 / (1 + np.exp(-x))


def looped_forward(n_layers, x, w, b):
    """Tutorial A's looped feed-forward: element-indexed loops over NumPy arrays.

    Parameters
    ----------
    n_layers : int
        Number of layers including the input layer (3 for a 3-3-1 network).
    x : ndarray, shape (n_inputs,)
    w : list of ndarray, shapes (n_out, n_in)
    b : list of ndarray, shapes (n_out,)

    Returns
    -------
    ndarray, shape (n_outputs,)
    """
    for layer in range(n_layers - 1):
        if layer == 0:
            node_in = x
        else:
            node_in = h  # noqa: F821 - the previous layer's output, as the tutorial wrote it
        h = np.zeros((w[layer].shape[0],))
        for i in range(w[layer].shape[0]):
            f_sum = 0
            for j in range(w[layer].shape[1]):
                f_sum += w[layer][i][j] * node_in[j]
            f_sum += b[layer][i]
            h[i] = tutorial_sigmoid(f_sum)
    return h


def vectorised_forward(n_layers, x, w, b):
    """Tutorial A's vectorised feed-forward, ``z = W.dot(h) + b`` per layer.

    Same parameters and result as :func:`looped_forward`.
    """
    h = x
    for layer in range(n_layers - 1):
        z = w[layer].dot(h) + b[layer]
        h = tutorial_sigmoid(z)
    return h


def descend_quartic(start=6.0, step=0.01, precision=1e-5):
    """Tutorial A's 1-D gradient descent on ``f(x) = x**4 - 3 x**3 + 2``.

    Returns
    -------
    x : float
        Where the steps fell below ``precision`` (the tutorial prints 2.249965).
    steps : int
    """
    def derivative(x):
        return 4 * x ** 3 - 9 * x ** 2

    x_old, x_new = 0.0, start
    steps = 0
    while abs(x_new - x_old) > precision:
        x_old = x_new
        x_new += -step * derivative(x_old)
        steps += 1
    return x_new, steps


def descend_sum_of_squares(step=0.01, n_steps=1000):
    """Tutorial B's gradient descent on ``f(x) = sum(x**2)`` from ``seed(0); rand(2, 1)``.

    The legacy ``RandomState(0)`` recreates the tutorial's starting point exactly.

    Returns
    -------
    x : ndarray, shape (2, 1)
    f : float
        ``sum(x**2)`` at the end (the tutorial shows about 2.3e-18).
    """
    x = np.random.RandomState(0).rand(2, 1)
    for _ in range(n_steps):
        x = x - step * 2 * x
    return x, float(np.sum(x ** 2))


def shortcut_output_delta(loss, Y, T):
    """Tutorial C's output delta: the derivative with respect to the activation ``Y``,
    used as if it were the derivative with respect to ``Z``.

    Parameters
    ----------
    loss : {"mse", "binary_cross_entropy"}
        mse (its ``log_loss`` counterpart is binary cross-entropy).
    Y, T : ndarray, shape (m, n_out)
        Sigmoid outputs and targets.

    Returns
    -------
    ndarray, shape (m, n_out)
        ``m * dL/dY`` where the true gradient is ``m * dL/dZ = m * dL/dY * Y (1 - Y)``:
        mse gives ``Y - T`` (the sigmoid derivative is missing), binary cross-entropy
        ``(Y - T) / (Y (1 - Y))`` (the derivative that cancels is left in). Outputs are
        clipped to ``[1e-12, 1 - 1e-12]`` as that tutorial's ``log_loss`` clips them.
    """
    if loss == "mse":
        return Y - T
    if loss == "binary_cross_entropy":
        clipped = np.clip(Y, 1e-12, 1 - 1e-12)
        return (clipped - T) / (clipped * (1 - clipped))
    raise ValueError(f"tutorial C's shortcut exists for mse and binary_cross_entropy; got {loss!r}")


def shortcut_gradients(spec, params, X, T):
    """The gradient tutorial C's backprop computes: the true chain rule below the output,
    :func:`shortcut_output_delta` at the output. Sigmoid hidden and output layers.

    Parameters
    ----------
    spec : NetworkSpec
        Sigmoid hidden and output activations; loss mse or binary_cross_entropy.
    params : ndarray, shape (n_params,)
    X : ndarray, shape (m, n_inputs)
    T : ndarray, shape (m, n_outputs)

    Returns
    -------
    ndarray, shape (n_params,)
        Same layout as ``params``; a mean over the ``m`` samples, like fastnn's.
    """
    from fastnn.functions import sigmoid
    from fastnn.params import layer_views

    weights, biases = layer_views(params, spec.layer_sizes)
    activations = [X]
    for W, b in zip(weights, biases):
        activations.append(sigmoid(activations[-1] @ W + b))
    delta = shortcut_output_delta(spec.loss, activations[-1], T) / X.shape[0]
    grad = np.empty_like(params)
    dweights, dbiases = layer_views(grad, spec.layer_sizes)
    for layer in range(spec.n_layers - 1, -1, -1):
        A_prev = activations[layer]
        dweights[layer][...] = A_prev.T @ delta
        dbiases[layer][...] = delta.sum(axis=0)
        if layer > 0:
            delta = (delta @ weights[layer].T) * A_prev * (1 - A_prev)
    return grad
