"""Activation, derivative and loss tables (NumPy), in the style of scikit-learn's ``_base.py``.

Every backend computes exactly these formulas; the pure-Python backend spells them
out for one sample at a time, the Numba kernels mirror the same names with integer
codes.

Numerical choices, shared by every backend:

- ``sigmoid`` is evaluated without overflow (``scipy.special.expit``; piecewise in the
  other backends); ``softmax`` subtracts the row maximum.
- Derivatives are written in terms of the activation's output ``A``.
- Losses never take ``log(0)``. For the pairs where a closed form exists the log is
  taken of the pre-activation: ``log sigmoid(z) = -softplus(-z)``,
  ``log(1 - sigmoid(z)) = -softplus(z)``, ``log softmax(z) = z - logsumexp(z)``.
  Every other pair clips: ``log(max(y, LOG_FLOOR))`` with ``LOG_FLOOR = 1e-12`` for
  every dtype (so float32 and float64 agree), whose gradient is ``1 / y`` above the
  floor and 0 below it.
- The output delta ``dL/dZ`` is the true gradient of the loss above; the fused
  softmax/cross-entropy and sigmoid/(binary) cross-entropy pairs are computed without
  cancellation (``Y * sum(T) - T``, ``Y - T``, ``-T * (1 - Y)``).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

LEAKY_RELU_SLOPE = 0.01
ELU_ALPHA = 1.0
LOG_FLOOR = 1e-12


def sigmoid(z):
    """Logistic function, overflow-free. Shape-preserving."""
    return expit(z)


def tanh(z):
    return np.tanh(z)


def relu(z):
    return np.maximum(z, 0)


def leaky_relu(z):
    return np.where(z > 0, z, LEAKY_RELU_SLOPE * z)


def elu(z):
    # minimum() keeps expm1 away from overflow on the branch where() discards.
    return np.where(z > 0, z, ELU_ALPHA * np.expm1(np.minimum(z, 0)))


def identity(z):
    return z


def softmax(z):
    """Softmax over the last axis with the maximum subtracted."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


ACTIVATIONS = {
    "sigmoid": sigmoid,
    "tanh": tanh,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "identity": identity,
    "softmax": softmax,
}

# dA/dZ as a function of the output A (softmax has a Jacobian, handled in chain_rule).
DERIVATIVES = {
    "sigmoid": lambda a: a * (1 - a),
    "tanh": lambda a: 1 - a * a,
    "relu": lambda a: (a > 0).astype(a.dtype),
    "leaky_relu": lambda a: np.where(a > 0, 1, LEAKY_RELU_SLOPE).astype(a.dtype),
    "elu": lambda a: np.where(a > 0, 1, a + ELU_ALPHA).astype(a.dtype),
    "identity": lambda a: np.ones_like(a),
}


def softplus(x):
    """``log(1 + exp(x))`` without overflow."""
    return np.logaddexp(0, x)


def log_output(output_activation, Z, Y):
    """``log(Y)`` elementwise, in the stable form for the output activation. Shape (m, k)."""
    if output_activation == "sigmoid":
        return -softplus(-Z)
    if output_activation == "softmax":
        shifted = Z - Z.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return np.log(np.maximum(Y, LOG_FLOOR))


def log_one_minus_output(output_activation, Z, Y):
    """``log(1 - Y)`` elementwise, in the stable form for the output activation. Shape (m, k)."""
    if output_activation == "sigmoid":
        return -softplus(Z)
    return np.log(np.maximum(1 - Y, LOG_FLOOR))


def loss_value(loss, output_activation, Z, Y, T):
    """Mean loss over the ``m`` rows.

    Parameters
    ----------
    loss : str
    output_activation : str
    Z, Y, T : ndarray, shape (m, n_out)
        Output pre-activation, output activation, targets.

    Returns
    -------
    float
    """
    m = Y.shape[0]
    if loss == "mse":
        diff = Y - T
        return float(0.5 * np.sum(diff * diff) / m)
    total = np.sum(T * log_output(output_activation, Z, Y))
    if loss == "binary_cross_entropy":
        total += np.sum((1 - T) * log_one_minus_output(output_activation, Z, Y))
    return float(-total / m)


def output_delta(loss, output_activation, Z, Y, T):
    """Per-sample gradient of the loss with respect to the output pre-activation.

    Returns ``m * dL/dZ``: the gradient of the summed (not mean) loss.

    Parameters
    ----------
    loss, output_activation : str
    Z, Y, T : ndarray, shape (m, n_out)

    Returns
    -------
    ndarray, shape (m, n_out)
    """
    if loss == "mse":
        return chain_rule(output_activation, Y, Y - T)
    if output_activation == "sigmoid":
        if loss == "cross_entropy":
            return -T * (1 - Y)
        return Y - T
    if output_activation == "softmax":
        delta = Y * T.sum(axis=1, keepdims=True) - T
        if loss == "binary_cross_entropy":
            delta = delta + chain_rule("softmax", Y, (1 - T) * _clipped_reciprocal(1 - Y))
        return delta
    dloss_dy = -T * _clipped_reciprocal(Y)
    if loss == "binary_cross_entropy":
        dloss_dy = dloss_dy + (1 - T) * _clipped_reciprocal(1 - Y)
    return chain_rule(output_activation, Y, dloss_dy)


def chain_rule(activation, A, grad_a):
    """Back-propagate ``grad_a = dL/dA`` through the activation to ``dL/dZ``. Shape (m, k)."""
    if activation == "softmax":
        return A * (grad_a - np.sum(grad_a * A, axis=1, keepdims=True))
    return grad_a * DERIVATIVES[activation](A)


def _clipped_reciprocal(y):
    """``1 / y`` where ``y`` is above the log floor, 0 elsewhere (the clipped log's slope)."""
    out = np.zeros_like(y)
    np.divide(1, y, out=out, where=y > LOG_FLOOR)
    return out
