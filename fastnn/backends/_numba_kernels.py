"""The ``@njit`` kernels of the ``numba`` backend. They assume clean input.

Every kernel serves every architecture: the parameters arrive as the flat buffer of
:mod:`fastnn.params`, the architecture as an int64 array of layer sizes, and the
activations and loss as small integer codes, one per entry of the tables of
:mod:`fastnn.functions` (:data:`ACTIVATION_CODES`, :data:`LOSS_CODES`, generated
below from the names this module implements, which must be exactly the tables' names:
an entry without a Numba version makes the backend unavailable, naming it). The
formulas are exactly those of :mod:`fastnn.functions` (read its docstring):
overflow-free sigmoid, softmax with the row maximum subtracted, softplus / log-softmax
forms of the log for the sigmoid and softmax outputs, ``LOG_FLOOR`` clip and clipped
reciprocal for every other output. A layer's pre-activation ``Z`` is kept for back-propagation only
where its activation's derivative needs it (``derivative_needs_z`` in the table).

A layer ``Z = A_prev @ W + b`` runs through BLAS (``np.dot``) when it is large
(see ``BLAS_CROSSOVER``) and through fused loops otherwise;
the loops add in the same order as the pure-Python reference.

Public kernels (all arrays C-contiguous, one float dtype; ``layer_sizes`` and
``activation_codes`` int64, one activation code per weight layer):

``forward(params, layer_sizes, activation_codes, X) -> Y``
``forward_into(params, layer_sizes, activation_codes, X, Y) -> bool (X and Y finite)``
``loss(params, layer_sizes, activation_codes, loss_code, X, T) -> float``
``loss_and_gradient(params, layer_sizes, activation_codes, loss_code, X, T, grad) -> float``
``gradient_into(params, layer_sizes, activation_codes, loss_code, X, T, grad, workspace)
-> float``
``train_step(params, layer_sizes, activation_codes, loss_code, X, T, learning_rate, grad,
workspace) -> float``
"""

from __future__ import annotations

import math
import warnings

import numba
import numpy as np
from llvmlite import ir as llvm_ir
from numba import types
from numba.extending import intrinsic

from fastnn import config
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
    ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "identity", "softmax", "softplus", "silu"),
    "activation")
LOSS_CODES = _codes(LOSSES, ("mse", "cross_entropy", "binary_cross_entropy"), "loss")
SIGMOID, TANH, RELU, LEAKY_RELU, ELU, IDENTITY, SOFTMAX, SOFTPLUS, SILU = \
    ACTIVATION_CODES.values()
MSE, CROSS_ENTROPY, BINARY_CROSS_ENTROPY = LOSS_CODES.values()
# Per activation code: whether back-propagation needs the layer's Z.
NEEDS_Z = tuple(ACTIVATIONS[name].derivative_needs_z for name in ACTIVATION_CODES)

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


def jit(function=None, **overrides):
    """``numba.njit`` with the options of :mod:`fastnn.config`.

    With ``cache=True`` Numba needs somewhere to write (``NUMBA_CACHE_DIR``, the
    package's ``__pycache__`` or the user cache); where none is writable it refuses
    to decorate, and the kernel is compiled without the on-disk cache instead.
    """
    options = dict(config.JIT_OPTIONS, **overrides)

    def decorate(py_function):
        if options.get("cache"):
            try:
                return numba.njit(**options)(py_function)
            except RuntimeError as exc:
                warnings.warn(f"fastnn: compiling {py_function.__name__} without the kernel "
                              f"cache ({exc})", RuntimeWarning, stacklevel=3)
        return numba.njit(**dict(options, cache=False))(py_function)

    return decorate if function is None else decorate(function)


