"""The gradient-descent step's update for the Numba kernels: ``params -= rate * grad``, all
or nothing, in as few passes over the parameters as the test allows.

A network's step is memory-bound once its gradient is known: at one row of 784-256-128-10
the update moves 235k parameters (0.94 MB in float32) and the gradient beside them, more
bytes than the forward and backward passes read. So:

- the update runs in the network's own precision (:func:`step_rate`): a float32 network
  steps in float32, as NumPy's ``params -= learning_rate * grad`` does on float32 arrays,
  and its passes vectorise over twice the values of float64 (a float64 rate made LLVM
  widen every value, and the two passes took 87 µs instead of 44);
- the all-or-nothing test is one read-only pass that computes each new value exactly as
  the update will store it (:func:`steps_finite`), so what passes is what gets written;
- the first layer's weight gradient ``X.T @ delta`` is applied to the weights directly,
  never written: at one row as an outer product ``x (n_in,)`` times ``delta (n_out,)``
  (:func:`one_row_update`), for a batch by BLAS's gemm with ``beta = 1`` and
  ``alpha = -rate`` (:func:`batch_update`). One pass that reads and writes the weights
  instead of three (write the gradient, test it, apply it). The test reads the weights
  alone (:func:`update_is_finite`): a bound that proves every new weight finite, or the
  caller takes the exact path.

The kernels call these functions; none is called from Python.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir as llvm_ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from fastnn import config


def _helper(py_function):
    """A function only kernels call, compiled on its own once per dtype with the kernels'
    options (:data:`fastnn.config.JIT_OPTIONS`, no Python entry point) and linked into
    them: Numba's IR inlining (``inline="always"``) copied these bodies into every kernel
    and doubled the gradient kernel's compile (7.5 -> 14.6 s with the oneDNN routes)."""
    return config.njit(py_function, **config.JIT_OPTIONS, **config.HELPER_JIT_OPTIONS)


# Relative slack on the one-row bound: covers the three roundings of a new weight
# (x * delta, rate * that, the subtraction), each at most 2**-24 of its value in float32.
_SLACK = 1e-3


@_helper
def step_rate(params, learning_rate):
    """The learning rate rounded to the dtype of ``params``, the precision the update
    computes in.

    Parameters
    ----------
    params : ndarray, shape (n_params,)
    learning_rate : float

    Returns
    -------
    scalar of the dtype of ``params``
    """
    return params.dtype.type(learning_rate)


@_helper
def steps_finite(params, rate, grad):
    """Whether every ``params[i] - rate * grad[i]``, computed as :func:`step` computes it,
    is finite: one read-only pass (``x - x`` is 0 for finite ``x``, NaN otherwise).

    Parameters
    ----------
    params, grad : ndarray, shape (n,)
    rate : scalar of their dtype (:func:`step_rate`)
    """
    finite = True
    for index in range(params.shape[0]):
        new = params[index] - rate * grad[index]
        finite &= new - new == 0.0
    return finite


@_helper
def step(params, rate, grad):
    """``params -= rate * grad`` in place.

    Parameters
    ----------
    params, grad : ndarray, shape (n,)
    rate : scalar of their dtype (:func:`step_rate`)
    """
    for index in range(params.shape[0]):
        params[index] -= rate * grad[index]


@_helper
def update_is_finite(weights, rate, X, delta):
    """Whether :func:`one_row_update` or :func:`batch_update` is sure to leave every weight
    finite, proved from a bound instead of the new values: every ``|weights|`` below

    ``limit = (1 - s) * max_float - (1 + s) * rate * G``,  ``G = m * max|X| * max|delta|``

    (``G`` bounds every ``|(X.T @ delta)[i, j]|`` and every partial sum of it; ``s`` is the
    slack for the roundings, ``max_float`` the dtype's largest value), and ``G`` itself
    below ``max_float``. One read-only pass over the weights, none over a gradient, and
    one over ``X`` and ``delta`` (:func:`largest_magnitude`). False (the caller then forms
    the gradient and tests it exactly) also where ``X`` or ``delta`` is not finite.

    Parameters
    ----------
    weights : ndarray, shape (n_in * n_out,)
        The first layer's weights, flat, row-major (n_in, n_out).
    rate : scalar of the dtype of ``weights``
    X : ndarray, shape (m, n_in)
        The layer's input, C-contiguous.
    delta : ndarray, shape (m, n_out)
        The layer's delta, C-contiguous.
    """
    largest = float(np.finfo(weights.dtype).max)
    m = X.shape[0]
    x_max, x_finite = largest_magnitude(X.reshape(X.size))
    delta_max, delta_finite = largest_magnitude(delta.reshape(delta.size))
    # A sum of m products: each rounding adds at most eps of the running total.
    gradient_max = ((1.0 + _SLACK) * (1.0 + m * float(np.finfo(weights.dtype).eps))
                    * m * x_max * delta_max)
    if not (x_finite and delta_finite and gradient_max < largest):
        return False
    limit = (1.0 - _SLACK) * largest - (1.0 + _SLACK) * abs(float(rate)) * gradient_max
    # In the weights' dtype (a float32 pass compares float32 values), rounded down.
    bound = weights.dtype.type(limit * (1.0 - 1e-6))
    below = True
    for index in range(weights.shape[0]):
        below &= abs(weights[index]) < bound
    return below


