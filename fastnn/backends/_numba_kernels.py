"""The ``@njit`` kernels of the ``numba`` backend. They assume clean input.

Every kernel serves every architecture: the parameters arrive as the flat buffer of
:mod:`fastnn.params`, the architecture as an int64 array of layer sizes, and the
activations and loss as small integer codes, one per entry of the tables of
:mod:`fastnn.functions` (:data:`ACTIVATION_CODES`, :data:`LOSS_CODES`, generated
below from the names this module implements, which must be exactly the tables' names:
an entry without a Numba version makes the backend unavailable, naming it). The
formulas are exactly those of :mod:`fastnn.functions` (read its docstring):
overflow-free sigmoid, softmax with the row maximum subtracted, softplus / log-softmax
/ identity forms of the log for the sigmoid, softmax and exp outputs, ``LOG_FLOOR`` clip
and clipped reciprocal for every other output, the poisson loss as
``t (log t - log y) + (y - t)``. A layer's pre-activation ``Z`` is kept for
back-propagation only where its activation's derivative needs it
(``derivative_needs_z`` in the table).

One source, two uses: imported plainly, the kernels read the codes at run time and
serve every configuration; run once more per configuration by
:func:`fastnn.backends.numba_backend.specialised` (``CONFIGURATION`` below), they take the
hidden and output activations and the loss as constants and compile only their paths
(the code arguments are then read only for the crossovers). The activations' and
losses' forms sit in small per-name functions behind one dispatch each
(:func:`_activate_in_place`, :func:`_derivative`, :func:`_mean_loss_by_code`,
:func:`_output_deltas_by_code`); a configuration inlines the dispatch with its constant
code, which Numba prunes to one line before typing. The activations' transcendental
forms (sigmoid, tanh, elu, softplus, silu, exp, softmax's exponentials and the
derivatives that need one) come from :mod:`fastnn.backends._numba_math`, in the
network's own precision and in a form LLVM vectorises.

A layer ``Z = A_prev @ W + b`` runs through BLAS (``np.dot``) when it is large
(see ``BLAS_CROSSOVER``) and through fused loops otherwise;
the loops add in the same order as the pure-Python reference.

Public kernels (all arrays C-contiguous, one float dtype; ``layer_sizes`` and
``activation_codes`` int64, one activation code per weight layer, optionally followed by
nine BLAS / loop crossovers that replace ``BLAS_CROSSOVER`` (a run-time tuning; see
``_use_blas``), a tenth value, the forward pass's rows per block, that replaces
``FORWARD_ROW_BLOCK`` (see ``_row_block``), and two more, the rows and weights from which
the forward pass's float32 products go to oneDNN, that replace ``EXTERNAL_GEMM`` (see
``_external``), and two more, the multiply-adds from which the gradient's float32 weight
gradients and back-propagated deltas go to oneDNN, that replace
``EXTERNAL_GRADIENT_GEMM`` (see ``_external_gradient``); ``weights`` the
per-sample weights, shape (m,), of the float dtype: finite, >= 0, positive sum, or of
length 0 for the plain mean):

``forward(params, layer_sizes, activation_codes, X) -> Y``
``forward_into(params, layer_sizes, activation_codes, X, Y) -> bool (X and Y finite)``
``loss(params, layer_sizes, activation_codes, loss_code, X, T) -> float``
``loss_and_gradient(params, layer_sizes, activation_codes, loss_code, X, T, grad) -> float``
``gradient_into(params, layer_sizes, activation_codes, loss_code, X, T, grad, workspace)
-> float``
``train_step(params, layer_sizes, activation_codes, loss_code, X, T, learning_rate, grad,
workspace) -> float``
``checked_gradient_into(...)``, ``checked_train_step(...)``: the same arguments as the two
above; the loss, or NaN (and for the step ``params`` unchanged) unless the inputs, the
loss and the gradient / new parameters are all finite.
``checked_gradient_step(params, layer_sizes, activation_codes, loss_code, X, T,
learning_rate, grad, workspace, step) -> float``: either of the two in one kernel.

Sample weights (the loss is ``sum_i w_i L_i / sum_i w_i``, the gradient its true
gradient; with ``weights`` of length 0 the results are bit for bit those of the
unweighted kernels above, which share the same code):

``weighted_loss(params, layer_sizes, activation_codes, loss_code, X, T, weights) -> float``
``loss_and_gradient_weighted(params, layer_sizes, activation_codes, loss_code, X, T,
weights, grad) -> float``
``weighted_gradient_into(params, layer_sizes, activation_codes, loss_code, X, T, weights,
grad, workspace) -> float``

Sparse inputs, the first layer as a sparse product (the rest of the network is dense):
``X`` as the arrays of a canonical CSR matrix (sorted column indices, no duplicates):
``X_data`` (nnz,) of the float dtype, ``X_indices`` (nnz,) and ``X_indptr`` (m + 1,)
both int32 or both int64; ``n_features == layer_sizes[0]``. ``X_indptr`` may be a slice
of a larger matrix's ``indptr`` (``X_indptr[0]`` need not be 0): a mini-batch of rows
``start:stop`` is ``X_indptr[start:stop + 1]`` with the whole ``X_data``/``X_indices``.
The first layer adds each row's stored entries in column order, from the bias, as the
dense loops do, so it differs from a dense input only by the zero terms it skips; its
weight gradient ``X.T @ delta`` visits the stored entries only (the dense gradient block
is zeroed first). ``n_features`` is ``layer_sizes[0]``, passed for the reader's sake.

``csr_forward_into(params, layer_sizes, activation_codes, X_data, X_indices, X_indptr,
n_features, Y) -> bool (X_data and Y finite)``
``csr_loss(params, layer_sizes, activation_codes, loss_code, X_data, X_indices, X_indptr,
n_features, T, weights) -> float``
``csr_loss_and_gradient(params, layer_sizes, activation_codes, loss_code, X_data,
X_indices, X_indptr, n_features, T, weights, grad) -> float``
``csr_gradient_into(params, layer_sizes, activation_codes, loss_code, X_data, X_indices,
X_indptr, n_features, T, weights, grad, workspace) -> float``

``workspace`` has at least ``m * workspace_per_row(layer_sizes)`` values of the float
dtype (:func:`workspace_per_row`, a Python function).
"""

from __future__ import annotations

import math

import numpy as np

from fastnn import config
from fastnn.backends import _external_gemm as external_gemm
from fastnn.backends import _numba_math as elementwise
from fastnn.backends import _numba_step as update
from fastnn.functions import ACTIVATIONS, ELU_ALPHA, LEAKY_RELU_SLOPE, LOG_FLOOR, LOSSES


def _codes(table, names, kind):
    """Name -> code (position in ``names``, the entries implemented here) for ``table``.

    The codes follow this module's order, not the table's: Numba freezes them into
    the compiled kernels, and its on-disk cache is keyed on this file alone, so codes
    that a reordering of the table could change would leave stale cached kernels.
    """
    if set(names) != set(table):
        raise ImportError(
            f"the numba kernels implement the {kind}s {sorted(names)}; the table of "
            f"fastnn.functions has {sorted(table)}")
    return {name: code for code, name in enumerate(names)}


# The entries the kernels below implement, each under its table name.
ACTIVATION_CODES = _codes(
    ACTIVATIONS,
    ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "identity", "softmax", "softplus", "silu",
     "exp"),
    "activation")
LOSS_CODES = _codes(LOSSES, ("mse", "cross_entropy", "binary_cross_entropy", "poisson"), "loss")
SIGMOID, TANH, RELU, LEAKY_RELU, ELU, IDENTITY, SOFTMAX, SOFTPLUS, SILU, EXP = \
    ACTIVATION_CODES.values()
MSE, CROSS_ENTROPY, BINARY_CROSS_ENTROPY, POISSON = LOSS_CODES.values()
# Per activation code: whether back-propagation needs the layer's Z.
NEEDS_Z = tuple(ACTIVATIONS[name].derivative_needs_z for name in ACTIVATION_CODES)

# The configuration this copy of the source is compiled for. The plain import has none:
# its kernels read the activations and the loss from their code arguments at run time
# (GENERIC), so that they serve every network. fastnn.backends.numba_backend.specialised runs
# this same source once more per configuration, as a module of its own with
# CONFIGURATION set before the source runs; there the codes below are constants, and
# Numba drops every branch of another activation or loss before typing it (a global
# compared with a global is pruned), so a network compiles only what it uses.
CONFIGURATION = globals().get("CONFIGURATION")
GENERIC = -1
if CONFIGURATION is None:
    HIDDEN = OUTPUT = LOSS = GENERIC
else:
    HIDDEN = ACTIVATION_CODES[CONFIGURATION.hidden]
    OUTPUT = ACTIVATION_CODES[CONFIGURATION.output]
    LOSS = LOSS_CODES[CONFIGURATION.loss]

