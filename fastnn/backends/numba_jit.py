"""Numba JIT backend: thin wrappers around the kernels of :mod:`._numba_kernels`.

The model has already validated every array (C-contiguous, the network's dtype,
finite, right shapes), so the wrappers only translate the spec into the kernels'
integer arguments (cached per spec) and call them. One compiled kernel per dtype
serves every architecture and activation/loss combination.

Sample weights go to the weighted kernels; a sparse ``X`` (canonical CSR) to the CSR
kernels, which take its ``data``, ``indices`` and ``indptr`` arrays: the first layer is
a sparse product, and ``X`` is never densified.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

from fastnn.backends import _numba_kernels as kernels
from fastnn.backends.base import Backend


def kernel_arguments(spec):
    """The architecture of ``spec`` as the kernels take it.

    Parameters
    ----------
    spec : NetworkSpec

    Returns
    -------
    layer_sizes : ndarray of int64, shape (n_layers + 1,)
    activation_codes : ndarray of int64, shape (n_layers,) or (n_layers + 9,)
        One code of ``ACTIVATION_CODES`` per weight layer, output last; followed by the
        BLAS / loop crossovers of :func:`fastnn.backends.tuning.crossovers` (9 values,
        row by row) when they differ from the shipped ``BLAS_CROSSOVER``, which the
        kernels use without them.
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
    _forward_into = staticmethod(kernels.forward_into)
    _loss = staticmethod(kernels.loss)
    _gradient_into = staticmethod(kernels.gradient_into)
    _train_step = staticmethod(kernels.train_step)
    _checked_gradient_into = staticmethod(kernels.checked_gradient_into)
    _checked_train_step = staticmethod(kernels.checked_train_step)

    def prepare(self, spec):
        """Compile (or load from the cache) every kernel for ``spec.dtype``."""
        dtype = np.dtype(spec.dtype)
        # One compiled kernel per dtype serves every activation and loss: the defaults do.
        tiny = type(spec).create((1, 1), dtype=spec.dtype)
        params = np.zeros(2, dtype=dtype)
        X = np.zeros((1, 1), dtype=dtype)
        self.forward(tiny, params, X)
        self.loss(tiny, params, X, X)
        self.gradients(tiny, params, X, X)
        self.train_step(tiny, params, X, X, 0.1)

    def forward(self, spec, params, X):
        layer_sizes, codes, _ = kernel_arguments(spec)
        Y = np.empty((X.shape[0], spec.layer_sizes[-1]), dtype=X.dtype)
        if _is_sparse(X):
            kernels.csr_forward_into(_writable(params), layer_sizes, codes, *_csr_arrays(X), Y)
        else:
            self._forward_into(_writable(params), layer_sizes, codes, _writable(X), Y)
        return Y

    def loss(self, spec, params, X, T, sample_weight=None):
        layer_sizes, codes, loss_code = kernel_arguments(spec)
        if _is_sparse(X):
            return kernels.csr_loss(_writable(params), layer_sizes, codes, loss_code,
                                    *_csr_arrays(X), _writable(T), _weights(sample_weight, T))
        if sample_weight is not None:
            return kernels.weighted_loss(_writable(params), layer_sizes, codes, loss_code,
                                         _writable(X), _writable(T), _writable(sample_weight))
        return self._loss(_writable(params), layer_sizes, codes, loss_code, _writable(X),
                          _writable(T))

    def gradients(self, spec, params, X, T, sample_weight=None):
        layer_sizes, codes, loss_code = kernel_arguments(spec)
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
            loss = self._gradient_into(_writable(params), layer_sizes, codes, loss_code,
                                       _writable(X), _writable(T), grad, _workspace(spec, X))
        return loss, grad

    def train_step(self, spec, params, X, T, learning_rate, sample_weight=None):
        if sample_weight is not None or type(X) is not np.ndarray:
            # The kernel's update, params[i] -= rate * grad[i], rounds as this one does.
            loss, grad = self.gradients(spec, params, X, T, sample_weight)
            params -= learning_rate * grad
            return loss
        layer_sizes, codes, loss_code = kernel_arguments(spec)
        return self._train_step(params, layer_sizes, codes, loss_code, _writable(X),
                                _writable(T), learning_rate, np.empty_like(params),
                                _workspace(spec, X))

    def bind(self, spec, params):
        """The kernels bound to one network: see :class:`BoundKernels`."""
        return BoundKernels(self, spec, params)

    def train_epoch(self, spec, params, X, T, order, options, optimizer, sample_weight=None):
        from fastnn.backends import _numba_train_kernels  # it imports this module

        return _numba_train_kernels.run_epoch(spec, params, X, T, order, options, optimizer,
                                              sample_weight)


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
        forward_into, gradient_into = backend._forward_into, backend._checked_gradient_into
        train_step = backend._checked_train_step
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
            return gradient_into(params, layer_sizes, codes, loss_code, X, T, grad,
                                 empty(X.shape[0] * per_row, dtype)), grad

        def step(X, T, learning_rate):
            grad, workspace = step_scratch
            size = X.shape[0] * per_row
            if workspace.shape[0] != size:
                workspace = empty(size, dtype)
                if size <= _KEPT_WORKSPACE:
                    step_scratch[1] = workspace
            return train_step(params, layer_sizes, codes, loss_code, X, T, learning_rate,
                              grad, workspace)

        self.forward, self.gradients, self.train_step = forward, gradients, step


def _tuned_crossovers():
    """The crossovers in force as the 9 values the kernels read after the activation
    codes; none when they are the shipped ones (compiled into the kernels)."""
    from fastnn.backends import tuning

    in_force = tuning.crossovers()
    if in_force == tuning.shipped_crossovers():
        return []
    return [int(value) for triple in in_force for value in triple]


def clear_argument_cache():
    """Forget the kernel arguments built so far (after the tuning in force changed), and
    rebind the :class:`BoundKernels` alive to the new ones."""
    _ARGUMENTS.clear()
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


def _writable(array):
    """``array``, or a copy of it if it is read-only.

    Numba types a read-only array apart from a writable one, so a read-only input (or a
    read-only parameter view) would compile every kernel a second time (seconds); a copy
    costs microseconds.
    """
    return array if array.flags.writeable else array.copy()


# id(spec) -> (spec, kernel arguments); cleared when it grows past the bound.
_ARGUMENTS = {}
_MAX_CACHED_SPECS = 4096
_WORKSPACE_PER_ROW = {}
# Every BoundKernels alive, for clear_argument_cache.
_BOUND = weakref.WeakSet()
_BOUND_LOCK = threading.Lock()
# The largest train_step workspace (values) a network keeps between calls: 1 MiB of
# float64, a batch of about 250 rows of 100-100-50-10.
_KEPT_WORKSPACE = 2 ** 17

BACKEND = NumbaBackend()
