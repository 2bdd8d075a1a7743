"""Numba JIT backend: thin wrappers around the kernels of :mod:`._numba_kernels`.

The model has already validated every array (C-contiguous, the network's dtype,
finite, right shapes), so the wrappers only translate the spec into the kernels'
integer arguments (cached per spec) and call them.

Kernels are specialised per configuration (:class:`KernelConfiguration`: the hidden and
output activations, the loss and, for the epoch kernels, the optimizer): a network's
kernels come from a copy of the kernel module compiled for its configuration alone
(:func:`specialised`), so it compiles only the activation, loss and optimizer it uses;
one compiled kernel per dtype serves every architecture of that configuration. With
``FASTNN_SPECIALISED_KERNELS=0`` (:data:`fastnn.config.SPECIALISED_KERNELS`) every
network uses the plain modules' kernels, which read the activations and the loss from
their code arguments at run time: one compile per dtype serves every configuration
(the test suite, which sweeps hundreds of configurations, runs that way).

Sample weights go to the weighted kernels; a sparse ``X`` (canonical CSR) to the CSR
kernels, which take its ``data``, ``indices`` and ``indptr`` arrays: the first layer is
a sparse product, and ``X`` is never densified.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import weakref
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse

from fastnn import config
from fastnn.backends import _numba_kernels as kernels
from fastnn.backends.base import Backend
from fastnn.optimizers import OPTIMIZER_CODES
from fastnn.params import parameter_count

# The kernel modules that are compiled per configuration (templates).
NETWORK_KERNELS = "fastnn.backends._numba_kernels"
EPOCH_KERNELS = "fastnn.backends._numba_train_kernels"
# The kernels a backend calls per dense batch, by their names in its kernel module.
DENSE_KERNELS = ("forward_into", "loss", "gradient_into", "train_step",
                 "checked_gradient_into", "checked_train_step", "checked_gradient_step")


@dataclass(frozen=True)
class KernelConfiguration:
    """What decides a network's compiled code (besides the dtype, which Numba's
    signatures carry): names from the tables of :mod:`fastnn.functions` and
    :mod:`fastnn.optimizers`.

    Attributes
    ----------
    hidden : str
        The hidden activation ("identity" for a network without hidden layers).
    output : str
    loss : str
    optimizer : str or None
        The optimizer of the epoch kernels; None for the network kernels.
    """

    hidden: str
    output: str
    loss: str
    optimizer: str | None = None

    @property
    def tag(self):
        """The configuration as a name: in its modules' names and its kernels' qualified
        names (and so in Numba's cache file names)."""
        parts = (self.hidden, self.output, self.loss) + (
            () if self.optimizer is None else (self.optimizer,))
        return "__".join(parts)

    def network(self):
        """The configuration of the network kernels (no optimizer)."""
        return replace(self, optimizer=None)


def kernel_configuration(spec, optimizer=None):
    """The :class:`KernelConfiguration` of ``spec`` (with ``optimizer``, a name, for the
    epoch kernels), or None when the plain kernels serve every network
    (:data:`fastnn.config.SPECIALISED_KERNELS` off)."""
    if not config.SPECIALISED_KERNELS:
        return None
    hidden = spec.activation if spec.n_layers > 1 else "identity"
    return KernelConfiguration(hidden, spec.output_activation, spec.loss, optimizer)


def specialised(template, configuration):
    """The kernel module ``template`` compiled for ``configuration`` (None: the plain
    module itself, whose kernels read the codes at run time).

    The template's source runs once more as a module of its own,
    ``<template>__<configuration.tag>``, with ``CONFIGURATION`` set before it runs; its
    kernels are lazy, so only those called compile. Numba caches them on disk under
    names carrying the tag (see ``_tag_with_configuration`` in
    ``fastnn/backends/_numba_kernels.py``).
    """
    if configuration is None:
        return importlib.import_module(template)
    name = f"{template}__{configuration.tag}"
    module = _LOADED.get(name)  # only modules whose source has finished running
    if module is not None:
        return module
    with _LOAD_LOCK:
        module = _LOADED.get(name)
        if module is None:
            source = importlib.import_module(template).__file__
            module_spec = importlib.util.spec_from_file_location(name, source)
            module = importlib.util.module_from_spec(module_spec)
            module.CONFIGURATION = configuration
            sys.modules[name] = module
            try:
                module_spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
            _LOADED[name] = module
    return module


def network_kernels(spec):
    """The network kernel module of ``spec``'s configuration (see :func:`specialised`)."""
    return _kernels_of(spec, NETWORK_KERNELS)


def epoch_kernels(spec, optimizer):
    """The epoch kernel module of ``spec``'s configuration with ``optimizer`` (a name)."""
    configuration = kernel_configuration(spec, optimizer)
    return specialised(EPOCH_KERNELS, configuration)


def kernel_arguments(spec):
    """The architecture of ``spec`` as the kernels take it.

    Parameters
    ----------
    spec : NetworkSpec

    Returns
    -------
    layer_sizes : ndarray of int64, shape (n_layers + 1,)
    activation_codes : ndarray of int64, shape (n_layers,) or (n_layers + 14,)
        One code of ``ACTIVATION_CODES`` per weight layer, output last; followed by the
        BLAS / loop crossovers of :func:`fastnn.backends.tuning.crossovers` (9 values,
        row by row), the forward pass's rows per block
        (:func:`fastnn.backends.tuning.forward_row_block`), its oneDNN rule
        (:func:`fastnn.backends.tuning.external_gemm`, 2 values) and the gradient's
        (:func:`fastnn.backends.tuning.external_gradient_gemm`, 2 values) when any differs
        from the shipped ``BLAS_CROSSOVER``, ``FORWARD_ROW_BLOCK``, ``EXTERNAL_GEMM`` and
        ``EXTERNAL_GRADIENT_GEMM``, which the kernels use without them.
    loss_code : int
        The code of ``LOSS_CODES`` for ``spec.loss``.
    """
    # Keyed by identity: hashing the frozen dataclass costs more than the kernel call
    # on a single sample. The spec is kept in the entry, so an id is never reused.
    entry = _ARGUMENTS.get(id(spec))
    if entry is not None and entry[0] is spec:
        return entry[1]
    layer_sizes = np.array(spec.layer_sizes, dtype=np.int64)
    codes = np.array([kernels.ACTIVATION_CODES[name] for name in spec.activations]
                     + _tuned_crossovers(), dtype=np.int64)
    arguments = (layer_sizes, codes, kernels.LOSS_CODES[spec.loss])
    if len(_ARGUMENTS) >= _MAX_CACHED_SPECS:
        _ARGUMENTS.clear()
    _ARGUMENTS[id(spec)] = (spec, arguments)
    return arguments


class NumbaBackend(Backend):
    """The ``@njit`` kernels, float64 and float32; BLAS inside the kernels for large layers."""

    name = "numba"
    description = "Numba JIT kernels; BLAS inside the kernels for large layers"
    dtypes = ("float64", "float32")
    compiles = True
    runs_epochs = True
    accepts_sparse = True
    crossover_kernels = kernels.__name__

    # The module of the dense-batch kernels (DENSE_KERNELS); a configuration's copy of it
    # serves each network (see dense_kernels).
    _dense_template = NETWORK_KERNELS

    def prepare(self, spec):
        """Compile (or load from the cache) the kernels of ``spec``'s configuration and
        dtype (one architecture's compile serves every architecture)."""
        dtype = np.dtype(spec.dtype)
        tiny = type(spec).create(
            (1, 1) if spec.n_layers == 1 else (1, 1, 1), activation=spec.activation,
            output_activation=spec.output_activation, loss=spec.loss, dtype=spec.dtype)
        params = np.zeros(parameter_count(tiny.layer_sizes), dtype=dtype)
        X = np.zeros((1, 1), dtype=dtype)
        self.forward(tiny, params, X)
        self.loss(tiny, params, X, X)
        self.gradients(tiny, params, X, X)
        self.train_step(tiny, params, X, X, 0.1)

    def dense_kernels(self, spec):
        """The dense-batch kernels (:data:`DENSE_KERNELS`) for ``spec``, by name: those of
        its configuration's copy of this backend's kernel module (``_dense_template``),
        except where a subclass defines its own as ``_<name>`` (``_forward_into``, ...)."""
        entry = _DENSE.get((id(spec), type(self)))
        if entry is not None and entry[0] is spec:
            return entry[1]
        module = specialised(self._dense_template, kernel_configuration(spec))
        chosen = {}
        for name in DENSE_KERNELS:
            own = getattr(type(self), f"_{name}", None)
            chosen[name] = getattr(module, name) if own is None else own
        if len(_DENSE) >= _MAX_CACHED_SPECS:
            _DENSE.clear()
        _DENSE[(id(spec), type(self))] = (spec, chosen)
        return chosen

    def forward(self, spec, params, X):
        layer_sizes, codes, _ = kernel_arguments(spec)
        Y = np.empty((X.shape[0], spec.layer_sizes[-1]), dtype=X.dtype)
        if _is_sparse(X):
            network_kernels(spec).csr_forward_into(_writable(params), layer_sizes, codes,
                                                   *_csr_arrays(X), Y)
        else:
            self.dense_kernels(spec)["forward_into"](_writable(params), layer_sizes, codes,
                                                     _writable(X), Y)
        return Y

    def loss(self, spec, params, X, T, sample_weight=None):
        layer_sizes, codes, loss_code = kernel_arguments(spec)
        kernels = network_kernels(spec)
        if _is_sparse(X):
            return kernels.csr_loss(_writable(params), layer_sizes, codes, loss_code,
                                    *_csr_arrays(X), _writable(T), _weights(sample_weight, T))
        if sample_weight is not None:
            return kernels.weighted_loss(_writable(params), layer_sizes, codes, loss_code,
                                         _writable(X), _writable(T), _writable(sample_weight))
        return self.dense_kernels(spec)["loss"](_writable(params), layer_sizes, codes,
                                                loss_code, _writable(X), _writable(T))

    def gradients(self, spec, params, X, T, sample_weight=None):
        layer_sizes, codes, loss_code = kernel_arguments(spec)
        kernels = network_kernels(spec)
        grad = np.empty_like(params)
        if _is_sparse(X):
            loss = kernels.csr_gradient_into(
                _writable(params), layer_sizes, codes, loss_code, *_csr_arrays(X),
                _writable(T), _weights(sample_weight, T), grad, _workspace(spec, T))
        elif sample_weight is not None:
            loss = kernels.weighted_gradient_into(
                _writable(params), layer_sizes, codes, loss_code, _writable(X), _writable(T),
                _writable(sample_weight), grad, _workspace(spec, X))
        else:
            loss = self.dense_kernels(spec)["gradient_into"](
                _writable(params), layer_sizes, codes, loss_code, _writable(X), _writable(T),
                grad, _workspace(spec, X))
        return loss, grad

    def train_step(self, spec, params, X, T, learning_rate, sample_weight=None):
        if sample_weight is not None or type(X) is not np.ndarray:
            # Rounds as the kernel's update does: params - rate * grad in the dtype of
            # params (fastnn.backends._numba_step.step_rate; NumPy takes a Python float as
            # the array's dtype).
            loss, grad = self.gradients(spec, params, X, T, sample_weight)
            params -= learning_rate * grad
            return loss
        layer_sizes, codes, loss_code = kernel_arguments(spec)
        return self.dense_kernels(spec)["train_step"](
            params, layer_sizes, codes, loss_code, _writable(X), _writable(T), learning_rate,
            np.empty_like(params), _workspace(spec, X))

    def bind(self, spec, params):
        """The kernels bound to one network: see :class:`BoundKernels`."""
        return BoundKernels(self, spec, params)

    def train_epoch(self, spec, params, X, T, order, options, optimizer, sample_weight=None):
        return compiled_epoch(spec, params, X, T, order, options, optimizer, sample_weight)


class BoundKernels:
    """The kernels of ``backend`` bound to one network (its spec and parameter buffer):
    the model's per-call fast path, one Python frame over the kernel call.

    The methods take plain arrays (as ``fastnn.validation.PlainArrays`` describes them:
    2-D, writable, C-contiguous, the network's dtype and widths) and report what is not
    finite instead of raising, so that the model's checked path can say what it is. The
    kernel arguments are rebuilt in place when the tuning in force changes
    (:func:`clear_argument_cache`).

    Attributes
    ----------
    forward : callable ``(X) -> Y or None``
        The output, shape (m, n_outputs); None unless ``X`` and the output are finite.
    gradients : callable ``(X, T) -> (loss, grad)``
        ``grad`` of shape (n_params,), fresh; ``loss`` is NaN unless ``X``, ``T``, the
        loss and ``grad`` are all finite.
    train_step : callable ``(X, T, learning_rate) -> loss``
        All or nothing, in place: NaN, with the parameters unchanged, unless the inputs,
        the loss and every new parameter are finite.
    """

    def __init__(self, backend, spec, params):
        self._parts = (backend, spec, params)
        self._bind()
        with _BOUND_LOCK:
            _BOUND.add(self)

    def _bind(self):
        backend, spec, params = self._parts
        layer_sizes, codes, loss_code = kernel_arguments(spec)
        chosen = backend.dense_kernels(spec)
        # One kernel for the gradient and the step: the network compiles one gradient.
        forward_into, gradient_step = chosen["forward_into"], chosen["checked_gradient_step"]
        n_outputs, per_row = spec.layer_sizes[-1], _workspace_per_row(spec)
        empty, dtype = np.empty, params.dtype
        # train_step's gradient and workspace, made once and kept (train_step changes the
        # parameters, so calls on one network must not overlap: MLP.train_step says so);
        # a workspace above _KEPT_WORKSPACE values is made per call, so that one big
        # batch does not hold its memory afterwards. gradients makes fresh ones, as the
        # kernels release the GIL and the gradient is returned.
        step_scratch = [np.empty_like(params), empty(per_row, dtype)]

        def forward(X):
            Y = empty((X.shape[0], n_outputs), dtype)
            return Y if forward_into(params, layer_sizes, codes, X, Y) else None

        def gradients(X, T):
            grad = empty(params.shape[0], dtype)
            return gradient_step(params, layer_sizes, codes, loss_code, X, T, 0.0, grad,
                                 empty(X.shape[0] * per_row, dtype), False), grad

        def step(X, T, learning_rate):
            grad, workspace = step_scratch
            size = X.shape[0] * per_row
            if workspace.shape[0] != size:
                workspace = empty(size, dtype)
                if size <= _KEPT_WORKSPACE:
                    step_scratch[1] = workspace
            return gradient_step(params, layer_sizes, codes, loss_code, X, T,
                                 float(learning_rate), grad, workspace, True)

        self.forward, self.gradients, self.train_step = forward, gradients, step


def _tuned_crossovers():
    """The crossovers, the forward row block and the oneDNN rules (forward, gradient) in
    force as the 14 values the kernels read after the activation codes; none when they are
    the shipped ones (compiled into the kernels)."""
    from fastnn.backends import tuning

    in_force = tuning.crossovers()
    row_block = tuning.forward_row_block()
    external = tuning.external_gemm()
    external_gradient = tuning.external_gradient_gemm()
    if in_force == tuning.shipped_crossovers() and row_block == tuning.shipped_row_block() \
            and external == tuning.shipped_external_gemm() \
            and external_gradient == tuning.shipped_external_gradient_gemm():
        return []
    return ([int(value) for triple in in_force for value in triple]
            + [row_block, *external, *external_gradient])


def clear_argument_cache():
    """Forget the kernel arguments and kernel choices made so far (after the tuning in
    force or :data:`fastnn.config.SPECIALISED_KERNELS` changed), and rebind the
    :class:`BoundKernels` alive to the new ones."""
    _ARGUMENTS.clear()
    _DENSE.clear()
    _NETWORK.clear()
    with _BOUND_LOCK:  # another thread may be binding a new network
        alive = list(_BOUND)
    for bound in alive:
        bound._bind()


def _is_sparse(X):
    """True for a sparse ``X`` (the model hands over canonical CSR): anything but an
    ndarray, tested without importing SciPy."""
    return type(X) is not np.ndarray and not isinstance(X, np.ndarray)


def _csr_arrays(X):
    """The kernels' view of a canonical CSR matrix: data, indices, indptr, n_features."""
    return (_writable(np.ascontiguousarray(X.data)), _writable(np.ascontiguousarray(X.indices)),
            _writable(np.ascontiguousarray(X.indptr)), X.shape[1])


def _weights(sample_weight, like):
    """``sample_weight``, or the kernels' "no weights" (an empty array of ``like``'s dtype)."""
    if sample_weight is None:
        return np.empty(0, dtype=like.dtype)
    return _writable(sample_weight)


def _workspace(spec, X):
    """Scratch space for the gradient kernels, from NumPy's allocator (huge pages)."""
    return np.empty(X.shape[0] * _workspace_per_row(spec), dtype=X.dtype)


def _workspace_per_row(spec):
    per_row = _WORKSPACE_PER_ROW.get(spec.layer_sizes)
    if per_row is None:
        per_row = _WORKSPACE_PER_ROW[spec.layer_sizes] = kernels.workspace_per_row(
            spec.layer_sizes)
    return per_row


def compiled_epoch(spec, params, X, T, order, options, optimizer, sample_weight=None):
    """One training epoch in the compiled kernel: ``NumbaBackend.train_epoch``.

    Parameters
    ----------
    spec : NetworkSpec
    params : ndarray, shape (n_params,)
        Updated in place.
    X : ndarray or scipy.sparse.csr_matrix, shape (n_samples, n_inputs)
    T : ndarray, shape (n_samples, n_outputs)
    order : ndarray of int64, shape (n_samples,)
    options : fastnn.hyperparameters.TrainingOptions
        ``batch_size``, ``alpha`` and ``output_mean_loss`` are read here; the optimiser
        holds the rest.
    optimizer : fastnn.optimizers.Optimizer
        Its state and step count are updated in place.
    sample_weight : ndarray, shape (n_samples,), or None

    Returns
    -------
    float
        The epoch's training loss.
    """
    layer_sizes, activation_codes, loss_code = kernel_arguments(spec)
    epoch = epoch_kernels(spec, optimizer.name)
    n_samples = X.shape[0]
    dtype = params.dtype
    batch_size = n_samples if options.batch_size is None else min(options.batch_size, n_samples)
    data_scale = 1.0 / spec.n_outputs if options.output_mean_loss else 1.0
    # Plain Python scalars of fixed types: one compiled signature per array dtype.
    network = (params, layer_sizes, activation_codes, loss_code)
    training = (int(batch_size), OPTIMIZER_CODES[optimizer.name], float(options.alpha),
                float(data_scale), optimizer.settings(), optimizer.state,
                int(optimizer.step_count))
    T = _writable(T)
    # One kernel per kind of input, chosen here: Numba compiles every branch's callees,
    # so one kernel branching at run time made a dense fit compile the sparse and
    # weighted gradients too (two thirds of a cold first fit).
    if scipy.sparse.issparse(X):
        # int64 indices whatever the matrix holds: one compiled signature per dtype.
        weights = (np.empty(0, dtype=dtype) if sample_weight is None
                   else _writable(sample_weight))
        loss = epoch.epoch_kernel_csr(*network, _writable(X.data),
                                     np.asarray(X.indices, dtype=np.int64),
                                     np.asarray(X.indptr, dtype=np.int64),
                                     int(spec.n_inputs), T, order, weights, *training)
    elif sample_weight is not None:
        loss = epoch.epoch_kernel_weighted(*network, _writable(X), T, order,
                                          _writable(sample_weight), *training)
    else:
        workspace = np.empty(batch_size * _workspace_per_row(spec), dtype=dtype)
        loss = epoch.epoch_kernel(*network, _writable(X), T, order, workspace, *training)
    optimizer.step_count += len(range(0, n_samples, batch_size))
    return float(loss)


def _writable(array):
    """``array``, or a copy of it if it is read-only.

    Numba types a read-only array apart from a writable one, so a read-only input (or a
    read-only parameter view) would compile every kernel a second time (seconds); a copy
    costs microseconds.
    """
    return array if array.flags.writeable else array.copy()


def _kernels_of(spec, template):
    entry = _NETWORK.get((id(spec), template))
    if entry is not None and entry[0] is spec:
        return entry[1]
    module = specialised(template, kernel_configuration(spec))
    if len(_NETWORK) >= _MAX_CACHED_SPECS:
        _NETWORK.clear()
    _NETWORK[(id(spec), template)] = (spec, module)
    return module


# id(spec) -> (spec, kernel arguments); cleared when it grows past the bound.
_ARGUMENTS = {}
# (id(spec), backend class) -> (spec, dense kernels by name); (id(spec), template) ->
# (spec, kernel module): the same bound.
_DENSE = {}
_NETWORK = {}
# Held while a configuration's module is created (its source may load another one); the
# modules created, by name.
_LOAD_LOCK = threading.RLock()
_LOADED = {}
_MAX_CACHED_SPECS = 4096
_WORKSPACE_PER_ROW = {}
# Every BoundKernels alive, for clear_argument_cache.
_BOUND = weakref.WeakSet()
_BOUND_LOCK = threading.Lock()
# The largest train_step workspace (values) a network keeps between calls: 1 MiB of
# float64, a batch of about 250 rows of 100-100-50-10.
_KEPT_WORKSPACE = 2 ** 17

BACKEND = NumbaBackend()