# The three matrix products of a layer go to BLAS (np.dot) or to fused loops, by the
# crossover measured on the project machine (benchmarks/test_numba_targets.py::
# test_blas_crossover prints the per-product table; whole gradients and forward passes
# were compared end to end for the choice). Per product:
# (multiply-adds from which one row uses BLAS, rows from which a batch may,
#  multiply-adds from which such a batch does). Small products and small row counts
# favour the loops (np.dot's call and packing overhead); the back-propagated delta is a
# reduction the loops cannot vectorise without reordering sums, so BLAS wins it early.
# One row's forward layer stays in the loops up to 16384 multiply-adds since they take
# eight inputs per pass (100x50: 0.40 us loops, 0.48 us BLAS; 100x100: 0.95 / 0.98 us).
FORWARD_LAYER, WEIGHT_GRADIENT, BACK_DELTA = range(3)
BLAS_CROSSOVER = ((16384, 8, 2048), (4096, 2, 8192), (1024, 1, 1024))
# The forward pass alone (forward_into) runs a batch of more rows than this in blocks of
# this many rows, every layer per block: the block's activations stay in L1/L2 between
# the product, the bias and the activation, and BLAS sees block-sized products, which
# OpenBLAS runs faster than 1024-row ones on narrow layers (1024 x 64 x 30 float32: 66
# GFLOP/s whole, 100 in 256-row blocks). Measured on an AMD EPYC (Zen 4, OpenBLAS's
# SkylakeX kernels; fastnn.bench.measure.row_block, both dtypes): 512 rows ran the forward
# of 64-30-10 x 1024 1.27x faster, x 4096 1.38x, 100-100-50-10 and 784-256-128-10 x 1024
# and x 4096 at 0.99x-1.11x (256 rows: 0.97x-1.38x). 0 runs every batch whole. `fastnn
# tune` measures it per machine (the tenth tuned value after the crossovers, _row_block).
FORWARD_ROW_BLOCK = 512
# The forward pass's float32 products that go to oneDNN's sgemm instead of np.dot, where
# oneDNN is installed (fastnn.backends._external_gemm): those of at least this many rows
# and this many weights (n_in * n_out). Shipped: never; `fastnn tune` measures the rule
# where the library is present (values 11 and 12 after the activation codes, _external).
EXTERNAL_GEMM = (2 ** 62, 2 ** 62)
# The gradient's float32 products that go to oneDNN's sgemm instead of np.dot: a weight
# gradient A_prev.T @ delta / a back-propagated delta @ W.T of at least this many
# multiply-adds (m * n_in * n_out), oneDNN reading the transposed operand in place. On an
# AMD EPYC (Zen 4, AVX-512, 1 thread; benchmarks/gemm_options.py --products ...) OpenBLAS
# runs 1024 x 784 x 256's weight gradient at 85 GFLOP/s, oneDNN at 108, and 1024 x 64 x
# 30's at 50 against 103, while OpenBLAS leads below about half a million multiply-adds
# and on 100 x 100's back delta. Shipped: never; `fastnn tune` measures both where the
# library is present (values 13 and 14 after the activation codes, _external_gradient).
EXTERNAL_GRADIENT_GEMM = (2 ** 62, 2 ** 62)


def jit(function=None, *, helper=False, **overrides):
    """``numba.njit`` with the options of :mod:`fastnn.config`.

    ``helper=True`` marks a function that only other kernels call: it gets no Python entry
    point (``config.HELPER_JIT_OPTIONS``), which saves compile time, and calling it from
    Python fails. The few helpers that tests and benchmarks call directly keep theirs.

    With ``cache=True`` Numba needs somewhere to write (``NUMBA_CACHE_DIR``, the
    package's ``__pycache__`` or the user cache); where none is writable it refuses
    to decorate, and the kernel is compiled without the on-disk cache instead.
    """
    options = dict(config.JIT_OPTIONS, **(config.HELPER_JIT_OPTIONS if helper else {}),
                   **overrides)

    def decorate(py_function):
        _tag_with_configuration(py_function)
        return config.njit(py_function, **options)

    return decorate if function is None else decorate(function)


def _tag_with_configuration(py_function):
    """Append the configuration of the function's module (if any) and the digest of the
    kernels' other sources to its ``__qualname__``.

    Numba names its cache files after the source file and the qualified name, and keys
    the entries on the bytecode: every configuration compiles the same bytecode, so
    without the configuration they would share one entry (and load each other's code);
    and it stamps an entry with this file's content only, so without the digest an edit
    of :mod:`fastnn.backends._numba_math` or the tables would load stale kernels
    (:func:`fastnn.config.kernel_dependencies_digest`).
    """
    configuration = py_function.__globals__.get("CONFIGURATION")
    tag = "" if configuration is None else f"__{configuration.tag}"
    tag += f"__{config.kernel_dependencies_digest()}"
    if not py_function.__qualname__.endswith(tag):
        py_function.__qualname__ += tag


# --- public kernels ---------------------------------------------------------------------

# Small helpers are inlined (inline="always") where they are called: a function compiled
# on its own costs a tenth of a second or more of a cold first call, whatever its size.
# Large bodies are not: Numba copies an inlined body at a cost that grows with its size
# squared, at every call site.

# Where the first layer's weights start in the flat buffer, as a run-time int64: with a
# literal 0 Numba compiles a separate specialisation of the layer loops, which LLVM
# vectorises worse (a 100x100 layer on one row took 2.5x as long).
FIRST_LAYER = np.int64(0)

@jit
def forward(params, layer_sizes, activation_codes, X):
    """Network output, shape (m, layer_sizes[-1])."""
    Y = np.empty((X.shape[0], layer_sizes[-1]), dtype=X.dtype)
    forward_into(params, layer_sizes, activation_codes, X, Y)
    return Y


@jit
def forward_into(params, layer_sizes, activation_codes, X, Y):
    """Write the network output into ``Y`` (m, layer_sizes[-1]); True if ``X`` and ``Y``
    are finite.

    The finiteness test rides along with the forward pass, so the caller need not scan
    its arrays again; ``X`` is tested itself because a saturating activation can turn an
    infinite input into a finite output.
    """
    m = X.shape[0]
    block = _row_block(layer_sizes, activation_codes)
    if block <= 0 or m <= block:
        buffers = _forward_buffers(layer_sizes, m, Y)
        _forward_layers(params, layer_sizes, activation_codes, X, FIRST_LAYER, buffers, Y)
    else:
        _forward_blocks(params, layer_sizes, activation_codes, X, block, Y)
    return _all_finite(X.reshape(X.size)) and _all_finite(Y.reshape(Y.size))


@jit
def csr_forward_into(params, layer_sizes, activation_codes, X_data, X_indices, X_indptr,
                     n_features, Y):
    """:func:`forward_into` of the CSR rows ``X_data, X_indices, X_indptr``; True if the
    rows' stored values and ``Y`` are finite."""
    m = X_indptr.shape[0] - 1
    buffers = _forward_buffers(layer_sizes, m, Y)
    if layer_sizes.shape[0] == 2:
        Z = Y
    else:
        Z = buffers[:m * layer_sizes[1]].reshape((m, layer_sizes[1]))
    _csr_dense(X_data, X_indices, X_indptr, params, layer_sizes[0], layer_sizes[1], Z)
    if layer_sizes.shape[0] == 2:
        _activate_output_in_place(activation_codes[0], Z)
    else:
        _activate_hidden(activation_codes[0], Z)
    _forward_layers(params, layer_sizes, activation_codes, Z, FIRST_LAYER + 1, buffers, Y)
    stored = X_data[X_indptr[0]:X_indptr[m]]
    return _all_finite(stored) and _all_finite(Y.reshape(Y.size))


@jit(inline="always")
def _all_finite(values):
    finite = True
    for k in range(values.shape[0]):
        # x - x is 0 for every finite x and NaN for infinity and NaN (no fastmath
        # flag here lets LLVM fold it away); a branch-free AND vectorises.
        finite &= values[k] - values[k] == 0.0
    return finite


@jit
def loss(params, layer_sizes, activation_codes, loss_code, X, T):
    """Mean loss over the rows of ``X``; ``T`` has shape (m, layer_sizes[-1])."""
    trace, Z_out = _trace_buffers(layer_sizes, X.shape[0], T)
    # No hidden layer's Z: the loss alone back-propagates nothing.
    _forward_trace(params, layer_sizes, activation_codes, X, trace, Z_out, trace[:0])
    return _trace_loss(loss_code, layer_sizes, activation_codes, trace, Z_out, T, trace[:0])


@jit
def weighted_loss(params, layer_sizes, activation_codes, loss_code, X, T, weights):
    """Weighted mean loss ``sum_i w_i L_i / sum_i w_i`` over the rows of ``X``."""
    trace, Z_out = _trace_buffers(layer_sizes, X.shape[0], T)
    _forward_trace(params, layer_sizes, activation_codes, X, trace, Z_out, trace[:0])
    return _trace_loss(loss_code, layer_sizes, activation_codes, trace, Z_out, T, weights)