# --- public kernels ---------------------------------------------------------------------

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
    n_layers = layer_sizes.shape[0] - 1
    widest = 0
    for layer in range(1, n_layers + 1):
        widest = max(widest, layer_sizes[layer])
    buffers = np.empty(2 * m * widest, dtype=X.dtype)
    A = X
    start = 0
    for layer in range(n_layers):
        n_in, n_out = layer_sizes[layer], layer_sizes[layer + 1]
        if layer == n_layers - 1:
            Z = Y
        else:
            offset = (layer % 2) * m * widest
            Z = buffers[offset:offset + m * n_out].reshape((m, n_out))
        _dense(A, params, start, n_in, n_out, Z, _use_blas(m, n_in, n_out, FORWARD_LAYER))
        _activate_in_place(activation_codes[layer], Z)
        A = Z
        start += n_in * n_out + n_out
    return _all_finite(X.reshape(X.size)) and _all_finite(Y.reshape(Y.size))


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
    trace, Z_out = _trace_buffers(layer_sizes, X)
    # No hidden layer's Z: the loss alone back-propagates nothing.
    _forward_trace(params, layer_sizes, activation_codes, X, trace, Z_out, trace[:0])
    Y = _layer_rows(trace, layer_sizes, X.shape[0], layer_sizes.shape[0] - 1)
    return _mean_loss(loss_code, activation_codes[-1], Z_out, Y, T)


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
    return gradient_into(params, layer_sizes, activation_codes, loss_code, X, T, grad, workspace)


@jit
def gradient_into(params, layer_sizes, activation_codes, loss_code, X, T, grad, workspace):
    """:func:`loss_and_gradient` with the caller's scratch space.

    ``workspace`` has at least ``m * workspace_per_row(layer_sizes)`` values of the
    dtype of ``params``. Callers that allocate it with NumPy get huge pages for large
    batches, where Numba's allocator faults in every 4 KiB page of a fresh buffer.
    """
    m = X.shape[0]
    n_layers = layer_sizes.shape[0] - 1
    trace, Z_out, deltas, hidden_Z = _split_workspace(workspace, layer_sizes, m)
    _forward_trace(params, layer_sizes, activation_codes, X, trace, Z_out, hidden_Z)
    Y = _layer_rows(trace, layer_sizes, m, n_layers)
    output_code = activation_codes[n_layers - 1]
    mean_loss = _mean_loss(loss_code, output_code, Z_out, Y, T)

    widest = deltas.shape[0] // (2 * m)
    delta = deltas[:m * layer_sizes[n_layers]].reshape((m, layer_sizes[n_layers]))
    _output_deltas(loss_code, output_code, Z_out, Y, T, 1.0 / m, delta)

    end = grad.shape[0]
    for layer in range(n_layers - 1, -1, -1):
        n_in, n_out = layer_sizes[layer], layer_sizes[layer + 1]
        w_start = end - n_in * n_out - n_out
        A_prev = X if layer == 0 else _layer_rows(trace, layer_sizes, m, layer)
        _weight_gradient(A_prev, delta, grad, w_start, n_in, n_out,
                         _use_blas(m, n_in, n_out, WEIGHT_GRADIENT))
        if layer > 0:
            offset = ((n_layers - layer) % 2) * m * widest
            previous = deltas[offset:offset + m * n_in].reshape((m, n_in))
            _back_delta(params, w_start, n_in, n_out, delta, previous,
                        _use_blas(m, n_in, n_out, BACK_DELTA))
            code = activation_codes[layer - 1]
            Z_prev = _layer_rows(hidden_Z, layer_sizes, m, layer) if NEEDS_Z[code] else A_prev
            _times_derivative(code, Z_prev, A_prev, previous)
            delta = previous
        end = w_start
    return mean_loss


@jit
def train_step(params, layer_sizes, activation_codes, loss_code, X, T, learning_rate, grad,
               workspace):
    """One gradient-descent step on the mean loss, in place; returns the loss before it.

    ``grad`` (shape and dtype of ``params``) and ``workspace`` are the caller's scratch
    space, as in :func:`gradient_into`.
    """
    mean_loss = gradient_into(params, layer_sizes, activation_codes, loss_code, X, T, grad,
                              workspace)
    for index in range(params.shape[0]):
        params[index] -= learning_rate * grad[index]
    return mean_loss


