"""Exchange networks with PyTorch: a ``torch.nn.Sequential`` of ``Linear`` layers and
activation modules.

``Linear`` stores its weight as ``(n_out, n_in)``; fastnn as ``(n_in, n_out)``: the
converters transpose. PyTorch is optional (``pip install "fastnn[torch]"``) and imported
only when a function here is called.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fastnn.functions import ELU_ALPHA, LEAKY_RELU_SLOPE
from fastnn.interop._network import network_layers, network_parts, paired_layers
from fastnn.optional import import_optional

# torch.nn.Softplus returns z itself above its threshold, where fastnn computes
# log(1 + e^z) = z + log1p(e^-z): the two differ by less than e^-threshold, relatively
# below 1e-10 from PyTorch's default 20 on (and below float32's resolution). Smaller
# thresholds change the function and are refused. to_torch writes 40: above 37,
# z + e^-z rounds to z in float64, so PyTorch's shortcut is then exact.
MIN_SOFTPLUS_THRESHOLD = 20.0
EXACT_SOFTPLUS_THRESHOLD = 40.0

TORCH_DTYPES = {"float64": "float64", "float32": "float32"}


@dataclass(frozen=True)
class TorchActivation:
    """How one fastnn activation is spelled in ``torch.nn``.

    Attributes
    ----------
    name : str
        fastnn's name.
    module : str
        The ``torch.nn`` class.
    settings : dict
        Keyword arguments :func:`to_torch` builds the module with.
    accepts : dict
        For ``MLP.from_torch``: attribute -> (test, description of the accepted values).
    """

    name: str
    module: str
    settings: dict = field(default_factory=dict)
    accepts: dict = field(default_factory=dict)


TORCH_ACTIVATIONS = (
    TorchActivation("sigmoid", "Sigmoid"),
    TorchActivation("tanh", "Tanh"),
    TorchActivation("relu", "ReLU"),
    TorchActivation("leaky_relu", "LeakyReLU", {"negative_slope": LEAKY_RELU_SLOPE},
                    {"negative_slope": (lambda value: value == LEAKY_RELU_SLOPE,
                                        str(LEAKY_RELU_SLOPE))}),
    TorchActivation("elu", "ELU", {"alpha": ELU_ALPHA},
                    {"alpha": (lambda value: value == ELU_ALPHA, str(ELU_ALPHA))}),
    TorchActivation("softplus", "Softplus",
                    {"beta": 1.0, "threshold": EXACT_SOFTPLUS_THRESHOLD},
                    {"beta": (lambda value: value == 1, "1"),
                     "threshold": (lambda value: value >= MIN_SOFTPLUS_THRESHOLD,
                                   f">= {MIN_SOFTPLUS_THRESHOLD:g}")}),
    TorchActivation("silu", "SiLU"),
    TorchActivation("identity", "Identity"),
    TorchActivation("softmax", "Softmax", {"dim": -1},
                    {"dim": (lambda value: value in (-1, 1), "-1 or 1 (a batch's last axis)")}),
)
BY_NAME = {activation.name: activation for activation in TORCH_ACTIVATIONS}
BY_MODULE = {activation.module: activation for activation in TORCH_ACTIVATIONS}


def read_torch(module, dtype=None, loss=None):
    """The network a ``torch.nn.Sequential`` of dense layers computes (behind
    ``MLP.from_torch``).

    Parameters
    ----------
    module : torch.nn.Sequential
        ``Linear`` layers (with or without bias), each followed by at most one activation
        module: ``Sigmoid``, ``Tanh``, ``ReLU``, ``LeakyReLU(0.01)``, ``ELU(1.0)``,
        ``Softplus(beta=1)`` (threshold >= 20; see :data:`MIN_SOFTPLUS_THRESHOLD`),
        ``SiLU``, ``Identity``, ``Softmax(dim=-1 or 1)``; no activation is the identity.
        Nested ``Sequential`` containers are read in order. Every hidden layer must
        use the same activation.
    dtype : {"float64", "float32"} or None
        None: the dtype of the parameters.
    loss : str or None
        None: the loss the output activation is normally trained with (softmax:
        ``cross_entropy``, sigmoid: ``binary_cross_entropy``, else ``mse``).

    Returns
    -------
    NetworkParts
        The network built from them, ``net.forward(X)``, equals ``module(X)`` for ``X``
        of shape (n_samples, n_inputs).

    Raises
    ------
    ValueError
        A module or setting fastnn lacks (named in the message), two activations in a
        row, an activation before the first ``Linear``, or hidden layers with different
        activations. Also anything whose output could differ from the chain its
        children describe: a subclass of ``Sequential`` (its own ``forward``), an
        instance attribute overriding a method (``seq.forward = ...``), forward hooks, a
        module with parameters (such as one ``Linear``) used twice; and, as the proof,
        any difference between the module's and the built network's outputs on a probe
        batch (:func:`check_equivalence`). A parameter-free activation module used at
        several positions (``act = nn.ReLU()`` reused) is read at each.
    TypeError
        If ``module`` is not a ``torch.nn.Sequential``.
    """
    torch = import_optional("torch", purpose="fastnn.MLP.from_torch")
    if not isinstance(module, torch.nn.Sequential):
        raise TypeError(f"MLP.from_torch reads a torch.nn.Sequential of Linear and activation "
                        f"modules; got {type(module).__name__}")
    layers = _dense_layers(_plain_children(module, torch), torch.nn)
    parts = network_parts(layers, source="the torch Sequential", loss=loss, dtype=dtype)
    check_equivalence(module, parts, torch)
    return parts


# The probe batch: rows of this many samples, drawn from a fixed seed, at these scales
# (small, unit, large inputs reach every branch of the activations).
PROBE_SCALES = (0.1, 1.0, 30.0)
PROBE_ROWS = 4
# Float64 on both sides: the same function computed in another order differs by rounding.
PROBE_RTOL, PROBE_ATOL = 1e-9, 1e-12


def check_equivalence(module, parts, torch):
    """Prove on a probe batch that the built network computes what ``module`` computes.

    Both run in float64 (a copy of ``module`` under ``torch.no_grad``; ``module`` itself
    is not changed) on :data:`PROBE_ROWS` random rows at each of :data:`PROBE_SCALES`.

    Parameters
    ----------
    module : torch.nn.Sequential
    parts : NetworkParts
        What :func:`read_torch` built from ``module``.

    Raises
    ------
    ValueError
        Naming the largest difference, if the outputs differ beyond rounding.
    """
    import copy

    n_inputs = parts.spec.layer_sizes[0]
    rng = np.random.default_rng(0)
    probe = np.concatenate([scale * rng.standard_normal((PROBE_ROWS, n_inputs))
                            for scale in PROBE_SCALES])
    theirs_module = copy.deepcopy(module).double()
    with torch.no_grad():
        theirs = theirs_module(torch.from_numpy(probe)).detach().cpu().numpy()
    ours = _forward_float64(parts, probe)
    if theirs.shape != ours.shape:
        raise ValueError(f"the torch Sequential's output has shape {theirs.shape} on a probe "
                         f"batch, the network built from its layers {ours.shape}: it computes "
                         f"something other than its children in order")
    if not np.allclose(theirs, ours, rtol=PROBE_RTOL, atol=PROBE_ATOL, equal_nan=True):
        worst = int(np.nanargmax(np.abs(theirs - ours)))
        raise ValueError(f"the torch Sequential computes something other than its children "
                         f"in order: on a probe batch its output "
                         f"{theirs.flat[worst]!r} differs from the network built from its "
                         f"layers ({ours.flat[worst]!r}); fastnn reads a plain "
                         f"torch.nn.Sequential of Linear and activation modules")


def _forward_float64(parts, X):
    from fastnn.functions import ACTIVATIONS
    from fastnn.params import layer_views

    spec = parts.spec
    weights, biases = layer_views(parts.params.astype(np.float64), spec.layer_sizes)
    A = X
    for index, (W, b) in enumerate(zip(weights, biases)):
        name = spec.output_activation if index == len(weights) - 1 else spec.activation
        A = ACTIVATIONS[name].function(A @ W + b)
    return A


def to_torch(net):
    """A ``torch.nn.Sequential`` computing what ``net`` computes.

    Parameters
    ----------
    net : MLP

    Returns
    -------
    torch.nn.Sequential
        ``Linear`` layers of the network's dtype (float64 or float32), each followed
        by its activation module (none for identity), in eval mode.

    Raises
    ------
    ValueError
        If PyTorch has no module for one of the network's activations (``exp``).
    """
    torch = import_optional("torch", purpose="fastnn.MLP.to_torch")
    dtype = getattr(torch, TORCH_DTYPES[net.spec.dtype])
    modules = []
    for layer in network_layers(net):
        modules.append(_linear(layer, dtype, torch))
        if layer.activation != "identity":
            modules.append(_activation_module(layer.activation, torch.nn))
    return torch.nn.Sequential(*modules).eval()


def _plain_children(module, torch):
    """The modules ``module`` applies, in order, nested plain ``Sequential`` containers
    read through; ValueError for anything whose output the chain may not describe."""
    seen = {}
    for position, child in enumerate(_applied(module, torch, "the module")):
        # act = nn.ReLU() reused computes the same at every position: read at each.
        if id(child) in seen and not _stateless_activation(child, torch):
            raise ValueError(f"torch module {type(child).__name__} is used twice (at "
                             f"{seen[id(child)]} and again later): fastnn reads each layer "
                             f"once; give each position its own module")
        seen.setdefault(id(child), f"position {position}")
        yield child


def _stateless_activation(child, torch):
    """A parameter-free, buffer-free module of an activation class fastnn reads."""
    return type(child) is not torch.nn.Linear and type(child).__name__ in BY_MODULE \
        and not any(True for _ in child.parameters()) and not any(True for _ in child.buffers())


def _applied(module, torch, where):
    if type(module) is not torch.nn.Sequential:
        raise ValueError(f"{where} is a {type(module).__name__}, a subclass of "
                         f"torch.nn.Sequential: its forward may compute something other than "
                         f"its children in order; fastnn reads a plain torch.nn.Sequential")
    _refuse_hooks(module, torch, where)
    _refuse_overrides(module, where)
    for index, child in enumerate(module):  # with repeats, as Sequential.forward runs them
        if child is None:
            raise ValueError(f"{where} has no module at position {index}")
        if isinstance(child, torch.nn.Sequential):
            yield from _applied(child, torch, f"the Sequential at position {index}")
        else:
            _refuse_hooks(child, torch, f"{type(child).__name__} at position {index}")
            _refuse_overrides(child, f"{type(child).__name__} at position {index}")
            yield child


def _refuse_overrides(module, where):
    """An instance attribute hiding a method of the class (``seq.forward = ...``) may
    change what the module computes: refused."""
    overrides = sorted(name for name in vars(module)
                       if callable(getattr(type(module), name, None)))
    if overrides:
        raise ValueError(f"{where} overrides {', '.join(overrides)} on the instance, which "
                         f"may change its output; fastnn reads modules as their class "
                         f"defines them")


def _refuse_hooks(module, torch, where):
    """Hooks may change what a module computes: refused, the global ones included."""
    from torch.nn.modules import module as module_base

    hooks = [name for name in ("_forward_hooks", "_forward_pre_hooks")
             if getattr(module, name, None)]
    hooks += [name for name in ("_global_forward_hooks", "_global_forward_pre_hooks")
              if getattr(module_base, name, None)]
    if hooks:
        raise ValueError(f"{where} has forward hooks ({', '.join(hooks)}), which may change "
                         f"its output; fastnn reads modules without hooks")


def _dense_layers(children, nn):
    return paired_layers(_steps(children, nn), lambda name: (
        f"torch module {BY_NAME[name].module} ({name}) does not follow a Linear layer; "
        f"fastnn reads one activation after each Linear"))


def _steps(children, nn):
    """``("dense", (weights, bias))`` per Linear, ``("activation", name)`` per activation."""
    for child in children:
        if type(child) is nn.Linear:
            yield "dense", _linear_parameters(child)
            continue
        activation = _activation_name(child, nn)
        if activation != "identity":  # an Identity module changes nothing
            yield "activation", activation


def _linear_parameters(linear):
    weights = linear.weight.detach().cpu().numpy().T.copy()
    if linear.bias is None:
        bias = np.zeros(weights.shape[1], dtype=weights.dtype)
    else:
        bias = linear.bias.detach().cpu().numpy().copy()
    return weights, bias


def _activation_name(module, nn):
    class_name = type(module).__name__
    known = BY_MODULE.get(class_name)
    # An exact class match: a subclass may compute something else in its forward.
    if known is None or type(module) is not getattr(nn, class_name):
        raise ValueError(f"torch module {class_name!r} is not supported; fastnn reads Linear "
                         f"and {', '.join(BY_MODULE)}")
    for attribute, (accepted, description) in known.accepts.items():
        value = getattr(module, attribute)
        if not accepted(value):
            raise ValueError(f"torch module {class_name}({attribute}={value!r}) is not "
                             f"supported: fastnn's {known.name} needs {attribute} "
                             f"{description}")
    return known.name


def _activation_module(name, nn):
    known = BY_NAME.get(name)
    if known is None:
        raise ValueError(f"PyTorch has no torch.nn module for fastnn's {name!r} activation "
                         f"(supported: {', '.join(BY_NAME)})")
    return getattr(nn, known.module)(**known.settings)


def _linear(layer, dtype, torch):
    n_in, n_out = layer.weights.shape
    # skip_init: no random initial values are drawn (the global torch RNG is untouched).
    linear = torch.nn.utils.skip_init(torch.nn.Linear, n_in, n_out, dtype=dtype)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.weights.T)))
        linear.bias.copy_(torch.from_numpy(layer.bias))
    return linear