@jit
def csr_loss(params, layer_sizes, activation_codes, loss_code, X_data, X_indices, X_indptr,
             n_features, T, weights):
    """:func:`weighted_loss` of the CSR rows ``X_data, X_indices, X_indptr``."""
    trace, Z_out = _trace_buffers(layer_sizes, X_indptr.shape[0] - 1, T)
    _csr_forward_trace(params, layer_sizes, activation_codes, X_data, X_indices, X_indptr,
                       trace, Z_out, trace[:0])
    return _trace_loss(loss_code, layer_sizes, activation_codes, trace, Z_out, T, weights)


@jit
def loss_and_gradient(params, layer_sizes, activation_codes, loss_code, X, T, grad):
    """Mean loss over the rows of ``X``; its gradient is written into ``grad``.

    Parameters
    ----------
    params : ndarray, shape (n_params,)
        The flat parameter buffer (layout of :mod:`fastnn.params`).
    layer_sizes : ndarray of int64, shape (n_layers + 1,)
    activation_codes : ndarray of int64, shape (n_layers,)
    loss_code : int
    X : ndarray, shape (m, layer_sizes[0]), m >= 1
    T : ndarray, shape (m, layer_sizes[-1])
    grad : ndarray, shape (n_params,)
        Output: the gradient of the mean loss, same layout and dtype as ``params``.

    Returns
    -------
    float
        The mean loss.
    """
    workspace = np.empty(X.shape[0] * _workspace_per_row(layer_sizes), dtype=X.dtype)
    return _gradient_into(params, layer_sizes, activation_codes, loss_code, X, T,
                          workspace[:0], grad, workspace)


@jit
def loss_and_gradient_weighted(params, layer_sizes, activation_codes, loss_code, X, T,
                               weights, grad):
    """:func:`loss_and_gradient` of the weighted mean loss.

    ``weights`` (m,) of the dtype of ``X``: finite, >= 0, positive sum; of length 0 for
    the plain mean (then bit for bit :func:`loss_and_gradient`).
    """
    workspace = np.empty(X.shape[0] * _workspace_per_row(layer_sizes), dtype=X.dtype)
    return weighted_gradient_into(params, layer_sizes, activation_codes, loss_code, X, T,
                                  weights, grad, workspace)


@jit
def csr_loss_and_gradient(params, layer_sizes, activation_codes, loss_code, X_data,
                          X_indices, X_indptr, n_features, T, weights, grad):
    """:func:`loss_and_gradient_weighted` of the CSR rows ``X_data, X_indices, X_indptr``
    (``weights`` of length 0: the plain mean)."""
    workspace = np.empty((X_indptr.shape[0] - 1) * _workspace_per_row(layer_sizes),
                         dtype=T.dtype)
    return csr_gradient_into(params, layer_sizes, activation_codes, loss_code, X_data,
                             X_indices, X_indptr, n_features, T, weights, grad, workspace)


@jit
def gradient_into(params, layer_sizes, activation_codes, loss_code, X, T, grad, workspace):
    """:func:`loss_and_gradient` with the caller's scratch space.

    ``workspace`` has at least ``m * workspace_per_row(layer_sizes)`` values of the
    dtype of ``params``. Callers that allocate it with NumPy get huge pages for large
    batches, where Numba's allocator faults in every 4 KiB page of a fresh buffer.
    """
    return _gradient_into(params, layer_sizes, activation_codes, loss_code, X, T,
                          workspace[:0], grad, workspace)


@jit
def weighted_gradient_into(params, layer_sizes, activation_codes, loss_code, X, T, weights,
                           grad, workspace):
    """:func:`loss_and_gradient_weighted` with the caller's scratch space (as
    :func:`gradient_into`)."""
    return _gradient_into(params, layer_sizes, activation_codes, loss_code, X, T, weights,
                          grad, workspace)


# Inlined into every kernel that computes a gradient: a call level costs 3% of a one-row
# gradient, and a kernel calling the compiled gradient_into instead links in its whole
# library, which LLVM optimises and translates again (two seconds of a cold first step).
@jit(inline="always")
def _gradient_into(params, layer_sizes, activation_codes, loss_code, X, T, weights, grad,
                   workspace):
    mean_loss, delta = _all_but_first_weights(params, layer_sizes, activation_codes,
                                              loss_code, X, T, weights, grad, workspace)
    _first_weight_gradient(X, delta, grad, layer_sizes, activation_codes)
    return mean_loss


@jit(inline="always")
def _all_but_first_weights(params, layer_sizes, activation_codes, loss_code, X, T, weights,
                           grad, workspace):
    """The forward and backward passes: the mean loss, and the gradient of every parameter
    but the first layer's weights and bias; returns ``(mean_loss, delta)``, ``delta`` the
    first layer's, shape (m, layer_sizes[1])."""
    trace, Z_out, deltas, hidden_Z = _split_workspace(workspace, layer_sizes, X.shape[0])
    _forward_trace(params, layer_sizes, activation_codes, X, trace, Z_out, hidden_Z)
    return _back_propagate(params, layer_sizes, activation_codes, loss_code, trace, Z_out,
                           deltas, hidden_Z, T, weights, grad)


@jit(inline="always")
def _first_weight_gradient(X, delta, grad, layer_sizes, activation_codes):
    """The first layer's weight and bias gradient from its input ``X`` (m, layer_sizes[0])
    and its ``delta`` (m, layer_sizes[1]), into ``grad``."""
    m, n_in, n_out = X.shape[0], layer_sizes[0], layer_sizes[1]
    if not (_external_gradient(WEIGHT_GRADIENT, m, n_in, n_out, layer_sizes,
                               activation_codes)
            and _external_weight_gradient(X, delta, grad, FIRST_LAYER, n_in, n_out)):
        _weight_gradient(X, delta, grad, FIRST_LAYER, n_in, n_out,
                         _use_blas(m, n_in, n_out, WEIGHT_GRADIENT,
                                   _crossovers(layer_sizes, activation_codes)))


@jit
def csr_gradient_into(params, layer_sizes, activation_codes, loss_code, X_data, X_indices,
                      X_indptr, n_features, T, weights, grad, workspace):
    """:func:`csr_loss_and_gradient` with the caller's scratch space (as
    :func:`gradient_into`); the first layer's weight gradient is a sparse product too."""
    m = X_indptr.shape[0] - 1
    trace, Z_out, deltas, hidden_Z = _split_workspace(workspace, layer_sizes, m)
    _csr_forward_trace(params, layer_sizes, activation_codes, X_data, X_indices, X_indptr,
                       trace, Z_out, hidden_Z)
    mean_loss, delta = _back_propagate(params, layer_sizes, activation_codes, loss_code,
                                       trace, Z_out, deltas, hidden_Z, T, weights, grad)
    _csr_weight_gradient(X_data, X_indices, X_indptr, delta, grad, layer_sizes[0],
                         layer_sizes[1])
    return mean_loss


@jit
def train_step(params, layer_sizes, activation_codes, loss_code, X, T, learning_rate, grad,
               workspace):
    """One gradient-descent step on the mean loss, in place; returns the loss before it.

    ``grad`` (shape and dtype of ``params``) and ``workspace`` are the caller's scratch
    space, as in :func:`gradient_into`; ``grad`` is left undefined. The update computes in
    the dtype of ``params`` (:mod:`fastnn.backends._numba_step`).
    """
    mean_loss, delta = _all_but_first_weights(params, layer_sizes, activation_codes,
                                              loss_code, X, T, workspace[:0], grad,
                                              workspace)
    rate = update.step_rate(params, learning_rate)
    head = _first_bias_gradient(layer_sizes, delta, grad)
    if not (_fuses_first_layer(X, layer_sizes, activation_codes)
            and _apply_first_weight_gradient(params[:head], rate, X, delta, layer_sizes,
                                             activation_codes)):
        # One call site of _first_weight_gradient per kernel: LLVM inlines each, and a
        # second copy cost 2.8 s of the gradient kernel's compile.
        _first_weight_gradient(X, delta, grad, layer_sizes, activation_codes)
        update.step(params[:head], rate, grad[:head])
    update.step(params[head:], rate, grad[head:])
    return mean_loss


@jit
def checked_gradient_into(params, layer_sizes, activation_codes, loss_code, X, T, grad,
                          workspace):
    """:func:`gradient_into` that also tests its inputs and results: the mean loss, or NaN
    unless ``X``, ``T``, the loss and ``grad`` are all finite.

    The tests ride along in the kernel, so the caller need not scan the arrays again.
    """
    mean_loss = _gradient_into(params, layer_sizes, activation_codes, loss_code, X, T,
                               workspace[:0], grad, workspace)
    if _inputs_finite(X, T, mean_loss) and _all_finite(grad):
        return mean_loss
    return np.nan


