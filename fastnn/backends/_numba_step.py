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
- at one row, the first layer's weight gradient is an outer product ``x (n_in,)`` times
  ``delta (n_out,)``, and the step applies it to the weights directly
  (:func:`one_row_update`), never writing that gradient: one pass that reads and writes
  the weights instead of three (write the gradient, test it, apply it). Its test reads
  the weights alone (:func:`one_row_update_is_finite`): a bound that proves every new
  weight finite, or the caller takes the exact path.

Every function here is inlined into the kernels (``inline="always"``); none is called
from Python.
"""

from __future__ import annotations

import numpy as np

from fastnn import config


def _inline(py_function):
    """Numba's IR inlining into every kernel that calls ``py_function``, with the
    kernels' options (:data:`fastnn.config.JIT_OPTIONS`); never compiled on its own."""
    return config.njit(py_function, **dict(config.JIT_OPTIONS, inline="always", cache=False))


# Relative slack on the one-row bound: covers the three roundings of a new weight
# (x * delta, rate * that, the subtraction), each at most 2**-24 of its value in float32.
_SLACK = 1e-3


@_inline
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


@_inline
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


@_inline
def step(params, rate, grad):
    """``params -= rate * grad`` in place.

    Parameters
    ----------
    params, grad : ndarray, shape (n,)
    rate : scalar of their dtype (:func:`step_rate`)
    """
    for index in range(params.shape[0]):
        params[index] -= rate * grad[index]


@_inline
def one_row_update_is_finite(weights, rate, x, delta):
    """Whether :func:`one_row_update` is sure to leave every weight finite, proved from a
    bound instead of the new values: every ``|weights|`` below ``limit``, where

    ``limit = (1 - s) * max_float - (1 + s) * rate * max|x| * max|delta|``,

    ``s`` the slack for the update's roundings and ``max_float`` the dtype's largest value;
    the gradient ``x_i * delta_j`` itself must also stay below ``max_float``. One read-only
    pass over the weights, none over a gradient. False (the caller then forms the gradient
    and tests it exactly) also where ``x`` or ``delta`` is not finite.

    Parameters
    ----------
    weights : ndarray, shape (n_in * n_out,)
        The first layer's weights, flat, row-major (n_in, n_out).
    rate : scalar of the dtype of ``weights``
    x : ndarray, shape (n_in,)
        The row's input.
    delta : ndarray, shape (n_out,)
        The row's first-layer delta.
    """
    largest = float(np.finfo(weights.dtype).max)
    x_max = 0.0
    finite = True
    for i in range(x.shape[0]):
        x_max = max(x_max, abs(float(x[i])))
        finite &= x[i] - x[i] == 0.0
    delta_max = 0.0
    for j in range(delta.shape[0]):
        delta_max = max(delta_max, abs(float(delta[j])))
        finite &= delta[j] - delta[j] == 0.0
    gradient_max = (1.0 + _SLACK) * x_max * delta_max
    if not finite or not gradient_max < largest:
        return False
    limit = (1.0 - _SLACK) * largest - (1.0 + _SLACK) * abs(float(rate)) * gradient_max
    below = True
    for index in range(weights.shape[0]):
        below &= abs(weights[index]) < limit
    return below


@_inline
def one_row_update(weights, rate, x, delta):
    """``weights -= rate * outer(x, delta)`` in place, each term rounded as the two-pass
    step rounds it (the gradient ``x_i * delta_j`` in the dtype, then the update), so the
    new weights are bit for bit those of :func:`step` on the formed gradient.

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
