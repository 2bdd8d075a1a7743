"""The benchmarked cases: layer sizes, batch sizes, their FLOP counts and data.

Command-line spellings are parsed here too, so that ``fastnn bench`` and the
pytest-benchmark suite agree on what ``100-100-50-10`` means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fastnn.ops import OP_TABLE, OPS
from fastnn.params import init_params, parameter_count
from fastnn.reporting.formatting import sizes_label
from fastnn.spec import NetworkSpec, check_name, validate_dtype, validate_layer_sizes

LEVELS = ("mlp", "backend")

# The thorough sweep: the defaults of ``SweepConfig`` and of the pytest-benchmark suite,
# and ``fastnn bench --full`` (which makes the committed reports/baseline).
DEFAULT_LAYER_SIZES = ((3, 3, 1), (64, 30, 10), (100, 100, 50, 10), (784, 256, 128, 10))
DEFAULT_BATCH_SIZES = (1, 32, 256)
# Plain ``fastnn bench``, a newcomer's first look in under two minutes, compile included:
# the three headline networks (tutorial A's digits, issue 3's per-sample network, MNIST)
# at one row (per-call overhead) and at a batch of 256 (arithmetic throughput). 3-3-1 and
# batch 32 sit between these in every table of the thorough sweep.
OVERVIEW_LAYER_SIZES = ((64, 30, 10), (100, 100, 50, 10), (784, 256, 128, 10))
OVERVIEW_BATCH_SIZES = (1, 256)
DEFAULT_DTYPES = ("float64",)


@dataclass(frozen=True)
class Case:
    """One benchmarked network and batch, with its data.

    Attributes
    ----------
    spec : NetworkSpec
        Sigmoid hidden layers, sigmoid output, mean squared error (tutorial A's network).
    params : ndarray, shape (n_params,), dtype spec.dtype
    X : ndarray, shape (batch_size, layer_sizes[0]), values in [0, 1)
    T : ndarray, shape (batch_size, layer_sizes[-1]), values in [0, 1)
    """

    spec: NetworkSpec
    params: np.ndarray
    X: np.ndarray
    T: np.ndarray

    @property
    def batch_size(self):
        return self.X.shape[0]

    @property
    def sizes_label(self):
        return sizes_label(self.spec.layer_sizes)


def make_case(layer_sizes, batch_size, dtype="float64", seed=0):
    """Build a :class:`Case` with seeded parameters and data.

    Parameters
    ----------
    layer_sizes : sequence of int
    batch_size : int
    dtype : {"float64", "float32"}
    seed : int

    Returns
    -------
    Case
    """
    spec = NetworkSpec.create(layer_sizes, "sigmoid", "sigmoid", "mse", dtype)
    rng = np.random.default_rng(seed)
    params = init_params(spec, "xavier", rng)
    X = rng.random((batch_size, spec.n_inputs)).astype(dtype)
    T = rng.random((batch_size, spec.n_outputs)).astype(dtype)
    return Case(spec, params, X, T)


def flop_count(layer_sizes, batch_size, op):
    """Floating-point operations of the matrix products of one call.

    A multiply-add counts as two operations; activations, biases and the loss are not
    counted (they are O(units), not O(weights)).

    - ``forward``: ``2 m n_in n_out`` per layer (``A_prev @ W``).
    - ``gradients``: the forward pass, plus ``2 m n_in n_out`` per layer for
      ``A_prev.T @ delta``, plus the same for ``delta @ W.T`` on every layer but the first.
    - ``train_step``: ``gradients`` plus ``2 n_params`` for the update.

    Parameters
    ----------
    layer_sizes : sequence of int
    batch_size : int
    op : str
        A key of :data:`fastnn.ops.OP_TABLE`.

    Returns
    -------
    int
    """
    check_name("op", op, OPS)
    products = [2 * batch_size * n_in * n_out
                for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:])]
    return OP_TABLE[op].flops(products, parameter_count(layer_sizes))


def parse_layer_sizes(text):
    """Parse ``"100-100-50-10"`` into ``(100, 100, 50, 10)``.

    Raises
    ------
    ValueError
        If a part is not a positive integer, or there are fewer than two parts.
    """
    parts = text.strip().split("-")
    try:
        sizes = [int(part) for part in parts]
    except ValueError:
        raise ValueError(f"malformed layer sizes {text!r}: expected positive integers joined "
                         f"by '-', such as 100-100-50-10") from None
    try:
        return validate_layer_sizes(sizes)
    except ValueError as exc:
        raise ValueError(f"malformed layer sizes {text!r}: {exc}") from None


def split_list(values):
    """Flatten repeated and comma-separated option values: ``["a,b", "c"]`` -> ``["a", "b", "c"]``.

    Raises
    ------
    ValueError
        For an empty item (``"a,,b"``).
    """
    items = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if not item:
                raise ValueError(f"empty item in the list {value!r}")
            items.append(item)
    return items


def parse_positive_ints(values, what):
    """Parse a list such as ``["1,32", "256"]`` into positive integers, without repeats."""
    numbers = []
    for item in split_list(values):
        try:
            number = int(item)
        except ValueError:
            raise ValueError(f"{what} must be positive integers; got {item!r}") from None
        if number < 1:
            raise ValueError(f"{what} must be positive integers; got {number}")
        if number not in numbers:
            numbers.append(number)
    return tuple(numbers)


def parse_names(values, choices, what):
    """Parse names such as ``--ops forward,gradients``, each one of ``choices``."""
    names = []
    for item in split_list(values):
        check_name(what, item, choices)
        if item not in names:
            names.append(item)
    return tuple(names)


def parse_dtypes(values):
    """Parse ``--dtypes float64,float32`` into canonical dtype names."""
    names = []
    for item in split_list(values):
        name = validate_dtype(item)
        if name not in names:
            names.append(name)
    return tuple(names)