@jit
def checked_train_step(params, layer_sizes, activation_codes, loss_code, X, T,
                       learning_rate, grad, workspace):
    """:func:`train_step`, all or nothing: the loss before the step, or NaN, with
    ``params`` unchanged, unless ``X``, ``T``, the loss and every new parameter are finite.

    A read-only pass tests the new values (computed as the update will store them) before
    the update writes them: a scratch copy of the new parameters would add a pass that
    writes. The first layer's weights are mostly stepped from its input and delta without
    forming their gradient (:func:`_checked_gradient_step`).
    """
    return _checked_gradient_step(params, layer_sizes, activation_codes, loss_code, X, T,
                                  learning_rate, grad, workspace, True)


@jit
def checked_gradient_step(params, layer_sizes, activation_codes, loss_code, X, T,
                          learning_rate, grad, workspace, step):
    """:func:`checked_gradient_into` (``step`` False; ``learning_rate`` is not read) or
    :func:`checked_train_step` (``step`` True), the same numbers: one kernel, so that a
    network's per-call fast path compiles one gradient for both."""
    return _checked_gradient_step(params, layer_sizes, activation_codes, loss_code, X, T,
                                  learning_rate, grad, workspace, step)


@jit(inline="always")
def _checked_gradient_step(params, layer_sizes, activation_codes, loss_code, X, T,
                           learning_rate, grad, workspace, step):
    """The body of :func:`checked_gradient_step`. A step applies the first layer's weight
    gradient to its weights without forming it where :func:`_fuses_first_layer`, if a
    bound read from the weights proves every new weight finite
    (:func:`fastnn.backends._numba_step.update_is_finite`); otherwise, and for the
    gradient alone, the gradient is formed whole and the step tested exactly. At one row
    the numbers are the two-pass step's bit for bit; a batch's are gemm's (``W + (-rate)
    * X.T @ delta``)."""
    mean_loss, delta = _all_but_first_weights(params, layer_sizes, activation_codes,
                                              loss_code, X, T, workspace[:0], grad,
                                              workspace)
    if not _inputs_finite(X, T, mean_loss):
        return np.nan
    rate = update.step_rate(params, learning_rate)
    head = layer_sizes[0] * layer_sizes[1]
    fused = False
    if step and _fuses_first_layer(X, layer_sizes, activation_codes):
        _first_bias_gradient(layer_sizes, delta, grad)
        if not update.steps_finite(params[head:], rate, grad[head:]):
            return np.nan
        fused = (update.update_is_finite(params[:head], rate, X, delta)
                 and _apply_first_weight_gradient(params[:head], rate, X, delta,
                                                  layer_sizes, activation_codes))
    if not fused:
        # The one call site of _first_weight_gradient in the kernel (see train_step).
        _first_weight_gradient(X, delta, grad, layer_sizes, activation_codes)
        if not step:
            return mean_loss if _all_finite(grad) else np.nan
        if not update.steps_finite(params, rate, grad):
            return np.nan
        update.step(params[:head], rate, grad[:head])
    update.step(params[head:], rate, grad[head:])
    return mean_loss


@jit(inline="always")
def _fuses_first_layer(X, layer_sizes, activation_codes):
    """Whether a step applies the first layer's weight gradient to the weights without
    forming it (:mod:`fastnn.backends._numba_step`): at one row (a loop), and for a batch
    whose weight-gradient product goes to BLAS, up to as many rows as the layer has
    outputs, so that the bound's pass over ``X`` reads no more than one over the
    weights."""
    m, n_in, n_out = X.shape[0], layer_sizes[0], layer_sizes[1]
    if m == 1:
        return True
    return m <= n_out and (
        _use_blas(m, n_in, n_out, WEIGHT_GRADIENT, _crossovers(layer_sizes, activation_codes))
        or _external_gradient(WEIGHT_GRADIENT, m, n_in, n_out, layer_sizes,
                              activation_codes))


@jit(inline="always")
def _apply_first_weight_gradient(weights, rate, X, delta, layer_sizes, activation_codes):
    """``weights -= rate * X.T @ delta`` without forming the product: at one row in a
    loop, else by oneDNN's sgemm where the gradient's rule sends that product there
    (float32), else by BLAS; True once done, False (nothing written) where both refused."""
    m, n_in, n_out = X.shape[0], layer_sizes[0], layer_sizes[1]
    if m == 1:
        update.one_row_update(weights, rate, X[0], delta[0])
        return True
    if _external_gradient(WEIGHT_GRADIENT, m, n_in, n_out, layer_sizes, activation_codes) \
            and external_gemm.sgemm_tn_add(-rate, X, delta, weights.reshape((n_in, n_out))):
        return True
    return update.batch_update(weights, rate, X, delta)


@jit(inline="always")
def _first_bias_gradient(layer_sizes, delta, grad):
    """The first layer's bias gradient into ``grad`` (:func:`_bias_gradient`); returns
    where the bias starts (the number of first-layer weights)."""
    head = layer_sizes[0] * layer_sizes[1]
    _bias_gradient(delta, grad, head)
    return head


@jit(inline="always")
def _bias_gradient(delta, grad, b_start):
    """``db = delta`` (m, n_out) summed over rows, in row order, into
    ``grad[b_start:b_start + n_out]``."""
    if b_start < 0:
        return  # never taken: proves the indices below non-negative, so loops vectorise
    n_out = delta.shape[1]
    for j in range(n_out):
        grad[b_start + j] = 0.0
    for row in range(delta.shape[0]):
        for j in range(n_out):
            grad[b_start + j] += delta[row, j]


@jit(inline="always")
def _inputs_finite(X, T, mean_loss):
    return (_all_finite(X.reshape(X.size)) and _all_finite(T.reshape(T.size))
            and mean_loss - mean_loss == 0.0)


@jit(helper=True)
def _back_propagate(params, layer_sizes, activation_codes, loss_code, trace, Z_out, deltas,
                    hidden_Z, T, weights, grad):
    """The (weighted) mean loss, and the gradients of every layer but the first.

    Returns the loss and the first layer's delta (m, layer_sizes[1]), from which the
    caller forms that layer's gradient with its input (dense or sparse).
    """
    m = T.shape[0]
    n_layers = layer_sizes.shape[0] - 1
    Y = _layer_rows(trace, layer_sizes, m, n_layers)
    crossovers = _crossovers(layer_sizes, activation_codes)
    output_code = activation_codes[n_layers - 1]
    weight_total = _weight_total(weights, m)
    mean_loss = _mean_loss(loss_code, output_code, Z_out, Y, T, weights, weight_total)

    widest = deltas.shape[0] // (2 * m)
    delta = deltas[:m * layer_sizes[n_layers]].reshape((m, layer_sizes[n_layers]))
    _output_deltas(loss_code, output_code, Z_out, Y, T, weights, 1.0 / weight_total, delta)

    end = grad.shape[0]
    for layer in range(n_layers - 1, 0, -1):
        n_in, n_out = layer_sizes[layer], layer_sizes[layer + 1]
        w_start = end - n_in * n_out - n_out
        A_prev = _layer_rows(trace, layer_sizes, m, layer)
        if not (_external_gradient(WEIGHT_GRADIENT, m, n_in, n_out, layer_sizes,
                                   activation_codes)
                and _external_weight_gradient(A_prev, delta, grad, w_start, n_in, n_out)):
            _weight_gradient(A_prev, delta, grad, w_start, n_in, n_out,
                             _use_blas(m, n_in, n_out, WEIGHT_GRADIENT, crossovers))
        offset = ((n_layers - layer) % 2) * m * widest
        previous = deltas[offset:offset + m * n_in].reshape((m, n_in))
        if not (_external_gradient(BACK_DELTA, m, n_in, n_out, layer_sizes,
                                   activation_codes)
                and _external_back_delta(params, w_start, n_in, n_out, delta, previous)):
            _back_delta(params, w_start, n_in, n_out, delta, previous,
                        _use_blas(m, n_in, n_out, BACK_DELTA, crossovers))
        code = activation_codes[layer - 1]
        Z_prev = _layer_rows(hidden_Z, layer_sizes, m, layer) if _hidden_needs_z(code) \
            else A_prev
        _times_hidden_derivative(code, Z_prev, A_prev, previous)
        delta = previous
        end = w_start
    return mean_loss, delta


@jit(inline="always")
def _weight_total(weights, m):
    """The denominator of the mean: ``m``, or the sum of ``weights`` if there are any."""
    if weights.shape[0] == 0:
        return float(m)
    total = 0.0
    for row in range(weights.shape[0]):
        total += weights[row]
    return total


# --- layers -----------------------------------------------------------------------------

