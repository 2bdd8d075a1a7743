"""Pure-Python backend: the readable reference every other backend is checked against.

The arithmetic is plain Python on lists and floats, one sample at a time. NumPy
appears only at the boundary, to turn the caller's arrays into lists (``tolist``)
and the results back into arrays. The formulas are those of :mod:`fastnn.functions`.
"""

from __future__ import annotations

import math

import numpy as np

from fastnn.backends.base import Backend
from fastnn.functions import ELU_ALPHA, LEAKY_RELU_SLOPE, LOG_FLOOR


class PythonBackend(Backend):
    """Nested loops over lists; float64 only."""

    name = "python"
    description = "pure Python loops over lists and floats: the readable reference"
    dtypes = ("float64",)
    is_reference = True
    is_baseline = True
    is_time_limited = True

    def forward(self, spec, params, X):
        weights, biases = _unpack(spec.layer_sizes, params.tolist())
        outputs = [_forward_sample(spec, weights, biases, x)[0][-1] for x in X.tolist()]
        return _to_array(outputs, spec.n_outputs)

    def loss(self, spec, params, X, T):
        weights, biases = _unpack(spec.layer_sizes, params.tolist())
        rows = list(zip(X.tolist(), T.tolist()))
        total = 0.0
        for x, t in rows:
            activations, z_out = _forward_sample(spec, weights, biases, x)
            total += _sample_loss(spec, z_out, activations[-1], t)
        return total / len(rows)

    def gradients(self, spec, params, X, T):
        loss, grad = self._gradient_lists(spec, params.tolist(), X.tolist(), T.tolist())
        return loss, np.array(grad, dtype=np.float64)

    def train_step(self, spec, params, X, T, learning_rate):
        values = params.tolist()
        loss, grad = self._gradient_lists(spec, values, X.tolist(), T.tolist())
        rate = float(learning_rate)
        params[:] = [p - rate * g for p, g in zip(values, grad)]
        return loss

    def _gradient_lists(self, spec, values, X, T):
        """Mean loss and the flat gradient as a list, accumulated sample by sample."""
        weights, biases = _unpack(spec.layer_sizes, values)
        dweights = [[[0.0] * len(row) for row in W] for W in weights]
        dbiases = [[0.0] * len(b) for b in biases]
        m = len(X)
        total = 0.0
        for x, t in zip(X, T):
            activations, z_out = _forward_sample(spec, weights, biases, x)
            total += _sample_loss(spec, z_out, activations[-1], t)
            delta = _sample_output_delta(spec, z_out, activations[-1], t)
            _backprop_sample(spec, weights, activations, delta, dweights, dbiases)
        grad = []
        for dW, db in zip(dweights, dbiases):
            for row in dW:
                grad.extend(value / m for value in row)
            grad.extend(value / m for value in db)
        return total / m, grad


# --- scalar activations and their derivatives (in terms of the output) ---------------

def _sigmoid(z):
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _leaky_relu(z):
    return z if z > 0 else LEAKY_RELU_SLOPE * z


def _elu(z):
    return z if z > 0 else ELU_ALPHA * math.expm1(z)


_ACTIVATE = {
    "sigmoid": _sigmoid,
    "tanh": math.tanh,
    "relu": lambda z: z if z > 0 else 0.0,
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "identity": lambda z: z,
}

_DERIVATIVE = {
    "sigmoid": lambda a: a * (1.0 - a),
    "tanh": lambda a: 1.0 - a * a,
    "relu": lambda a: 1.0 if a > 0 else 0.0,
    "leaky_relu": lambda a: 1.0 if a > 0 else LEAKY_RELU_SLOPE,
    "elu": lambda a: 1.0 if a > 0 else a + ELU_ALPHA,
    "identity": lambda a: 1.0,
}


def _softmax(z):
    top = max(z)
    exps = [math.exp(value - top) for value in z]
    total = sum(exps)
    return [value / total for value in exps]


def _activate(name, z):
    if name == "softmax":
        return _softmax(z)
    function = _ACTIVATE[name]
    return [function(value) for value in z]