# --- layers -----------------------------------------------------------------------------

@jit
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


@jit
def _weight_gradient(A_prev, delta, grad, w_start, n_in, n_out, use_blas):
    """``dW = A_prev.T @ delta`` and ``db = delta`` summed over rows, into ``grad``."""
    if w_start < 0 or n_in < 0 or n_out < 0:
        return  # never taken: proves the indices below non-negative, so loops vectorise
    m = A_prev.shape[0]
    b_start = w_start + n_in * n_out
    for j in range(n_out):
        grad[b_start + j] = 0.0
    for row in range(m):
        for j in range(n_out):
            grad[b_start + j] += delta[row, j]
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


@jit
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


@jit(inline="always")
def _use_blas(m, n_in, n_out, product):
    single_row, min_rows, min_multiply_adds = BLAS_CROSSOVER[product]
    multiply_adds = m * n_in * n_out
    if m == 1:
        return multiply_adds >= single_row
    return m >= min_rows and multiply_adds >= min_multiply_adds


# --- activations ------------------------------------------------------------------------

# exp(x) for x <= 0 in a form LLVM vectorises (libm's exp is a scalar call): x = n ln2 + r
# with |r| <= ln2 / 2, exp(r) by its Taylor series to r^13 (truncation < 1e-17), and 2^n
# built from its IEEE bits, as two factors so that results down to the subnormals stay
# exact powers of two. Within 2 ulp of libm's exp (tests/test_numba_kernels.py).
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # low bits zero: n * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_EXP_MIN = -746.0  # exp(x) rounds to 0 below about -745.13
_INV_FACTORIALS = tuple(1.0 / math.factorial(k) for k in range(14))


@intrinsic
def _float64_from_bits(typingctx, bits):
    """Reinterpret an int64 as the float64 with the same bits (no conversion)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llvm_ir.DoubleType())

    return types.float64(types.int64), codegen


@jit(inline="always")
def _exp_nonpositive(x):
    """``exp(x)`` for ``x <= 0`` (NaN-free input; callers keep NaN apart)."""
    c = _INV_FACTORIALS
    x = x if x >= _EXP_MIN else _EXP_MIN
    n = np.floor(x * _LOG2E + 0.5)
    r = (x - n * _LN2_HI) - n * _LN2_LO
    p = c[0] + r * (c[1] + r * (c[2] + r * (c[3] + r * (c[4] + r * (c[5] + r * (
        c[6] + r * (c[7] + r * (c[8] + r * (c[9] + r * (c[10] + r * (c[11] + r * (
            c[12] + r * c[13]))))))))))))
    k = np.int64(n)
    half = k >> 1
    return (p * _float64_from_bits((half + 1023) << 52)
            * _float64_from_bits((k - half + 1023) << 52))


@jit(inline="always")
def _sigmoid(z):
    """The reference's piecewise sigmoid: 1 / (1 + e^-z) for z >= 0, e^z / (1 + e^z) else."""
    e = _exp_nonpositive(-abs(z))
    numerator = 1.0 if z >= 0 else e
    value = numerator / (1.0 + e)
    return value if z == z else z