@jit  # not a helper: tests and benchmarks call it from Python
def _dense(A, params, w_start, n_in, n_out, Z, use_blas):
    """``Z = A @ W + b`` for the layer whose weights start at ``w_start``."""
    if w_start < 0 or n_in < 0 or n_out < 0:
        return  # never taken: proves the indices below non-negative, so loops vectorise
    m = A.shape[0]
    b_start = w_start + n_in * n_out
    if use_blas:
        np.dot(A, params[w_start:b_start].reshape((n_in, n_out)), Z)
        for row in range(m):
            for j in range(n_out):
                Z[row, j] += params[b_start + j]
        return
    for row in range(m):
        for j in range(n_out):
            Z[row, j] = params[b_start + j]
        # Added in input order, starting from the bias, like the reference; eight
        # inputs per pass over the row (same order of additions) so that Z's row is
        # loaded and stored an eighth as often.
        i = 0
        while i + 8 <= n_in:
            w = w_start + i * n_out
            a0, a1, a2, a3 = A[row, i], A[row, i + 1], A[row, i + 2], A[row, i + 3]
            a4, a5, a6, a7 = A[row, i + 4], A[row, i + 5], A[row, i + 6], A[row, i + 7]
            for j in range(n_out):
                z = Z[row, j] + a0 * params[w + j]
                z += a1 * params[w + n_out + j]
                z += a2 * params[w + 2 * n_out + j]
                z += a3 * params[w + 3 * n_out + j]
                z += a4 * params[w + 4 * n_out + j]
                z += a5 * params[w + 5 * n_out + j]
                z += a6 * params[w + 6 * n_out + j]
                Z[row, j] = z + a7 * params[w + 7 * n_out + j]
            i += 8
        for rest in range(i, n_in):
            a_i = A[row, rest]
            w_row = w_start + rest * n_out
            for j in range(n_out):
                Z[row, j] += a_i * params[w_row + j]


@jit  # not a helper: tests and benchmarks call it from Python
def _external_dense(A, params, w_start, n_in, n_out, Z):
    """:func:`_dense` through oneDNN's sgemm (float32, where installed); False (and ``Z``
    untouched) where it cannot."""
    if w_start < 0 or n_in < 0 or n_out < 0:
        return False  # never taken: proves the indices below non-negative
    b_start = w_start + n_in * n_out
    if not external_gemm.sgemm_into(A, params[w_start:b_start].reshape((n_in, n_out)), Z):
        return False
    for row in range(A.shape[0]):
        for j in range(n_out):
            Z[row, j] += params[b_start + j]
    return True


@jit  # not a helper: tests and benchmarks call it from Python
def _weight_gradient(A_prev, delta, grad, w_start, n_in, n_out, use_blas):
    """``dW = A_prev.T @ delta`` and ``db = delta`` summed over rows, into ``grad``."""
    if w_start < 0 or n_in < 0 or n_out < 0:
        return  # never taken: proves the indices below non-negative, so loops vectorise
    m = A_prev.shape[0]
    b_start = w_start + n_in * n_out
    _bias_gradient(delta, grad, b_start)
    if use_blas:
        np.dot(A_prev.T, delta, grad[w_start:b_start].reshape((n_in, n_out)))
        return
    for index in range(w_start, b_start):
        grad[index] = 0.0
    for row in range(m):
        for i in range(n_in):
            a_i = A_prev[row, i]
            w_row = w_start + i * n_out
            for j in range(n_out):
                grad[w_row + j] += a_i * delta[row, j]


@jit(inline="always")  # small; tests and benchmarks call it from Python
def _external_weight_gradient(A_prev, delta, grad, w_start, n_in, n_out):
    """:func:`_weight_gradient` through oneDNN's sgemm (``A_prev`` read transposed in
    place; float32, where installed); False (and ``grad`` untouched) where it cannot."""
    if w_start < 0 or n_in < 0 or n_out < 0:
        return False  # never taken: proves the indices below non-negative
    b_start = w_start + n_in * n_out
    if not external_gemm.sgemm_tn_into(A_prev, delta,
                                       grad[w_start:b_start].reshape((n_in, n_out))):
        return False
    _bias_gradient(delta, grad, b_start)
    return True


@jit(inline="always")  # small; tests and benchmarks call it from Python
def _external_back_delta(params, w_start, n_in, n_out, delta, previous):
    """:func:`_back_delta` through oneDNN's sgemm (``W`` read transposed in place;
    float32, where installed); False (and ``previous`` untouched) where it cannot."""
    if w_start < 0 or n_in < 0 or n_out < 0:
        return False  # never taken: proves the indices below non-negative
    b_start = w_start + n_in * n_out
    return external_gemm.sgemm_nt_into(delta, params[w_start:b_start].reshape((n_in, n_out)),
                                       previous)


@jit  # not a helper: tests and benchmarks call it from Python
def _back_delta(params, w_start, n_in, n_out, delta, previous, use_blas):
    """``previous = delta @ W.T`` (before the activation's derivative)."""
    if w_start < 0 or n_in < 0 or n_out < 0:
        return  # never taken: proves the indices below non-negative, so loops vectorise
    m = delta.shape[0]
    b_start = w_start + n_in * n_out
    if use_blas:
        np.dot(delta, params[w_start:b_start].reshape((n_in, n_out)).T, previous)
        return
    for row in range(m):
        for i in range(n_in):
            w_row = w_start + i * n_out
            total = 0.0
            for j in range(n_out):
                total += params[w_row + j] * delta[row, j]
            previous[row, i] = total


@jit(helper=True)
def _csr_dense(X_data, X_indices, X_indptr, params, n_in, n_out, Z):
    """``Z = X @ W + b`` for the first layer (weights at 0), ``X`` as CSR rows.

    Each row's stored entries are added in column order, starting from the bias, as
    :func:`_dense`'s loops add every input.
    """
    if n_in < 0 or n_out < 0:
        return  # never taken: proves the indices below non-negative, so loops vectorise
    b_start = n_in * n_out
    for row in range(Z.shape[0]):
        for j in range(n_out):
            Z[row, j] = params[b_start + j]
        for stored in range(X_indptr[row], X_indptr[row + 1]):
            a_i = X_data[stored]
            w_row = X_indices[stored] * n_out
            for j in range(n_out):
                Z[row, j] += a_i * params[w_row + j]


@jit(helper=True)
def _csr_weight_gradient(X_data, X_indices, X_indptr, delta, grad, n_in, n_out):
    """:func:`_weight_gradient` of the first layer with a CSR input: ``dW = X.T @ delta``
    (a sparse product, in the loops' order of additions) and ``db = delta`` summed."""
    if n_in < 0 or n_out < 0:
        return  # never taken: proves the indices below non-negative, so loops vectorise
    b_start = n_in * n_out
    _bias_gradient(delta, grad, b_start)
    for index in range(b_start):
        grad[index] = 0.0
    for row in range(delta.shape[0]):
        for stored in range(X_indptr[row], X_indptr[row + 1]):
            a_i = X_data[stored]
            w_row = X_indices[stored] * n_out
            for j in range(n_out):
                grad[w_row + j] += a_i * delta[row, j]


@jit(inline="always")
def _crossovers(layer_sizes, activation_codes):
    """The tuned crossovers after the activation codes (9 values, ``BLAS_CROSSOVER``'s
    order, row by row; a tenth, the row block, may follow), or an empty array: the
    shipped ``BLAS_CROSSOVER``."""
    return activation_codes[layer_sizes.shape[0] - 1:]


@jit(inline="always")
def _row_block(layer_sizes, activation_codes):
    """The forward pass's rows per block (0: the whole batch at once): the tenth tuned
    value after the activation codes, else ``FORWARD_ROW_BLOCK``."""
    tail = activation_codes.shape[0] - (layer_sizes.shape[0] - 1)
    if tail >= 10:
        return activation_codes[layer_sizes.shape[0] - 1 + 9]
    return FORWARD_ROW_BLOCK


@jit(inline="always")
def _external(m, n_in, n_out, layer_sizes, activation_codes):
    """Whether the forward pass sends its ``m x n_in x n_out`` product to oneDNN (float32
    only; it falls back to np.dot elsewhere): by values 11 and 12 after the activation
    codes (rows, weights), else ``EXTERNAL_GEMM``."""
    tail = activation_codes.shape[0] - (layer_sizes.shape[0] - 1)
    if tail >= 12:
        min_rows = activation_codes[layer_sizes.shape[0] - 1 + 10]
        min_weights = activation_codes[layer_sizes.shape[0] - 1 + 11]
    else:
        min_rows, min_weights = EXTERNAL_GEMM
    return m >= min_rows and n_in * n_out >= min_weights


@jit(inline="always")
def _external_gradient(product, m, n_in, n_out, layer_sizes, activation_codes):
    """Whether the gradient sends its ``m x n_in x n_out`` ``product`` (``WEIGHT_GRADIENT``
    or ``BACK_DELTA``) to oneDNN (float32 only; it falls back to np.dot elsewhere): from
    the multiply-adds of value 13 (weight gradients) or 14 (back deltas) after the
    activation codes, else ``EXTERNAL_GRADIENT_GEMM``."""
    tail = activation_codes.shape[0] - (layer_sizes.shape[0] - 1)
    index = 0 if product == WEIGHT_GRADIENT else 1
    if tail >= 14:
        min_multiply_adds = activation_codes[layer_sizes.shape[0] - 1 + 12 + index]
    else:
        min_multiply_adds = EXTERNAL_GRADIENT_GEMM[index]
    return m * n_in * n_out >= min_multiply_adds


