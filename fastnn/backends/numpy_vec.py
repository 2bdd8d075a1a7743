"""Vectorised NumPy backend: one matrix product per layer, batches as rows."""

from __future__ import annotations

import numpy as np

from fastnn.backends.base import Backend
from fastnn.functions import ACTIVATIONS, LOSSES
from fastnn.params import layer_views


class NumpyBackend(Backend):
    """``Z = A_prev @ W + b``, ``A = f(Z)`` with the tables of :mod:`fastnn.functions`."""

    name = "numpy"
    description = "vectorised NumPy, one matrix product per layer"
    dtypes = ("float64", "float32")
    is_baseline = True

    def forward(self, spec, params, X):
        weights, biases = layer_views(params, spec.layer_sizes)
        A = X
        for W, b, activation in zip(weights, biases, spec.activations):
            A = ACTIVATIONS[activation].function(A @ W + b)
        return A

    def loss(self, spec, params, X, T):
        activations, Z_out, _ = _forward_trace(spec, params, X)
        total = LOSSES[spec.loss].total(ACTIVATIONS[spec.output_activation], Z_out,
                                        activations[-1], T)
        return float(total / X.shape[0])

    def gradients(self, spec, params, X, T):
        activations, Z_out, hidden_Z = _forward_trace(spec, params, X)
        Y = activations[-1]
        loss, output = LOSSES[spec.loss], ACTIVATIONS[spec.output_activation]
        mean_loss = float(loss.total(output, Z_out, Y, T) / X.shape[0])
        delta = loss.delta(output, Z_out, Y, T) / X.shape[0]
        grad = np.empty_like(params)
        weights, _ = layer_views(params, spec.layer_sizes)
        dweights, dbiases = layer_views(grad, spec.layer_sizes)
        hidden = ACTIVATIONS[spec.activation]
        for layer in range(spec.n_layers - 1, -1, -1):
            A_prev = activations[layer]
            np.matmul(A_prev.T, delta, out=dweights[layer])
            np.sum(delta, axis=0, out=dbiases[layer])
            if layer > 0:
                delta = hidden.chain_rule(hidden_Z[layer - 1], A_prev,
                                          delta @ weights[layer].T)
        return mean_loss, grad


def _forward_trace(spec, params, X):
    """Forward pass keeping every layer's activation, and the pre-activations needed.

    Returns
    -------
    activations : list of ndarray
        ``[X, A_1, ..., A_L]``, shapes (m, layer_sizes[l]).
    Z_out : ndarray, shape (m, n_outputs)
    hidden_Z : list of ndarray or None
        ``Z_l`` of each hidden layer whose activation's derivative needs it (kept only
        then, so large batches do not hold a second copy of every layer), else None.
    """
    weights, biases = layer_views(params, spec.layer_sizes)
    activations = [X]
    hidden_Z = []
    Z = X
    for W, b, name in zip(weights, biases, spec.activations):
        activation = ACTIVATIONS[name]
        Z = activations[-1] @ W + b
        activations.append(activation.function(Z))
        hidden_Z.append(Z if activation.derivative_needs_z else None)
    return activations, Z, hidden_Z[:-1]


BACKEND = NumpyBackend()