def largest_magnitude(values):
    """``(max |values|, whether all are finite)`` of a 1-D C-contiguous float32 or float64
    array, from the values' bits: the magnitude bits (sign cleared) order as the
    magnitudes do, and an integer maximum vectorises where a float one cannot (it would
    have to keep NaN). Infinity and NaN have the largest bit patterns. Compiled code only.

    Returns
    -------
    (float, bool)
    """
    raise TypeError("largest_magnitude is callable from Numba-compiled code only")


@overload(largest_magnitude)
def _largest_magnitude(values):
    if not (isinstance(values, types.Array) and values.dtype in (types.float32,
                                                                 types.float64)):
        return None
    width = values.dtype.bitwidth
    bits_type = np.uint32 if width == 32 else np.uint64
    magnitude_mask = bits_type(2 ** (width - 1) - 1)
    infinity = bits_type(np.array(np.inf, dtype=f"float{width}").view(bits_type))

    def impl(values):
        bits = values.view(bits_type)
        top = bits_type(0)
        for k in range(bits.shape[0]):
            magnitude = bits[k] & magnitude_mask
            top = magnitude if magnitude > top else top
        box = np.empty(1, bits_type)
        box[0] = top
        return float(box.view(values.dtype)[0]), top < infinity
    return impl


@_helper
def one_row_update(weights, rate, x, delta):
    """``weights -= rate * outer(x, delta)`` in place, each term rounded as the two-pass
    step rounds it (the gradient ``x_i * delta_j`` in the dtype, then the update), so the
    new weights are bit for bit those of :func:`step` on the formed gradient. Test first
    with :func:`update_is_finite` (``X`` and ``delta`` the one-row 2-D arrays).

    Parameters
    ----------
    weights : ndarray, shape (n_in * n_out,)
        Flat, row-major (n_in, n_out).
    rate : scalar of the dtype of ``weights``
    x : ndarray, shape (n_in,)
    delta : ndarray, shape (n_out,)
    """
    n_out = delta.shape[0]
    for i in range(x.shape[0]):
        x_i = x[i]
        start = i * n_out
        for j in range(n_out):
            weights[start + j] -= rate * (x_i * delta[j])


def batch_update(weights, rate, X, delta):
    """``weights -= rate * (X.T @ delta)`` in place, by BLAS's gemm with ``beta = 1``
    (SciPy's BLAS, which ``np.dot`` calls in compiled code); True once done, False (and
    ``weights`` untouched) if the BLAS wrapper refused. The product is added as gemm
    rounds it (``weights + (-rate) * (X.T @ delta)``), not as the two-pass step does; test
    first with :func:`update_is_finite`. Compiled code only.

    Parameters
    ----------
    weights : ndarray, shape (n_in * n_out,)
        Flat, row-major (n_in, n_out).
    rate : scalar of the dtype of ``weights``
    X : ndarray, shape (m, n_in)
    delta : ndarray, shape (m, n_out)
        All C-contiguous, of one float dtype.
    """
    raise TypeError("batch_update is callable from Numba-compiled code only")


@overload(batch_update)
def _batch_update(weights, rate, X, delta):
    def impl(weights, rate, X, delta):
        return _gemm_add_product(-rate, X, delta, weights) == 0
    return impl


@intrinsic
def _gemm_add_product(typingctx, alpha, X, delta, weights):
    """``weights += alpha * X.T @ delta`` through Numba's BLAS wrapper ``numba_xxgemm``
    (column-major gemm: the row-major (n_in, n_out) weights are the column-major
    (n_out, n_in) ``delta.T @ X`` target); the wrapper's status, 0 when done."""
    sig = types.int32(alpha, X, delta, weights)

    def codegen(context, builder, signature, args):
        dtype = signature.args[3].dtype
        char, status = llvm_ir.IntType(8), llvm_ir.IntType(32)
        index, pointer = context.get_value_type(types.intp), llvm_ir.IntType(8).as_pointer()
        function = cgutils.get_or_insert_function(builder.module, llvm_ir.FunctionType(
            status, [char, char, char, index, index, index, pointer, pointer, index,
                     pointer, index, pointer, pointer, index]), "numba_xxgemm")
        X_array, delta_array, weights_array = (
            context.make_array(signature.args[k])(context, builder, args[k])
            for k in (1, 2, 3))
        m, n_in = cgutils.unpack_tuple(builder, X_array.shape, 2)
        n_out = cgutils.unpack_tuple(builder, delta_array.shape, 2)[1]
        alpha_slot = cgutils.alloca_once_value(
            builder, context.cast(builder, args[0], signature.args[0], dtype))
        beta_slot = cgutils.alloca_once_value(builder, context.get_constant(dtype, 1.0))
        kind = ord("s") if dtype == types.float32 else ord("d")

        def constant(byte):
            return llvm_ir.Constant(char, byte)

        def void(value):
            return builder.bitcast(value, pointer)

        return builder.call(function, [
            constant(kind), constant(ord("n")), constant(ord("t")), n_out, n_in, m,
            void(alpha_slot), void(delta_array.data), n_out, void(X_array.data), n_in,
            void(beta_slot), void(weights_array.data), n_out])

    return sig, codegen