@jit(inline="always")
def _use_blas(m, n_in, n_out, product, crossovers):
    """Whether the ``product`` (``FORWARD_LAYER``, ...) of ``m`` rows through an
    ``n_in x n_out`` layer goes to BLAS, by ``crossovers`` (see :func:`_crossovers`)."""
    if crossovers.shape[0] == 0:
        single_row, min_rows, min_multiply_adds = BLAS_CROSSOVER[product]
    else:
        single_row = crossovers[3 * product]
        min_rows = crossovers[3 * product + 1]
        min_multiply_adds = crossovers[3 * product + 2]
    multiply_adds = m * n_in * n_out
    if m == 1:
        return multiply_adds >= single_row
    return m >= min_rows and multiply_adds >= min_multiply_adds


# --- activations ------------------------------------------------------------------------

@jit(inline="always")
def _softplus(x):
    """``log(1 + e^x)`` without overflow: ``max(x, 0) + log1p(e^-|x|)``."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@jit  # not a helper: tests and benchmarks call it from Python
def _activate_in_place(code, Z):
    """``Z = f(Z)`` in place for the activation ``code``; softmax over each row.

    The activations' table of in-place forms, one function each (a faster form is swapped
    in on its line here): the plain kernels call it with the run-time code, a
    configuration's kernels inline it with their constant code (see
    :func:`_activate_hidden`), which leaves one line. Each form is compiled on its own,
    not inlined: inlined, all of them are copied into every call site before the
    configuration's constant prunes them (measured: 0.7 s more for a configuration's
    first calls, 0.2 s less for the plain kernels' forward).
    """
    if code == SIGMOID:
        elementwise.sigmoid_in_place(Z.reshape(Z.size))
    elif code == TANH:
        elementwise.tanh_in_place(Z.reshape(Z.size))
    elif code == RELU:
        _relu_in_place(Z)
    elif code == LEAKY_RELU:
        _leaky_relu_in_place(Z)
    elif code == ELU:
        elementwise.elu_in_place(Z.reshape(Z.size))
    elif code == SOFTPLUS:
        elementwise.softplus_in_place(Z.reshape(Z.size))
    elif code == SILU:
        elementwise.silu_in_place(Z.reshape(Z.size))
    elif code == EXP:
        elementwise.exp_in_place(Z.reshape(Z.size))
    elif code == SOFTMAX:
        _softmax_rows_in_place(Z)
    # IDENTITY: nothing to do.


# _activate_in_place's body inlined where its code is a constant of the configuration.
_activate_fixed = jit(inline="always")(_activate_in_place.py_func)


@jit(inline="always")
def _activate_hidden(code, Z):
    """:func:`_activate_in_place` for a hidden layer: the configuration's activation, or
    the run-time ``code`` in the plain kernels."""
    if HIDDEN == GENERIC:
        _activate_in_place(code, Z)
    else:
        _activate_fixed(HIDDEN, Z)


@jit(inline="always")
def _activate_output_in_place(code, Z):
    """:func:`_activate_in_place` for the output layer (as :func:`_activate_hidden`)."""
    if OUTPUT == GENERIC:
        _activate_in_place(code, Z)
    else:
        _activate_fixed(OUTPUT, Z)


@jit(inline="always")
def _hidden_needs_z(code):
    """Whether back-propagation through the hidden activation (``code`` in the plain
    kernels) needs the layer's Z."""
    if HIDDEN == GENERIC:
        return NEEDS_Z[code]
    return NEEDS_Z[HIDDEN]


@jit(helper=True)
def _relu_in_place(Z):
    values = Z.reshape(Z.size)
    for k in range(values.shape[0]):
        values[k] = values[k] if values[k] > 0 else 0.0


@jit(helper=True)
def _leaky_relu_in_place(Z):
    values = Z.reshape(Z.size)
    for k in range(values.shape[0]):
        values[k] = values[k] if values[k] > 0 else LEAKY_RELU_SLOPE * values[k]


@jit(helper=True)
def _softmax_rows_in_place(Z):
    for row in range(Z.shape[0]):
        _softmax_in_place(Z, row)


@jit(helper=True)
def _softmax_in_place(Z, row):
    _softmax_row(Z, Z, row)


@jit(inline="always")
def _softmax_row(Z, A, row):
    """``A[row] = softmax(Z[row])`` (``A`` may be ``Z``); returns the row's maximum and
    the log of the sum of ``exp(Z - maximum)``, from which the loss takes ``log y``."""
    n = Z.shape[1]
    top = Z[row, 0]
    for k in range(1, n):
        top = max(top, Z[row, k])
    total = 0.0
    for k in range(n):
        shifted = Z[row, k] - top
        # shifted <= 0 (the vectorisable exp); NaN (from an infinite Z) is kept.
        value = elementwise.exp_nonpositive(shifted)
        A[row, k] = value if shifted == shifted else shifted
        total += A[row, k]
    for k in range(n):
        A[row, k] = A[row, k] / total
    return top, math.log(total)


@jit(inline="always")
def _derivative(code, z, a):
    """``dA/dZ`` at pre-activation ``z`` and output ``a`` (elementwise activations only).

    ``z`` is only read for the codes of ``NEEDS_Z``; elsewhere callers may pass ``a``.
    """
    if code == SIGMOID:
        return a * (1.0 - a)
    if code == TANH:
        return 1.0 - a * a
    if code == RELU:
        return 1.0 if a > 0 else 0.0
    if code == LEAKY_RELU:
        return 1.0 if a > 0 else LEAKY_RELU_SLOPE
    if code == ELU:
        return 1.0 if a > 0 else a + ELU_ALPHA
    if code == SOFTPLUS:
        return elementwise.softplus_derivative(z, a)
    if code == SILU:
        return elementwise.silu_derivative(z, a)
    if code == EXP:
        return a
    return 1.0


@jit(helper=True)
def _times_derivative(code, Z, A, G):
    """``G *= f'(Z, A)`` elementwise, for a hidden activation ``code``.

    ``Z`` is only read for the codes of ``NEEDS_Z``; elsewhere callers may pass ``A``.
    """
    m, n = A.shape
    z_flat = Z.reshape(m * n)
    a_flat = A.reshape(m * n)
    g_flat = G.reshape(m * n)
    if code == SIGMOID:
        for k in range(m * n):
            g_flat[k] *= a_flat[k] * (1.0 - a_flat[k])
    elif code == TANH:
        for k in range(m * n):
            g_flat[k] *= 1.0 - a_flat[k] * a_flat[k]
    elif code == RELU:
        for k in range(m * n):
            g_flat[k] = g_flat[k] if a_flat[k] > 0 else 0.0 * g_flat[k]
    elif code == SOFTPLUS:
        elementwise.times_softplus_derivative(z_flat, a_flat, g_flat)
    elif code == SILU:
        elementwise.times_silu_derivative(z_flat, a_flat, g_flat)
    elif code != IDENTITY:
        for k in range(m * n):
            g_flat[k] *= _derivative(code, z_flat[k], a_flat[k])


@jit(inline="always")
def _times_hidden_derivative(code, Z, A, G):
    """:func:`_times_derivative` for a hidden layer: the configuration's activation (its
    :func:`_derivative` line alone, inlined), or the run-time ``code`` in the plain
    kernels."""
    if HIDDEN == GENERIC:
        _times_derivative(code, Z, A, G)
        return
    if HIDDEN == IDENTITY:
        return
    m, n = A.shape
    z_flat = Z.reshape(m * n)
    a_flat = A.reshape(m * n)
    g_flat = G.reshape(m * n)
    for k in range(m * n):
        g_flat[k] *= _derivative(HIDDEN, z_flat[k], a_flat[k])


# --- losses -----------------------------------------------------------------------------

@jit(inline="always")
def _clipped_log(y):
    return math.log(max(y, LOG_FLOOR))


@jit(inline="always")
def _clipped_reciprocal(y):
    return 1.0 / y if y > LOG_FLOOR else 0.0


@jit(inline="always")
def _mean_loss(loss_code, output_code, Z, Y, T, weights, weight_total):
    """:func:`_mean_loss_by_code` of the configuration's loss and output activation, or
    of the run-time codes in the plain kernels."""
    if LOSS == GENERIC:
        return _mean_loss_by_code(loss_code, output_code, Z, Y, T, weights, weight_total)
    return _mean_loss_fixed(LOSS, OUTPUT, Z, Y, T, weights, weight_total)


@jit(inline="always")
def _output_deltas(loss_code, output_code, Z, Y, T, weights, scale, delta):
    """:func:`_output_deltas_by_code` of the configuration's loss and output activation,
    or of the run-time codes in the plain kernels."""
    if LOSS == GENERIC:
        _output_deltas_by_code(loss_code, output_code, Z, Y, T, weights, scale, delta)
    else:
        _output_deltas_fixed(LOSS, OUTPUT, Z, Y, T, weights, scale, delta)