@jit(inline="always")
def _softplus(x):
    """``log(1 + e^x)`` without overflow: ``max(x, 0) + log1p(e^-|x|)``."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@jit
def _activate_in_place(code, Z):
    """``Z = f(Z)`` for the activation ``code``; softmax over each row."""
    m, n = Z.shape
    if code == IDENTITY:
        return
    if code == SOFTMAX:
        for row in range(m):
            _softmax_in_place(Z, row)
        return
    flat = Z.reshape(m * n)
    if code == SIGMOID:
        _sigmoid_in_place(flat)
    elif code == TANH:
        for k in range(m * n):
            flat[k] = math.tanh(flat[k])
    elif code == RELU:
        for k in range(m * n):
            flat[k] = flat[k] if flat[k] > 0 else 0.0
    elif code == LEAKY_RELU:
        for k in range(m * n):
            flat[k] = flat[k] if flat[k] > 0 else LEAKY_RELU_SLOPE * flat[k]
    elif code == ELU:
        for k in range(m * n):
            flat[k] = flat[k] if flat[k] > 0 else ELU_ALPHA * math.expm1(flat[k])
    elif code == SOFTPLUS:
        for k in range(m * n):
            flat[k] = _softplus(flat[k])
    elif code == SILU:
        _silu_in_place(flat)


@jit
def _sigmoid_in_place(values):
    for k in range(values.shape[0]):
        values[k] = _sigmoid(values[k])


@jit
def _silu_in_place(values):
    for k in range(values.shape[0]):
        values[k] = values[k] * _sigmoid(values[k])


@jit
def _softmax_in_place(Z, row):
    n = Z.shape[1]
    top = Z[row, 0]
    for k in range(1, n):
        top = max(top, Z[row, k])
    total = 0.0
    for k in range(n):
        Z[row, k] = math.exp(Z[row, k] - top)
        total += Z[row, k]
    for k in range(n):
        Z[row, k] = Z[row, k] / total


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
        return -math.expm1(-a)
    if code == SILU:
        return _silu_derivative(z)
    return 1.0


@jit
def _silu_derivative(z):
    # Not inlined: the sigmoid's polynomial would bloat every loop _derivative is in.
    s = _sigmoid(z)
    return s + z * s * (1.0 - s)


@jit
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
    elif code != IDENTITY:
        for k in range(m * n):
            g_flat[k] *= _derivative(code, z_flat[k], a_flat[k])


# --- losses -----------------------------------------------------------------------------

@jit(inline="always")
def _clipped_log(y):
    return math.log(max(y, LOG_FLOOR))


@jit(inline="always")
def _clipped_reciprocal(y):
    return 1.0 / y if y > LOG_FLOOR else 0.0


@jit
def _mean_loss(loss_code, output_code, Z, Y, T):
    """Mean over rows of the loss, from the output pre-activation ``Z`` and output ``Y``."""
    m, n = Y.shape
    total = 0.0
    for row in range(m):
        sample = 0.0
        if loss_code == MSE:
            for k in range(n):
                diff = Y[row, k] - T[row, k]
                sample += diff * diff
            total += 0.5 * sample
            continue
        top = 0.0
        log_total = 0.0
        if output_code == SOFTMAX:
            top = Z[row, 0]
            for k in range(1, n):
                top = max(top, Z[row, k])
            exp_total = 0.0
            for k in range(n):
                exp_total += math.exp(Z[row, k] - top)
            log_total = math.log(exp_total)
        for k in range(n):
            if output_code == SIGMOID:
                log_y = -_softplus(-Z[row, k])
            elif output_code == SOFTMAX:
                log_y = Z[row, k] - top - log_total
            else:
                log_y = _clipped_log(Y[row, k])
            sample += T[row, k] * log_y
        if loss_code == BINARY_CROSS_ENTROPY:
            for k in range(n):
                if output_code == SIGMOID:
                    log_1my = -_softplus(Z[row, k])
                else:
                    log_1my = _clipped_log(1.0 - Y[row, k])
                sample += (1.0 - T[row, k]) * log_1my
        total -= sample
    return total / m


@jit
def _output_deltas(loss_code, output_code, Z, Y, T, scale, delta):
    """``delta = scale * dL/dZ`` per row: the true gradient of the loss for every pair."""
    m, n = Y.shape
    for row in range(m):
        if loss_code == MSE:
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
        elif output_code == SIGMOID:
            for k in range(n):
                if loss_code == CROSS_ENTROPY:
                    delta[row, k] = -T[row, k] * (1.0 - Y[row, k])
                else:
                    delta[row, k] = Y[row, k] - T[row, k]
        elif output_code == SOFTMAX:
            t_sum = 0.0
            for k in range(n):
                t_sum += T[row, k]
            for k in range(n):
                delta[row, k] = Y[row, k] * t_sum - T[row, k]
            if loss_code == BINARY_CROSS_ENTROPY:
                weighted = 0.0
                for k in range(n):
                    weighted += (1.0 - T[row, k]) * _clipped_reciprocal(1.0 - Y[row, k]) \
                        * Y[row, k]
                for k in range(n):
                    grad_y = (1.0 - T[row, k]) * _clipped_reciprocal(1.0 - Y[row, k])
                    delta[row, k] += Y[row, k] * (grad_y - weighted)
        else:
            for k in range(n):
                grad_y = -T[row, k] * _clipped_reciprocal(Y[row, k])
                if loss_code == BINARY_CROSS_ENTROPY:
                    grad_y += (1.0 - T[row, k]) * _clipped_reciprocal(1.0 - Y[row, k])
                delta[row, k] = grad_y * _derivative(output_code, Z[row, k], Y[row, k])
        for k in range(n):
            delta[row, k] *= scale


# --- the forward trace kept for back-propagation ------------------------------------------

def workspace_per_row(layer_sizes):
    """Scratch values per row of ``X`` that :func:`gradient_into` needs (Python side).

    Room for every hidden layer's Z is included whatever the activations: it is written
    only for the activations that need it, and untouched memory costs nothing.
    """
    hidden_and_output = [int(size) for size in layer_sizes[1:]]
    return (2 * sum(hidden_and_output) + 2 * max(hidden_and_output))


@jit
def _workspace_per_row(layer_sizes):
    units = 0
    widest = 0
    for layer in range(1, layer_sizes.shape[0]):
        units += layer_sizes[layer]
        widest = max(widest, layer_sizes[layer])
    return 2 * units + 2 * widest


@jit
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


@jit
def _trace_buffers(layer_sizes, X):
    """A flat buffer for every layer's activation (input excluded) and the output's Z."""
    m = X.shape[0]
    units = 0
    for layer in range(1, layer_sizes.shape[0]):
        units += layer_sizes[layer]
    return np.empty(m * units, dtype=X.dtype), np.empty((m, layer_sizes[-1]), dtype=X.dtype)


@jit
def _layer_rows(trace, layer_sizes, m, layer):
    """The (m, layer_sizes[layer]) activation of ``layer >= 1`` inside ``trace``."""
    offset = 0
    for previous in range(1, layer):
        offset += m * layer_sizes[previous]
    n = layer_sizes[layer]
    return trace[offset:offset + m * n].reshape((m, n))


@jit
def _forward_trace(params, layer_sizes, activation_codes, X, trace, Z_out, hidden_Z):
    """Fill ``trace`` with every layer's activation and ``Z_out`` with the output's Z.

    A hidden layer whose activation needs its Z for back-propagation (``NEEDS_Z``) also
    keeps it in ``hidden_Z`` (laid out as ``trace``), unless ``hidden_Z`` is empty.
    """
    m = X.shape[0]
    n_layers = layer_sizes.shape[0] - 1
    A = X
    start = 0
    for layer in range(n_layers):
        n_in, n_out = layer_sizes[layer], layer_sizes[layer + 1]
        A_next = _layer_rows(trace, layer_sizes, m, layer + 1)
        if layer == n_layers - 1:
            _dense(A, params, start, n_in, n_out, Z_out,
                   _use_blas(m, n_in, n_out, FORWARD_LAYER))
            A_next[:, :] = Z_out
        elif NEEDS_Z[activation_codes[layer]] and hidden_Z.shape[0] > 0:
            Z = _layer_rows(hidden_Z, layer_sizes, m, layer + 1)
            _dense(A, params, start, n_in, n_out, Z, _use_blas(m, n_in, n_out, FORWARD_LAYER))
            A_next[:, :] = Z
        else:
            _dense(A, params, start, n_in, n_out, A_next,
                   _use_blas(m, n_in, n_out, FORWARD_LAYER))
        _activate_in_place(activation_codes[layer], A_next)
        A = A_next
        start += n_in * n_out + n_out
