"""What the converters share: a framework-neutral list of dense layers, and the checks
that turn one into a :class:`fastnn.MLP` (or a network into one).

Every reader (scikit-learn, PyTorch, ONNX) first collects :class:`DenseLayer` objects and
only then calls :func:`network_parts`, which validates everything before it creates the
network: a bad model raises and leaves nothing half-built.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fastnn.params import flatten
from fastnn.spec import NetworkSpec

# The loss a network read from a file gets when the caller does not name one: the
# loss each output activation is normally trained with.
DEFAULT_LOSS = {
    "softmax": "cross_entropy",
    "sigmoid": "binary_cross_entropy",
    "exp": "poisson",
}

# The activation of the (absent) hidden layers of a network with a single weight layer.
NO_HIDDEN_ACTIVATION = "identity"

# Parameter dtypes a network can have; anything else is refused, not silently converted.
FLOAT_DTYPES = ("float64", "float32")


@dataclass(frozen=True)
class NetworkParts:
    """What a converter reads: everything :class:`fastnn.MLP` needs to build a network.

    Attributes
    ----------
    spec : NetworkSpec
    params : ndarray, shape (n_params,)
        The flat parameter buffer, of ``spec.dtype``.
    classes : ndarray, shape (n_classes,), or None
        The network's ``classes_``.
    """

    spec: NetworkSpec
    params: np.ndarray
    classes: np.ndarray | None


@dataclass(frozen=True)
class DenseLayer:
    """One weight layer: ``A = activation(A_prev @ weights + bias)``.

    Attributes
    ----------
    weights : ndarray, shape (n_in, n_out)
    bias : ndarray, shape (n_out,)
    activation : str
        A fastnn activation name.
    """

    weights: np.ndarray
    bias: np.ndarray
    activation: str


def network_parts(layers, *, source, loss=None, dtype=None, hidden_activation=None,
                  classes=None):
    """Validate ``layers`` and return the parts of the network they describe.

    :class:`fastnn.MLP` builds the network from them (``MLP.from_onnx`` and the
    others), so that this package never imports the model it feeds.

    Parameters
    ----------
    layers : sequence of DenseLayer
        Input layer first.
    source : str
        What the layers came from, for error messages (e.g. ``"the ONNX graph"``).
    loss : str or None
        None: :data:`DEFAULT_LOSS` for the output activation, else ``"mse"``.
    dtype : {"float64", "float32"} or None
        None: the dtype of the parameters (which must agree).
    hidden_activation : str or None
        The hidden activation of a network without hidden layers (where no layer says
        it); None: :data:`NO_HIDDEN_ACTIVATION`.
    classes : array-like, shape (n_classes,), or None
        Becomes ``classes_``.

    Returns
    -------
    NetworkParts

    Raises
    ------
    ValueError
        No layers, shapes that do not chain, hidden layers with different activations,
        non-float or mixed dtypes, non-finite values, or names fastnn does not have.
    """
    layers = list(layers)
    if not layers:
        raise ValueError(f"{source} has no dense layer (MatMul/Gemm, Linear or coefs_)")
    layer_sizes = _layer_sizes(layers, source)
    hidden = _hidden_activation(layers, source, hidden_activation)
    output = layers[-1].activation
    dtype = _parameter_dtype(layers, source) if dtype is None else dtype
    if loss is None:
        loss = DEFAULT_LOSS.get(output, "mse")
    spec = NetworkSpec.create(layer_sizes, hidden, output, loss, dtype)
    params = flatten([layer.weights for layer in layers], [layer.bias for layer in layers],
                     spec.dtype)
    if not np.isfinite(params).all():
        raise ValueError(f"{source}: the parameters contain NaN or infinity (or values too "
                         f"large for {spec.dtype})")
    classes = _checked_classes(classes, spec, source)
    return NetworkParts(spec, params, classes)


def paired_layers(steps, orphan_message):
    """Pair each dense layer with the activation that follows it (identity if none).

    Every reader walks its format as a chain of steps; this is the one place the chain
    becomes layers.

    Parameters
    ----------
    steps : iterable of (str, object)
        ``("dense", (weights, bias))`` or ``("activation", name)``, input side first.
    orphan_message : callable, name -> str
        The error for an activation that follows no dense layer.

    Returns
    -------
    list of DenseLayer

    Raises
    ------
    ValueError
        An activation before the first dense layer, or two in a row.
    """
    layers, pending = [], None  # pending: (weights, bias) awaiting its activation
    for kind, value in steps:
        if kind == "dense":
            if pending is not None:
                layers.append(DenseLayer(*pending, "identity"))
            pending = value
            continue
        if pending is None:
            raise ValueError(orphan_message(value))
        layers.append(DenseLayer(*pending, value))
        pending = None
    if pending is not None:
        layers.append(DenseLayer(*pending, "identity"))
    return layers


def network_layers(net):
    """The layers of ``net`` as :class:`DenseLayer` objects (copies).

    Parameters
    ----------
    net : MLP

    Returns
    -------
    list of DenseLayer
    """
    return [DenseLayer(np.array(weights), np.array(bias), activation)
            for weights, bias, activation in zip(net.weights, net.biases, net.spec.activations)]


def _layer_sizes(layers, source):
    sizes = []
    for index, layer in enumerate(layers):
        weights, bias = layer.weights, layer.bias
        if weights.ndim != 2:
            raise ValueError(f"{source}: layer {index} has weights of shape {weights.shape}; "
                             f"a dense layer needs a matrix")
        n_in, n_out = weights.shape
        if bias.shape != (n_out,):
            raise ValueError(f"{source}: layer {index} has weights of shape {weights.shape} "
                             f"but a bias of shape {bias.shape}; expected ({n_out},)")
        if sizes and sizes[-1] != n_in:
            raise ValueError(f"{source}: layer {index} takes {n_in} inputs but the layer "
                             f"before it gives {sizes[-1]} outputs")
        if not sizes:
            sizes.append(n_in)
        sizes.append(n_out)
    return sizes


def _hidden_activation(layers, source, default):
    names = list(dict.fromkeys(layer.activation for layer in layers[:-1]))
    if len(names) > 1:
        raise ValueError(f"{source}: the hidden layers use different activations "
                         f"({', '.join(names)}); a fastnn network has one activation for all "
                         f"of its hidden layers")
    if names:
        return names[0]
    return NO_HIDDEN_ACTIVATION if default is None else default


def _parameter_dtype(layers, source):
    dtypes = {array.dtype.name for layer in layers for array in (layer.weights, layer.bias)}
    unsupported = sorted(dtypes - set(FLOAT_DTYPES))
    if unsupported:
        raise ValueError(f"{source}: parameters of dtype {', '.join(unsupported)} are not "
                         f"supported; fastnn computes in {' or '.join(FLOAT_DTYPES)}")
    if len(dtypes) > 1:
        raise ValueError(f"{source}: the parameters mix dtypes ({', '.join(sorted(dtypes))}); "
                         f"pass dtype= to choose one")
    return dtypes.pop()


def _checked_classes(classes, spec, source):
    if classes is None:
        return None
    classes = np.asarray(classes)
    n_classes = max(spec.n_outputs, 2)
    if classes.ndim != 1 or classes.size != n_classes:
        raise ValueError(f"{source}: {classes.size} class labels for a network with "
                         f"{spec.n_outputs} output(s); expected {n_classes}")
    return classes.copy()