@jit(helper=True)
def _mean_loss_by_code(loss_code, output_code, Z, Y, T, weights, weight_total):
    """Mean over rows of the loss, from the output pre-activation ``Z`` (log-softmax for a
    softmax output, see :func:`_activate_output`) and output ``Y``;
    weighted by ``weights`` (summing to ``weight_total``) unless it is empty, else
    ``weight_total`` is the number of rows.

    One function per loss, each one loop over the rows (a per-row helper function
    measured 8% slower); a configuration's kernels inline this dispatch alone (see
    :func:`_output_deltas_by_code`).
    """
    if loss_code == MSE:
        total = _squared_error_total(Y, T, weights)
    elif loss_code == POISSON:
        total = _poisson_total(output_code, Z, Y, T, weights)
    else:
        total = _log_likelihood_total(loss_code == BINARY_CROSS_ENTROPY, output_code, Z, Y,
                                      T, weights)
    return total / weight_total


@jit(helper=True)
def _squared_error_total(Y, T, weights):
    """The (weighted) sum over rows of the mse loss."""
    m, n = Y.shape
    weighted = weights.shape[0] > 0
    total = 0.0
    for row in range(m):
        sample = 0.0
        for k in range(n):
            diff = Y[row, k] - T[row, k]
            sample += diff * diff
        sample = 0.5 * sample
        total += weights[row] * sample if weighted else sample
    return total


@jit(helper=True)
def _poisson_total(output_code, Z, Y, T, weights):
    """The (weighted) sum over rows of the poisson loss."""
    m, n = Y.shape
    weighted = weights.shape[0] > 0
    total = 0.0
    for row in range(m):
        sample = 0.0
        for k in range(n):
            target = T[row, k]
            term = Y[row, k] - target
            if target > 0:
                log_y = _log_output(output_code, Z, Y, row, k)
                term = target * (math.log(target) - log_y) + term
            sample += term
        total += weights[row] * sample if weighted else sample
    return total


@jit(helper=True)
def _log_likelihood_total(binary, output_code, Z, Y, T, weights):
    """The (weighted) sum over rows of the cross-entropy loss (``binary``: the binary
    cross-entropy)."""
    m, n = Y.shape
    weighted = weights.shape[0] > 0
    total = 0.0
    for row in range(m):
        sample = 0.0
        for k in range(n):
            sample += T[row, k] * _log_output(output_code, Z, Y, row, k)
        if binary:
            for k in range(n):
                if output_code == SIGMOID:
                    log_1my = -_softplus(Z[row, k])
                else:
                    log_1my = _clipped_log(1.0 - Y[row, k])
                sample += (1.0 - T[row, k]) * log_1my
        sample = -sample
        total += weights[row] * sample if weighted else sample
    return total


# The bodies inlined where the codes are constants of the configuration.
_mean_loss_fixed = jit(inline="always")(_mean_loss_by_code.py_func)


@jit(inline="always")
def _log_output(output_code, Z, Y, row, k):
    """``log y`` in the stable form of the output (for softmax ``Z`` already holds it:
    see :func:`_activate_output`), else clipped."""
    if output_code == SIGMOID:
        return -_softplus(-Z[row, k])
    if output_code == SOFTMAX or output_code == EXP:
        return float(Z[row, k])
    return _clipped_log(Y[row, k])


@jit(helper=True)
def _output_deltas_by_code(loss_code, output_code, Z, Y, T, weights, scale, delta):
    """``delta = scale * dL/dZ`` per row (times the row's weight, unless ``weights`` is
    empty): the true gradient of the loss for every pair.

    One function per loss: a configuration's kernels inline this dispatch alone (Numba
    copies an inlined body block by block, at a cost growing with its size squared; the
    whole table inlined took seconds).
    """
    if loss_code == MSE:
        _squared_error_deltas(output_code, Z, Y, T, delta)
    elif loss_code == POISSON:
        _poisson_deltas(output_code, Z, Y, T, delta)
    else:
        _log_likelihood_deltas(loss_code == BINARY_CROSS_ENTROPY, output_code, Z, Y, T, delta)
    m, n = Y.shape
    for row in range(m):
        row_scale = scale if weights.shape[0] == 0 else weights[row] * scale
        for k in range(n):
            delta[row, k] *= row_scale


_output_deltas_fixed = jit(inline="always")(_output_deltas_by_code.py_func)


@jit(helper=True)
def _squared_error_deltas(output_code, Z, Y, T, delta):
    """``dL/dZ`` of the mse loss, every row."""
    m, n = Y.shape
    for row in range(m):
        if output_code == SOFTMAX:
            weighted = 0.0
            for k in range(n):
                weighted += (Y[row, k] - T[row, k]) * Y[row, k]
            for k in range(n):
                delta[row, k] = Y[row, k] * ((Y[row, k] - T[row, k]) - weighted)
        else:
            for k in range(n):
                delta[row, k] = (Y[row, k] - T[row, k]) * _derivative(
                    output_code, Z[row, k], Y[row, k])


@jit(helper=True)
def _log_likelihood_deltas(binary, output_code, Z, Y, T, delta):
    """``dL/dZ`` of the cross-entropy loss (``binary``: the binary cross-entropy), every
    row: the stable form of the output where there is one, else clipped."""
    m, n = Y.shape
    for row in range(m):
        if output_code == SIGMOID:
            for k in range(n):
                if binary:
                    delta[row, k] = Y[row, k] - T[row, k]
                else:
                    delta[row, k] = -T[row, k] * (1.0 - Y[row, k])
        elif output_code == SOFTMAX:
            t_sum = 0.0
            for k in range(n):
                t_sum += T[row, k]
            for k in range(n):
                delta[row, k] = Y[row, k] * t_sum - T[row, k]
            if binary:
                weighted = 0.0
                for k in range(n):
                    weighted += (1.0 - T[row, k]) * _clipped_reciprocal(1.0 - Y[row, k]) \
                        * Y[row, k]
                for k in range(n):
                    grad_y = (1.0 - T[row, k]) * _clipped_reciprocal(1.0 - Y[row, k])
                    delta[row, k] += Y[row, k] * (grad_y - weighted)
        elif output_code == EXP:
            # d/dz of -t log y is -t (log y = z); log(1 - y) is clipped.
            for k in range(n):
                delta[row, k] = -T[row, k]
                if binary:
                    grad_y = (1.0 - T[row, k]) * _clipped_reciprocal(1.0 - Y[row, k])
                    delta[row, k] += grad_y * Y[row, k]
        else:
            for k in range(n):
                grad_y = -T[row, k] * _clipped_reciprocal(Y[row, k])
                if binary:
                    grad_y += (1.0 - T[row, k]) * _clipped_reciprocal(1.0 - Y[row, k])
                delta[row, k] = grad_y * _derivative(output_code, Z[row, k], Y[row, k])


@jit(helper=True)
def _poisson_deltas(output_code, Z, Y, T, delta):
    """``dL/dZ`` of the poisson loss, every row: d/dz of ``-t log y`` (stable form where
    there is one, else clipped) plus d/dz of ``y``."""
    m, n = Y.shape
    for row in range(m):
        if output_code == EXP:
            for k in range(n):
                delta[row, k] = Y[row, k] - T[row, k]
        elif output_code == SIGMOID:
            for k in range(n):
                delta[row, k] = -T[row, k] * (1.0 - Y[row, k]) + Y[row, k] * (1.0 - Y[row, k])
        elif output_code == SOFTMAX:
            t_sum = 0.0
            y_sum = 0.0
            for k in range(n):
                t_sum += T[row, k]
                y_sum += Y[row, k]
            for k in range(n):
                delta[row, k] = (Y[row, k] * t_sum - T[row, k]) + Y[row, k] * (1.0 - y_sum)
        else:
            for k in range(n):
                grad_y = 1.0 - T[row, k] * _clipped_reciprocal(Y[row, k])
                delta[row, k] = grad_y * _derivative(output_code, Z[row, k], Y[row, k])


# --- the forward trace kept for back-propagation ------------------------------------------

def workspace_per_row(layer_sizes):
    """Scratch values per row of ``X`` that :func:`gradient_into` needs (Python side).

    Room for every hidden layer's Z is included whatever the activations: it is written
    only for the activations that need it, and untouched memory costs nothing.
    """
    hidden_and_output = [int(size) for size in layer_sizes[1:]]
    return (2 * sum(hidden_and_output) + 2 * max(hidden_and_output))


@jit(inline="always")
def _workspace_per_row(layer_sizes):
    units = 0
    widest = 0
    for layer in range(1, layer_sizes.shape[0]):
        units += layer_sizes[layer]
        widest = max(widest, layer_sizes[layer])
    return 2 * units + 2 * widest


@jit(inline="always")
def _split_workspace(workspace, layer_sizes, m):
    """Every layer's activation (flat), the output's Z (m, n_out), two deltas (flat),
    and the hidden layers' Z (flat, laid out as the activations)."""
    units = 0
    widest = 0
    for layer in range(1, layer_sizes.shape[0]):
        units += layer_sizes[layer]
        widest = max(widest, layer_sizes[layer])
    n_out = layer_sizes[-1]
    trace = workspace[:m * units]
    Z_out = workspace[m * units:m * (units + n_out)].reshape((m, n_out))
    deltas_end = m * (units + n_out + 2 * widest)
    deltas = workspace[m * (units + n_out):deltas_end]
    hidden_Z = workspace[deltas_end:deltas_end + m * (units - n_out)]
    return trace, Z_out, deltas, hidden_Z


