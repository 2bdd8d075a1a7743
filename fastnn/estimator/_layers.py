"""The fitted network's parameters as scikit-learn's per-layer lists ``coefs_`` and
``intercepts_``: assignable, validated against the network, and scikit-learn's initial
weights."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from fastnn.estimator._parameters import ACTIVATION_NAMES
from fastnn.model import MLP
from fastnn.params import flatten, layer_views


class FittedLayersMixin:
    """``coefs_``, ``intercepts_`` and ``network_``, kept as fastnn's network needs them."""

    @property
    def coefs_(self):
        """list of ndarray, shapes (n_in, n_out): the weights of each layer (assignable)."""
        return self._coefs

    @coefs_.setter
    def coefs_(self, value):
        self._coefs = self._checked_layers(value, "coefs_")

    @property
    def intercepts_(self):
        """list of ndarray, shapes (n_out,): the biases of each layer (assignable)."""
        return self._intercepts

    @intercepts_.setter
    def intercepts_(self, value):
        self._intercepts = self._checked_layers(value, "intercepts_")

    @property
    def network_(self):
        """The fitted network as a :class:`fastnn.MLP` (a copy of ``coefs_``, ``intercepts_``)."""
        check_is_fitted(self)
        return MLP.from_spec(self._spec, self._flat_parameters(), self.backend_)

    def _checked_layers(self, layers, name):
        """``layers`` as a list of arrays of the fitted dtype, with the network's shapes."""
        if isinstance(layers, np.ndarray) or not hasattr(layers, "__len__"):
            raise TypeError(f"{name} must be a list of arrays, one per layer; "
                            f"got {type(layers).__name__}")
        spec = getattr(self, "_spec", None)
        if spec is None:
            return [np.asarray(layer) for layer in layers]
        sizes = spec.layer_sizes
        shapes = ([(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
                  if name == "coefs_" else [(n_out,) for n_out in sizes[1:]])
        if len(layers) != len(shapes):
            raise ValueError(f"{name} must hold {len(shapes)} arrays (one per layer of "
                             f"{list(sizes)}); got {len(layers)}")
        checked = []
        for index, (layer, shape) in enumerate(zip(layers, shapes)):
            array = np.asarray(layer)
            if array.dtype.kind not in "biuf":
                raise TypeError(f"{name}[{index}] must hold real numbers; got dtype "
                                f"{array.dtype}")
            if array.shape != shape:
                raise ValueError(f"{name}[{index}] must have shape {shape}; got {array.shape}")
            if not np.isfinite(array).all():
                raise ValueError(f"{name}[{index}] contains NaN or infinity")
            checked.append(array.astype(self._dtype, copy=False))
        return checked

    def _flat_parameters(self):
        """``coefs_`` and ``intercepts_`` (validated again: they may have been written
        into) as fastnn's flat buffer of the network's dtype."""
        return flatten(self._checked_layers(self._coefs, "coefs_"),
                       self._checked_layers(self._intercepts, "intercepts_"), self._spec.dtype)

    def _set_parameters(self, params):
        weights, biases = layer_views(params, self._spec.layer_sizes)
        self._coefs = [W.astype(self._dtype) for W in weights]
        self._intercepts = [b.astype(self._dtype) for b in biases]


def glorot_uniform(layer_units, activation, random_state, dtype):
    """scikit-learn's initial weights and biases, drawn in its order from ``random_state``:
    ``U(-b, b)`` with ``b = sqrt(f / (fan_in + fan_out))``, ``f = 2`` for logistic, else 6."""
    factor = 2.0 if ACTIVATION_NAMES[activation] == "sigmoid" else 6.0
    coefs, intercepts = [], []
    for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
        bound = np.sqrt(factor / (fan_in + fan_out))
        coefs.append(random_state.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype,
                                                                                  copy=False))
        intercepts.append(random_state.uniform(-bound, bound, fan_out).astype(dtype,
                                                                             copy=False))
    return coefs, intercepts
