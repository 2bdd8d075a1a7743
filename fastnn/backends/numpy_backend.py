"""Vectorised NumPy backend: one matrix product per layer, batches as rows.

A sparse ``X`` (canonical CSR) enters only the first layer, as SciPy's sparse product
``X @ W`` (and ``X.T @ delta`` for that layer's weight gradient); every later layer is
dense. Sample weights scale each row's output delta by ``w_i / sum(w)`` and weight the
rows' losses (:attr:`fastnn.functions.Loss.rows`).
"""

from __future__ import annotations

import contextlib

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
    accepts_sparse = True

    def preload(self):
        """Import SciPy's ``expit``: :func:`fastnn.functions.sigmoid` uses it once imported
        (one ufunc call, against four in NumPy alone)."""
        with contextlib.suppress(ImportError):
            import scipy.special  # noqa: F401

    def forward(self, spec, params, X):
        weights, biases = layer_views(params, spec.layer_sizes)
        A = X
        for W, b, activation in zip(weights, biases, spec.activations):
            A = ACTIVATIONS[activation].function(A @ W + b)
        return A

    def loss(self, spec, params, X, T, sample_weight=None):
        activations, Z_out, _ = _forward_trace(spec, params, X)
        loss, output = LOSSES[spec.loss], ACTIVATIONS[spec.output_activation]
        if sample_weight is not None:
            rows = loss.rows(output, Z_out, activations[-1], T)
            return float(np.dot(sample_weight, rows) / np.sum(sample_weight))
        total = loss.total(output, Z_out, activations[-1], T)
        return float(total / X.shape[0])

    def gradients(self, spec, params, X, T, sample_weight=None):
        activations, Z_out, hidden_Z = _forward_trace(spec, params, X)
        Y = activations[-1]
        loss, output = LOSSES[spec.loss], ACTIVATIONS[spec.output_activation]
        if sample_weight is None:
            mean_loss = float(loss.total(output, Z_out, Y, T) / X.shape[0])
            delta = loss.delta(output, Z_out, Y, T) / X.shape[0]
        else:
            weight_total = np.sum(sample_weight)
            mean_loss = float(np.dot(sample_weight, loss.rows(output, Z_out, Y, T))
                              / weight_total)
            delta = loss.delta(output, Z_out, Y, T) * (sample_weight / weight_total)[:, None]
        grad = np.empty_like(params)
        weights, _ = layer_views(params, spec.layer_sizes)
        dweights, dbiases = layer_views(grad, spec.layer_sizes)
        hidden = ACTIVATIONS[spec.activation]
        for layer in range(spec.n_layers - 1, -1, -1):
            A_prev = activations[layer]
            if type(A_prev) is np.ndarray:
                np.matmul(A_prev.T, delta, out=dweights[layer])
            else:  # a sparse X: SciPy's sparse product
                dweights[layer][...] = A_prev.T @ delta
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
        ``[X, A_1, ..., A_L]``, shapes (m, layer_sizes[l]) (``X`` as given, maybe sparse).
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