def _softplus(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _clipped_log(y):
    return math.log(max(y, LOG_FLOOR))


def _clipped_reciprocal(y):
    return 1.0 / y if y > LOG_FLOOR else 0.0


# --- one sample ------------------------------------------------------------------------

def _unpack(layer_sizes, values):
    """Split the flat list into weights (lists of rows, (n_in, n_out)) and biases."""
    weights, biases = [], []
    start = 0
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        weights.append([values[start + i * n_out:start + (i + 1) * n_out] for i in range(n_in)])
        start += n_in * n_out
        biases.append(values[start:start + n_out])
        start += n_out
    return weights, biases


def _forward_sample(spec, weights, biases, x):
    """Activations ``[x, a_1, ..., a_L]`` of one sample, and the output pre-activation."""
    activations = [x]
    z = x
    for W, b, name in zip(weights, biases, spec.activations):
        z = list(b)
        for a_i, w_row in zip(activations[-1], W):
            for j, w_ij in enumerate(w_row):
                z[j] += a_i * w_ij
        activations.append(_activate(name, z))
    return activations, z


def _log_outputs(spec, z, y):
    """``(log y_k, log(1 - y_k))`` in the stable form for the output activation."""
    name = spec.output_activation
    if name == "sigmoid":
        return [-_softplus(-v) for v in z], [-_softplus(v) for v in z]
    if name == "softmax":
        top = max(z)
        log_total = math.log(sum(math.exp(v - top) for v in z))
        log_y = [v - top - log_total for v in z]
    else:
        log_y = [_clipped_log(v) for v in y]
    return log_y, [_clipped_log(1.0 - v) for v in y]


def _sample_loss(spec, z, y, t):
    if spec.loss == "mse":
        # d * d rather than d ** 2: float.__pow__ raises OverflowError where * gives inf.
        return 0.5 * sum((y_k - t_k) * (y_k - t_k) for y_k, t_k in zip(y, t))
    log_y, log_1my = _log_outputs(spec, z, y)
    total = sum(t_k * ly for t_k, ly in zip(t, log_y))
    if spec.loss == "binary_cross_entropy":
        total += sum((1.0 - t_k) * l1 for t_k, l1 in zip(t, log_1my))
    return -total


def _sample_output_delta(spec, z, y, t):
    """dL/dz of one sample's (unaveraged) loss."""
    name, loss = spec.output_activation, spec.loss
    if loss == "mse":
        return _chain_rule(name, y, [y_k - t_k for y_k, t_k in zip(y, t)])
    if name == "sigmoid":
        if loss == "cross_entropy":
            return [-t_k * (1.0 - y_k) for y_k, t_k in zip(y, t)]
        return [y_k - t_k for y_k, t_k in zip(y, t)]
    if name == "softmax":
        t_sum = sum(t)
        delta = [y_k * t_sum - t_k for y_k, t_k in zip(y, t)]
        if loss == "binary_cross_entropy":
            grad_y = [(1.0 - t_k) * _clipped_reciprocal(1.0 - y_k) for y_k, t_k in zip(y, t)]
            delta = [d + c for d, c in zip(delta, _chain_rule("softmax", y, grad_y))]
        return delta
    grad_y = [-t_k * _clipped_reciprocal(y_k) for y_k, t_k in zip(y, t)]
    if loss == "binary_cross_entropy":
        grad_y = [g + (1.0 - t_k) * _clipped_reciprocal(1.0 - y_k)
                  for g, y_k, t_k in zip(grad_y, y, t)]
    return _chain_rule(name, y, grad_y)


def _chain_rule(name, a, grad_a):
    if name == "softmax":
        weighted = sum(g * a_k for g, a_k in zip(grad_a, a))
        return [a_k * (g - weighted) for g, a_k in zip(grad_a, a)]
    derivative = _DERIVATIVE[name]
    return [g * derivative(a_k) for g, a_k in zip(grad_a, a)]


def _backprop_sample(spec, weights, activations, delta, dweights, dbiases):
    """Add one sample's parameter gradients to ``dweights``/``dbiases`` in place."""
    derivative = _DERIVATIVE.get(spec.activation)
    for layer in range(spec.n_layers - 1, -1, -1):
        a_prev = activations[layer]
        for a_i, dW_row in zip(a_prev, dweights[layer]):
            for j, d_j in enumerate(delta):
                dW_row[j] += a_i * d_j
        db = dbiases[layer]
        for j, d_j in enumerate(delta):
            db[j] += d_j
        if layer > 0:
            delta = [sum(w_ij * d_j for w_ij, d_j in zip(w_row, delta)) * derivative(a_i)
                     for w_row, a_i in zip(weights[layer], a_prev)]


def _to_array(rows, n_columns):
    return np.array(rows, dtype=np.float64).reshape(len(rows), n_columns)


BACKEND = PythonBackend()
