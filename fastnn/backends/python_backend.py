"""Pure-Python backend: the readable reference every other backend is checked against.

The arithmetic is plain Python on lists and floats, one sample at a time. NumPy
appears only at the boundary, to turn the caller's arrays into lists (``tolist``)
and the results back into arrays. The activations and losses are the pure-Python
forms of the entries of :mod:`fastnn.functions` (``sample_activate``,
``sample_chain_rule``, ``sample_total``, ``sample_delta``: floats, lists and
:mod:`math` only), the formulas every other backend computes.

A sparse ``X`` (canonical CSR) becomes one list of ``(column, value)`` pairs per row;
the first layer adds those entries only, in column order, and its weight gradient
visits them only. Sample weights multiply each sample's loss and output delta; the
sums are divided by the weights' total instead of the sample count.
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
    accepts_sparse = True

    def forward(self, spec, params, X):
        weights, biases = _unpack(spec.layer_sizes, params.tolist())
        outputs = [_forward_sample(spec, weights, biases, x)[1][-1] for x in _rows(X)]
        return _to_array(outputs, spec.n_outputs)

    def loss(self, spec, params, X, T, sample_weight=None):
        weights, biases = _unpack(spec.layer_sizes, params.tolist())
        loss, output = LOSSES[spec.loss], ACTIVATIONS[spec.output_activation]
        rows = list(zip(_rows(X), T.tolist()))
        if sample_weight is None:
            total = 0.0
            for x, t in rows:
                zs, activations = _forward_sample(spec, weights, biases, x)
                total += loss.sample_total(output, zs[-1], activations[-1], t)
            return total / len(rows)
        sample_weights = sample_weight.tolist()
        total = 0.0
        for (x, t), w in zip(rows, sample_weights):
            zs, activations = _forward_sample(spec, weights, biases, x)
            total += w * loss.sample_total(output, zs[-1], activations[-1], t)
        return total / _total(sample_weights)

    def gradients(self, spec, params, X, T, sample_weight=None):
        loss, grad = self._gradient_lists(spec, params.tolist(), _rows(X), T.tolist(),
                                          _weight_list(sample_weight))
        return loss, np.array(grad, dtype=np.float64)

    def train_step(self, spec, params, X, T, learning_rate, sample_weight=None):
        values = params.tolist()
        loss, grad = self._gradient_lists(spec, values, _rows(X), T.tolist(),
                                          _weight_list(sample_weight))
        rate = float(learning_rate)
        params[:] = [p - rate * g for p, g in zip(values, grad)]
        return loss

    def _gradient_lists(self, spec, values, X, T, sample_weights=None):
        """Mean (or weighted mean) loss and the flat gradient as a list, accumulated
        sample by sample."""
        weights, biases = _unpack(spec.layer_sizes, values)
        loss, output = LOSSES[spec.loss], ACTIVATIONS[spec.output_activation]
        dweights = [[[0.0] * len(row) for row in W] for W in weights]
        dbiases = [[0.0] * len(b) for b in biases]
        total = 0.0
        for index, (x, t) in enumerate(zip(X, T)):
            zs, activations = _forward_sample(spec, weights, biases, x)
            sample_loss = loss.sample_total(output, zs[-1], activations[-1], t)
            delta = loss.sample_delta(output, zs[-1], activations[-1], t)
            if sample_weights is not None:
                w = sample_weights[index]
                sample_loss = w * sample_loss
                delta = [w * d for d in delta]
            total += sample_loss
            _backprop_sample(spec, weights, zs, activations, delta, dweights, dbiases)
        m = len(X) if sample_weights is None else _total(sample_weights)
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


class SparseRow(list):
    """One sample of a sparse ``X``: its stored ``(column, value)`` pairs, columns ascending."""


def _rows(X):
    """The samples of ``X`` as lists: dense rows, or a :class:`SparseRow` per CSR row."""
    if type(X) is np.ndarray:
        return X.tolist()
    data, indices, indptr = X.data.tolist(), X.indices.tolist(), X.indptr.tolist()
    return [SparseRow(zip(indices[start:stop], data[start:stop]))
            for start, stop in zip(indptr[:-1], indptr[1:])]


def _weight_list(sample_weight):
    return None if sample_weight is None else sample_weight.tolist()


def _total(values):
    """The sum of ``values`` added in order (as the kernels add them)."""
    total = 0.0
    for value in values:
        total += value
    return total


def _forward_sample(spec, weights, biases, x):
    """One sample's pre-activations ``[z_1, ..., z_L]`` and activations ``[x, a_1, ..., a_L]``."""
    zs = []
    activations = [x]
    for W, b, name in zip(weights, biases, spec.activations):
        z = list(b)
        if type(activations[-1]) is SparseRow:
            for i, a_i in activations[-1]:
                for j, w_ij in enumerate(W[i]):
                    z[j] += a_i * w_ij
        else:
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
        if type(a_prev) is SparseRow:
            pairs = [(a_i, dweights[layer][i]) for i, a_i in a_prev]
        else:
            pairs = zip(a_prev, dweights[layer])
        for a_i, dW_row in pairs:
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
