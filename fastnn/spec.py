"""The network description: layer sizes, activations, loss and dtype, validated.

A :class:`NetworkSpec` is immutable and holds everything a backend needs to know
about an architecture apart from the parameter values themselves.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass

import numpy as np

from fastnn import functions

# Names the spec accepts, in table order, from the tables of fastnn.functions.
HIDDEN_ACTIVATIONS = tuple(name for name, entry in functions.ACTIVATIONS.items() if entry.hidden)
OUTPUT_ACTIVATIONS = tuple(name for name, entry in functions.ACTIVATIONS.items() if entry.output)
LOSSES = tuple(functions.LOSSES)
DTYPES = ("float64", "float32")

# The output activation a loss implies when the caller leaves it as None.
DEFAULT_OUTPUT_ACTIVATION = {name: entry.default_output
                             for name, entry in functions.LOSSES.items()}


@dataclass(frozen=True)
class NetworkSpec:
    """A validated description of a feed-forward network.

    Attributes
    ----------
    layer_sizes : tuple of int
        Units per layer, input first; ``len(layer_sizes) - 1`` weight layers.
    activation : str
        Activation of every hidden layer: one of :data:`HIDDEN_ACTIVATIONS` (the
        entries of :data:`fastnn.functions.ACTIVATIONS` allowed on hidden layers).
    output_activation : str
        Activation of the output layer (resolved; never None): one of
        :data:`OUTPUT_ACTIVATIONS`.
    loss : str
        One of :data:`LOSSES` (the entries of :data:`fastnn.functions.LOSSES`).
    dtype : str
        ``"float64"`` or ``"float32"``.
    """

    layer_sizes: tuple
    activation: str = functions.DEFAULT_ACTIVATION
    output_activation: str = functions.LOSSES[functions.DEFAULT_LOSS].default_output
    loss: str = functions.DEFAULT_LOSS
    dtype: str = "float64"

    @classmethod
    def create(cls, layer_sizes, activation=functions.DEFAULT_ACTIVATION,
               output_activation=None, loss=functions.DEFAULT_LOSS, dtype="float64"):
        """Validate the arguments and build a spec.

        Raises
        ------
        ValueError
            Unknown names, layer sizes that are not positive integers, fewer than
            two layers, or an output-only activation on a hidden layer.
        TypeError
            Layer sizes that are not a sequence of integers.
        """
        sizes = validate_layer_sizes(layer_sizes)
        loss = check_name("loss", loss, LOSSES)
        if activation in OUTPUT_ACTIVATIONS and activation not in HIDDEN_ACTIVATIONS:
            raise ValueError(
                f"activation {activation!r} is only allowed on the output layer; "
                f"hidden activations: {', '.join(HIDDEN_ACTIVATIONS)}")
        activation = check_name("activation", activation, HIDDEN_ACTIVATIONS)
        if output_activation is None:
            output_activation = DEFAULT_OUTPUT_ACTIVATION[loss]
        output_activation = check_name("output_activation", output_activation,
                                       OUTPUT_ACTIVATIONS)
        return cls(sizes, activation, output_activation, loss, validate_dtype(dtype))

    @property
    def n_layers(self):
        """Number of weight layers."""
        return len(self.layer_sizes) - 1

    @property
    def n_inputs(self):
        return self.layer_sizes[0]

    @property
    def n_outputs(self):
        return self.layer_sizes[-1]

    @property
    def activations(self):
        """Activation name of each weight layer, output last."""
        return (self.activation,) * (self.n_layers - 1) + (self.output_activation,)

    def with_dtype(self, dtype):
        """This spec computing in ``dtype``: itself if it already does, else a copy.

        Parameters
        ----------
        dtype : str or numpy.dtype
            ``"float64"`` or ``"float32"``.

        Returns
        -------
        NetworkSpec
        """
        dtype = validate_dtype(dtype)
        return self if dtype == self.dtype else dataclasses.replace(self, dtype=dtype)

    def to_dict(self):
        """A JSON-serialisable dict that :meth:`from_dict` turns back into a spec."""
        return {
            "layer_sizes": list(self.layer_sizes),
            "activation": self.activation,
            "output_activation": self.output_activation,
            "loss": self.loss,
            "dtype": self.dtype,
        }

    @classmethod
    def from_dict(cls, data):
        """Rebuild (and re-validate) a spec from :meth:`to_dict` output."""
        if not isinstance(data, dict):
            raise ValueError(f"a network spec must be a dict; got {type(data).__name__}")
        expected = {"layer_sizes", "activation", "output_activation", "loss", "dtype"}
        if set(data) != expected:
            raise ValueError(
                f"a network spec needs exactly the keys {sorted(expected)}; got {sorted(data)}")
        return cls.create(**data)


def validate_layer_sizes(layer_sizes):
    """Return ``layer_sizes`` as a tuple of positive Python ints.

    Raises
    ------
    TypeError
        If it is not a sequence of integers (bools and floats are rejected).
    ValueError
        If it has fewer than two entries or an entry is not positive.
    """
    if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__len__"):
        raise TypeError(
            f"layer_sizes must be a sequence of integers such as [64, 30, 10]; got {layer_sizes!r}")
    sizes = []
    for size in layer_sizes:
        if isinstance(size, (bool, np.bool_)) or not isinstance(size, numbers.Integral):
            raise TypeError(
                f"layer_sizes must contain integers; got {size!r} in {list(layer_sizes)!r}")
        if size <= 0:
            raise ValueError(f"layer sizes must be positive integers; got {int(size)} in "
                             f"{[int(s) for s in layer_sizes]!r}")
        sizes.append(int(size))
    if len(sizes) < 2:
        raise ValueError(
            f"layer_sizes needs at least an input and an output size; got {sizes!r}")
    return tuple(sizes)


def validate_dtype(dtype):
    """Return the canonical dtype name (``"float64"`` or ``"float32"``)."""
    try:
        name = np.dtype(dtype).name
    except TypeError as exc:
        raise ValueError(f"unknown dtype {dtype!r}; supported: {', '.join(DTYPES)}") from exc
    if name not in DTYPES:
        raise ValueError(f"unsupported dtype {name!r}; supported: {', '.join(DTYPES)}")
    return name


def check_name(kind, name, choices):
    """Return ``name`` if it is one of ``choices``, else raise a ValueError naming them."""
    if not isinstance(name, str) or name not in choices:
        raise ValueError(f"unknown {kind} {name!r}; available: {', '.join(choices)}")
    return name