@jit(inline="always")
def _trace_buffers(layer_sizes, m, like):
    """A flat buffer for every layer's activation (input excluded) and the output's Z,
    of the dtype of ``like``."""
    units = 0
    for layer in range(1, layer_sizes.shape[0]):
        units += layer_sizes[layer]
    return np.empty(m * units, dtype=like.dtype), np.empty((m, layer_sizes[-1]),
                                                           dtype=like.dtype)


@jit(inline="always")
def _layer_rows(trace, layer_sizes, m, layer):
    """The (m, layer_sizes[layer]) activation of ``layer >= 1`` inside ``trace``."""
    offset = 0
    for previous in range(1, layer):
        offset += m * layer_sizes[previous]
    n = layer_sizes[layer]
    return trace[offset:offset + m * n].reshape((m, n))


@jit(inline="always")
def _forward_trace(params, layer_sizes, activation_codes, X, trace, Z_out, hidden_Z):
    """Fill ``trace`` with every layer's activation and ``Z_out`` with the output's Z
    (its log-softmax for a softmax output, see :func:`_activate_output`).

    A hidden layer whose activation needs its Z for back-propagation (``NEEDS_Z``) also
    keeps it in ``hidden_Z`` (laid out as ``trace``), unless ``hidden_Z`` is empty.
    """
    _trace_layers(params, layer_sizes, activation_codes, X, FIRST_LAYER, trace, Z_out,
                  hidden_Z)


@jit(helper=True)
def _csr_forward_trace(params, layer_sizes, activation_codes, X_data, X_indices, X_indptr,
                       trace, Z_out, hidden_Z):
    """:func:`_forward_trace` of the CSR rows ``X_data, X_indices, X_indptr``."""
    m = X_indptr.shape[0] - 1
    A_next = _layer_rows(trace, layer_sizes, m, 1)
    if layer_sizes.shape[0] == 2:
        Z = Z_out
    elif _hidden_needs_z(activation_codes[0]) and hidden_Z.shape[0] > 0:
        Z = _layer_rows(hidden_Z, layer_sizes, m, 1)
    else:
        Z = A_next
    _csr_dense(X_data, X_indices, X_indptr, params, layer_sizes[0], layer_sizes[1], Z)
    if layer_sizes.shape[0] == 2:
        _activate_output(activation_codes[0], Z_out, A_next)
        return
    if _hidden_needs_z(activation_codes[0]) and hidden_Z.shape[0] > 0:
        _copy_rows(Z, A_next)
    _activate_hidden(activation_codes[0], A_next)
    _trace_layers(params, layer_sizes, activation_codes, A_next, FIRST_LAYER + 1, trace, Z_out,
                  hidden_Z)


@jit(helper=True)
def _trace_layers(params, layer_sizes, activation_codes, A, first, trace, Z_out, hidden_Z):
    """The forward trace from layer ``first`` on, whose input is ``A`` (m, layer_sizes[first])."""
    m = A.shape[0]
    crossovers = _crossovers(layer_sizes, activation_codes)
    n_layers = layer_sizes.shape[0] - 1
    start = FIRST_LAYER
    for layer in range(first):
        start += layer_sizes[layer] * layer_sizes[layer + 1] + layer_sizes[layer + 1]
    for layer in range(first, n_layers):
        n_in, n_out = layer_sizes[layer], layer_sizes[layer + 1]
        A_next = _layer_rows(trace, layer_sizes, m, layer + 1)
        if layer == n_layers - 1:
            _dense(A, params, start, n_in, n_out, Z_out,
                   _use_blas(m, n_in, n_out, FORWARD_LAYER, crossovers))
            _activate_output(activation_codes[layer], Z_out, A_next)
            break
        if _hidden_needs_z(activation_codes[layer]) and hidden_Z.shape[0] > 0:
            Z = _layer_rows(hidden_Z, layer_sizes, m, layer + 1)
            _dense(A, params, start, n_in, n_out, Z,
                   _use_blas(m, n_in, n_out, FORWARD_LAYER, crossovers))
            _copy_rows(Z, A_next)
        else:
            _dense(A, params, start, n_in, n_out, A_next,
                   _use_blas(m, n_in, n_out, FORWARD_LAYER, crossovers))
        _activate_hidden(activation_codes[layer], A_next)
        A = A_next
        start += n_in * n_out + n_out


@jit(helper=True)
def _activate_output(code, Z_out, Y):
    """``Y = f(Z_out)`` for the output activation ``code``; for softmax, ``Z_out`` becomes
    the log-softmax ``(Z - max) - log(sum(exp(Z - max)))`` per row, the stable ``log y``
    the losses read (so they compute no exponential again)."""
    if OUTPUT == SOFTMAX or OUTPUT == GENERIC and code == SOFTMAX:
        n = Z_out.shape[1]
        for row in range(Z_out.shape[0]):
            top, log_total = _softmax_row(Z_out, Y, row)
            for k in range(n):
                Z_out[row, k] = Z_out[row, k] - top - log_total
        return
    _copy_rows(Z_out, Y)
    _activate_output_in_place(code, Y)


@jit(inline="always")
def _copy_rows(source, target):
    """``target[:, :] = source`` (same shape): Numba's slice assignment would compile
    the formatting of its shape-mismatch message into every kernel (a second or more)."""
    m, n = target.shape
    for row in range(m):
        for k in range(n):
            target[row, k] = source[row, k]


@jit(inline="always")
def _trace_loss(loss_code, layer_sizes, activation_codes, trace, Z_out, T, weights):
    """The (weighted) mean loss of a filled trace."""
    m = T.shape[0]
    Y = _layer_rows(trace, layer_sizes, m, layer_sizes.shape[0] - 1)
    return _mean_loss(loss_code, activation_codes[layer_sizes.shape[0] - 2], Z_out, Y, T, weights,
                      _weight_total(weights, m))


# --- the forward pass alone (two ping-pong buffers, no trace) ----------------------------

@jit(helper=True)
def _forward_layers(params, layer_sizes, activation_codes, A, first, buffers, Y):
    """The forward pass from layer ``first`` on, whose input is ``A`` (m, layer_sizes[first]),
    through the two halves of ``buffers`` (m * widest values each) into ``Y``."""
    m = Y.shape[0]
    n_layers = layer_sizes.shape[0] - 1
    half = buffers.shape[0] // 2
    crossovers = _crossovers(layer_sizes, activation_codes)
    start = FIRST_LAYER
    for layer in range(first):
        start += layer_sizes[layer] * layer_sizes[layer + 1] + layer_sizes[layer + 1]
    for layer in range(first, n_layers):
        n_in, n_out = layer_sizes[layer], layer_sizes[layer + 1]
        if layer == n_layers - 1:
            Z = Y
        else:
            offset = (layer % 2) * half
            Z = buffers[offset:offset + m * n_out].reshape((m, n_out))
        if not (_external(m, n_in, n_out, layer_sizes, activation_codes)
                and _external_dense(A, params, start, n_in, n_out, Z)):
            _dense(A, params, start, n_in, n_out, Z,
                   _use_blas(m, n_in, n_out, FORWARD_LAYER, crossovers))
        if layer == n_layers - 1:
            _activate_output_in_place(activation_codes[layer], Z)
        else:
            _activate_hidden(activation_codes[layer], Z)
        A = Z
        start += n_in * n_out + n_out


@jit(helper=True)
def _forward_blocks(params, layer_sizes, activation_codes, X, block, Y):
    """:func:`_forward_layers` of the dense batch ``X`` (m, layer_sizes[0]) into ``Y``, in
    blocks of ``block`` rows (the last one shorter), every layer per block, through one
    pair of block-sized buffers."""
    m = X.shape[0]
    if block <= 0:
        return  # never taken (the caller checks): proves the slices below non-empty
    n_x, n_y = layer_sizes[0], layer_sizes[-1]
    flat_X = X.reshape(X.size)
    flat_Y = Y.reshape(Y.size)
    buffers = _forward_buffers(layer_sizes, block, Y)
    for first_row in range(0, m, block):
        rows = min(block, m - first_row)
        _forward_layers(params, layer_sizes, activation_codes,
                        flat_X[first_row * n_x:(first_row + rows) * n_x].reshape((rows, n_x)),
                        FIRST_LAYER, buffers,
                        flat_Y[first_row * n_y:(first_row + rows) * n_y].reshape((rows, n_y)))


@jit(inline="always")
def _forward_buffers(layer_sizes, m, like):
    """Two buffers of ``m * widest`` values (the dtype of ``like``) for hidden layers."""
    widest = 0
    for layer in range(1, layer_sizes.shape[0]):
        widest = max(widest, layer_sizes[layer])
    return np.empty(2 * m * widest, dtype=like.dtype)
