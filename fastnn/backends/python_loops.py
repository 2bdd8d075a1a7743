"""Pure-Python backend: the readable reference every other backend is checked against.

The arithmetic is plain Python on lists and floats, one sample at a time. NumPy
appears only at the boundary, to turn the caller's arrays into lists (``tolist``)
and the results back into arrays. The activations and losses are the pure-Python
forms of the entries of :mod:`fastnn.functions` (``sample_activate``,
``sample_chain_rule``, ``sample_total``, ``sample_delta``: floats, lists and
:mod:`math` only), the formulas every other backend computes.
"""

from __future__ import annotations

import numpy as np

from fastnn.backends.base import Backend
from fastnn.functions import ACTIVATIONS, LOSSES


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
        outputs = [_forward_sample(spec, weights, biases, x)[1][-1] for x in X.tolist()]
        return _to_array(outputs, spec.n_outputs)

    def loss(self, spec, params, X, T):
        weights, biases = _unpack(spec.layer_sizes, params.tolist())
        loss, output = LOSSES[spec.loss], ACTIVATIONS[spec.output_activation]
        rows = list(zip(X.tolist(), T.tolist()))
        total = 0.0
        for x, t in rows:
            zs, activations = _forward_sample(spec, weights, biases, x)
            total += loss.sample_total(output, zs[-1], activations[-1], t)
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
        loss, output = LOSSES[spec.loss], ACTIVATIONS[spec.output_activation]
        dweights = [[[0.0] * len(row) for row in W] for W in weights]
        dbiases = [[0.0] * len(b) for b in biases]
        m = len(X)
        total = 0.0
        for x, t in zip(X, T):
            zs, activations = _forward_sample(spec, weights, biases, x)
            total += loss.sample_total(output, zs[-1], activations[-1], t)
            delta = loss.sample_delta(output, zs[-1], activations[-1], t)
            _backprop_sample(spec, weights, zs, activations, delta, dweights, dbiases)
        grad = []
        for dW, db in zip(dweights, dbiases):
            for row in dW:
                grad.extend(value / m for value in row)
            grad.extend(value / m for value in db)
        return total / m, grad


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
    """One sample's pre-activations ``[z_1, ..., z_L]`` and activations ``[x, a_1, ..., a_L]``."""
    zs = []
    activations = [x]
    for W, b, name in zip(weights, biases, spec.activations):
        z = list(b)
        for a_i, w_row in zip(activations[-1], W):
            for j, w_ij in enumerate(w_row):
                z[j] += a_i * w_ij
        zs.append(z)
        activations.append(ACTIVATIONS[name].sample_activate(z))
    return zs, activations


def _backprop_sample(spec, weights, zs, activations, delta, dweights, dbiases):
    """Add one sample's parameter gradients to ``dweights``/``dbiases`` in place."""
    hidden = ACTIVATIONS[spec.activation]
    for layer in range(spec.n_layers - 1, -1, -1):
        a_prev = activations[layer]
        for a_i, dW_row in zip(a_prev, dweights[layer]):
            for j, d_j in enumerate(delta):
                dW_row[j] += a_i * d_j
        db = dbiases[layer]
        for j, d_j in enumerate(delta):
            db[j] += d_j
        if layer > 0:
            grad_a = [sum(w_ij * d_j for w_ij, d_j in zip(w_row, delta))
                      for w_row in weights[layer]]
            delta = hidden.sample_chain_rule(zs[layer - 1], a_prev, grad_a)


def _to_array(rows, n_columns):
    return np.array(rows, dtype=np.float64).reshape(len(rows), n_columns)


BACKEND = PythonBackend()
