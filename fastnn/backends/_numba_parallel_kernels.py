"""The block-parallel kernels of the ``numba_parallel`` backend.

A batch is cut into blocks of ``BLOCK_ROWS`` rows (the last one ragged), a constant:
the blocks, and so every sum, are the same whatever the number of threads, and the
results are bit for bit identical at 1 and at N threads. ``numba.prange`` runs the
blocks; each block calls the serial public kernels of :mod:`._numba_kernels`
(``forward_into``, ``loss``, ``gradient_into``) on its rows, writing its output rows, its
mean loss, or its mean gradient into its own row of a ``(n_blocks, n_params)`` array of
partial results. The partials are then added in block order (deterministic), each
weighted by its block's share of the rows. The sums therefore differ from the serial
kernels' by rounding only (well within the cross-check tolerances).

Below two blocks the drivers call the serial kernels themselves, so small batches pay
no parallel overhead and give exactly the ``numba`` backend's numbers.

BLAS inside a block is single-threaded: while the blocks run on more than one Numba
thread, the drivers set the BLAS pools to one thread (and back after), since
``fastnn.config.pinned_threads`` pins BLAS and Numba to the same count and two levels of
threads would oversubscribe the cores (OpenBLAS also serialises concurrent threaded
level-3 calls). This costs about 8 us a call, against the milliseconds of a batch of
two blocks or more.

Only two kernels are compiled with ``parallel=True`` (per dtype): :func:`block_outputs`
(the forward pass or the loss) and :func:`block_gradients` (the gradient, with or without
the finiteness tests and the gradient-descent step), since each costs seconds to compile.

The drivers (Python functions with the arguments of the serial kernels of the same name):

``forward_into(params, layer_sizes, activation_codes, X, Y) -> bool``
``loss(params, layer_sizes, activation_codes, loss_code, X, T) -> float``
``gradient_into(params, layer_sizes, activation_codes, loss_code, X, T, grad, workspace)
-> float``
``train_step(params, layer_sizes, activation_codes, loss_code, X, T, learning_rate, grad,
workspace) -> float``
``checked_gradient_into(...)``, ``checked_train_step(...)``: the same contracts as the
serial kernels: the loss, or NaN (and for the step ``params`` unchanged) unless ``X``,
``T``, the loss and the gradient / every new parameter are finite.
"""

from __future__ import annotations

from contextlib import contextmanager

import numba
import numpy as np

from fastnn.backends import _numba_step as update
from fastnn.backends import numba_backend

# The configuration this copy of the source is compiled for: none in the plain import
# (the serial kernels it calls read the activations and loss at run time), one in each
# copy that numba_backend.specialised runs, whose block kernels call the serial kernels of
# that configuration (see fastnn/backends/_numba_kernels.py).
CONFIGURATION = globals().get("CONFIGURATION")
serial = numba_backend.specialised("fastnn.backends._numba_kernels", CONFIGURATION)
_all_finite, jit = serial._all_finite, serial.jit

# Rows per block: large enough that a block's products go through BLAS efficiently and
# that the partial gradients (one parameter vector per block) stay small next to the
# block's workspace (100-100-50-10: 15 k values against 133 k; they draw level only
# for layers about 1000 wide); small enough that a batch of a few thousand rows gives
# every thread several blocks.
BLOCK_ROWS = 256

# What block_gradients does after the gradient (its ``mode``).
GRADIENT, CHECKED_GRADIENT, STEP, CHECKED_STEP = range(4)
# block_outputs' loss_code for the forward pass (the losses' codes are >= 0).
FORWARD = -1


def n_blocks(m):
    """The number of blocks of a batch of ``m`` rows (the last one may be ragged)."""
    return -(-m // BLOCK_ROWS)


# --- drivers: the serial kernels below two blocks, the parallel ones from there ----------

def forward_into(params, layer_sizes, activation_codes, X, Y):
    """:func:`._numba_kernels.forward_into`, block-parallel from two blocks."""
    if X.shape[0] < 2 * BLOCK_ROWS:
        return serial.forward_into(params, layer_sizes, activation_codes, X, Y)
    with _single_threaded_blas():
        return block_outputs(params, layer_sizes, activation_codes, FORWARD, X, X, Y,
                             np.empty(n_blocks(X.shape[0]), dtype=np.float64)) == 1.0


def loss(params, layer_sizes, activation_codes, loss_code, X, T):
    """:func:`._numba_kernels.loss`, block-parallel from two blocks."""
    if X.shape[0] < 2 * BLOCK_ROWS:
        return serial.loss(params, layer_sizes, activation_codes, loss_code, X, T)
    with _single_threaded_blas():
        return block_outputs(params, layer_sizes, activation_codes, loss_code, X, T, T[:0],
                             np.empty(n_blocks(X.shape[0]), dtype=np.float64))


def gradient_into(params, layer_sizes, activation_codes, loss_code, X, T, grad, workspace):
    """:func:`._numba_kernels.gradient_into`, block-parallel from two blocks."""
    if X.shape[0] < 2 * BLOCK_ROWS:
        return serial.gradient_into(params, layer_sizes, activation_codes, loss_code, X, T,
                                    grad, workspace)
    return _gradients(params, layer_sizes, activation_codes, loss_code, X, T, 0.0, grad,
                      workspace, GRADIENT)


def checked_gradient_into(params, layer_sizes, activation_codes, loss_code, X, T, grad,
                          workspace):
    """:func:`._numba_kernels.checked_gradient_into`, block-parallel from two blocks."""
    if X.shape[0] < 2 * BLOCK_ROWS:
        return serial.checked_gradient_into(params, layer_sizes, activation_codes, loss_code,
                                            X, T, grad, workspace)
    return _gradients(params, layer_sizes, activation_codes, loss_code, X, T, 0.0, grad,
                      workspace, CHECKED_GRADIENT)


def train_step(params, layer_sizes, activation_codes, loss_code, X, T, learning_rate, grad,
               workspace):
    """:func:`._numba_kernels.train_step`, block-parallel from two blocks."""
    if X.shape[0] < 2 * BLOCK_ROWS:
        return serial.train_step(params, layer_sizes, activation_codes, loss_code, X, T,
                                 learning_rate, grad, workspace)
    return _gradients(params, layer_sizes, activation_codes, loss_code, X, T, learning_rate,
                      grad, workspace, STEP)


def checked_train_step(params, layer_sizes, activation_codes, loss_code, X, T, learning_rate,
                       grad, workspace):
    """:func:`._numba_kernels.checked_train_step`, block-parallel from two blocks."""
    if X.shape[0] < 2 * BLOCK_ROWS:
        return serial.checked_train_step(params, layer_sizes, activation_codes, loss_code, X,
                                         T, learning_rate, grad, workspace)
    return _gradients(params, layer_sizes, activation_codes, loss_code, X, T, learning_rate,
                      grad, workspace, CHECKED_STEP)


def checked_gradient_step(params, layer_sizes, activation_codes, loss_code, X, T,
                          learning_rate, grad, workspace, step):
    """:func:`._numba_kernels.checked_gradient_step`, block-parallel from two blocks."""
    if X.shape[0] < 2 * BLOCK_ROWS:
        return serial.checked_gradient_step(params, layer_sizes, activation_codes, loss_code,
                                            X, T, learning_rate, grad, workspace, step)
    return _gradients(params, layer_sizes, activation_codes, loss_code, X, T,
                      learning_rate if step else 0.0, grad, workspace,
                      CHECKED_STEP if step else CHECKED_GRADIENT)


def _gradients(params, layer_sizes, activation_codes, loss_code, X, T, learning_rate, grad,
               workspace, mode):
    # The partials come from NumPy's allocator (huge pages, as the workspace).
    partials = np.empty((n_blocks(X.shape[0]), params.shape[0]), dtype=params.dtype)
    with _single_threaded_blas():
        return block_gradients(params, layer_sizes, activation_codes, loss_code, X, T,
                               float(learning_rate), grad, workspace, partials, mode)


@contextmanager
def _single_threaded_blas():
    """One BLAS thread inside the block while Numba runs more than one (see the module
    docstring); the previous counts are restored after."""
    if numba.get_num_threads() == 1:
        yield
        return
    pools = _blas_pools()
    previous = [pool.get_num_threads() for pool in pools]
    for pool, threads in zip(pools, previous):
        if threads != 1:
            pool.set_num_threads(1)
    try:
        yield
    finally:
        for pool, threads in zip(pools, previous):
            if threads != 1:
                pool.set_num_threads(threads)


def _blas_pools():
    """threadpoolctl's controllers of the BLAS libraries (found once)."""
    if not _BLAS_POOLS:
        # The kernels' np.dot calls SciPy's BLAS: load it before looking.
        import scipy.linalg.cython_blas  # noqa: F401
        from threadpoolctl import ThreadpoolController

        _BLAS_POOLS.append(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _BLAS_POOLS[0]


_BLAS_POOLS = []


# --- the parallel kernels -----------------------------------------------------------------

@jit(parallel=True)
def block_outputs(params, layer_sizes, activation_codes, loss_code, X, T, Y, block_values):
    """The forward pass into ``Y`` (``loss_code`` is ``FORWARD``; ``T`` is unused), or the
    mean loss (``Y`` is unused), block by block in parallel.

    Parameters
    ----------
    params : ndarray, shape (n_params,)
    layer_sizes, activation_codes : ndarray of int64
        As the serial kernels take them.
    loss_code : int
    X : ndarray, shape (m, layer_sizes[0])
    T : ndarray, shape (m, layer_sizes[-1])
    Y : ndarray, shape (m, layer_sizes[-1])
    block_values : ndarray of float64, shape (n_blocks(m),)
        Scratch: each block's finiteness (1 or 0) or mean loss.

    Returns
    -------
    float
        For the forward pass 1.0 if ``X`` and ``Y`` are finite, else 0.0; for the loss,
        the mean loss.
    """
    m = X.shape[0]
    blocks = block_values.shape[0]
    for block in numba.prange(blocks):
        start = block * BLOCK_ROWS
        stop = min(start + BLOCK_ROWS, m)
        if loss_code == FORWARD:
            finite = serial.forward_into(params, layer_sizes, activation_codes, X[start:stop],
                                         Y[start:stop])
            block_values[block] = 1.0 if finite else 0.0
        else:
            block_values[block] = serial.loss(params, layer_sizes, activation_codes, loss_code,
                                              X[start:stop], T[start:stop])
    if loss_code == FORWARD:
        all_finite = 1.0
        for block in range(blocks):
            all_finite = min(all_finite, block_values[block])
        return all_finite
    total = 0.0
    for block in range(blocks):
        total += _block_rows(block, m) * block_values[block]
    return total / m


@jit(parallel=True)
def block_gradients(params, layer_sizes, activation_codes, loss_code, X, T, learning_rate,
                    grad, workspace, partials, mode):
    """The mean loss and its gradient (into ``grad``), block by block in parallel; then,
    by ``mode``, the finiteness tests and/or the gradient-descent step.

    Parameters
    ----------
    params : ndarray, shape (n_params,)
        Updated in place for the modes ``STEP`` and ``CHECKED_STEP``.
    layer_sizes, activation_codes, loss_code
        As the serial kernels take them.
    X : ndarray, shape (m, layer_sizes[0])
    T : ndarray, shape (m, layer_sizes[-1])
    learning_rate : float
        Read by the step modes only.
    grad : ndarray, shape (n_params,)
        Output: the gradient of the mean loss.
    workspace : ndarray, shape (>= m * workspace_per_row(layer_sizes),)
    partials : ndarray, shape (n_blocks(m), n_params)
        Scratch: each block's mean gradient.
    mode : int
        ``GRADIENT``, ``CHECKED_GRADIENT``, ``STEP`` or ``CHECKED_STEP``: the contracts of
        the serial ``gradient_into``, ``checked_gradient_into``, ``train_step`` and
        ``checked_train_step``.

    Returns
    -------
    float
        The mean loss (before the step); for the checked modes NaN unless ``X``, ``T``,
        the loss and the gradient (``CHECKED_GRADIENT``) or every new parameter
        (``CHECKED_STEP``, which then leaves ``params`` unchanged) are finite.
    """
    m = X.shape[0]
    blocks = partials.shape[0]
    per_row = workspace.shape[0] // m
    checked = mode == CHECKED_GRADIENT or mode == CHECKED_STEP
    block_losses = np.empty(blocks, dtype=np.float64)
    inputs_finite = np.ones(blocks, dtype=np.bool_)
    for block in numba.prange(blocks):
        start = block * BLOCK_ROWS
        stop = min(start + BLOCK_ROWS, m)
        X_block = X[start:stop]
        T_block = T[start:stop]
        block_losses[block] = serial.gradient_into(
            params, layer_sizes, activation_codes, loss_code, X_block, T_block,
            partials[block], workspace[start * per_row:stop * per_row])
        if checked:
            inputs_finite[block] = (_all_finite(X_block.reshape(X_block.size))
                                    and _all_finite(T_block.reshape(T_block.size)))
    mean_loss = 0.0
    for block in range(blocks):
        mean_loss += _block_rows(block, m) * block_losses[block]
    mean_loss /= m
    _add_partials(partials, m, grad)
    if checked:
        finite = mean_loss - mean_loss == 0.0
        for block in range(blocks):
            finite &= inputs_finite[block]
        if mode == CHECKED_GRADIENT:
            finite &= _all_finite(grad)
        else:
            finite &= update.steps_finite(params, update.step_rate(params, learning_rate),
                                          grad)
        if not finite:
            return np.nan
    if mode == STEP or mode == CHECKED_STEP:
        update.step(params, update.step_rate(params, learning_rate), grad)
    return mean_loss


@jit(inline="always")
def _block_rows(block, m):
    """The number of rows of ``block`` in a batch of ``m`` rows."""
    return min(BLOCK_ROWS, m - block * BLOCK_ROWS)


@jit(inline="always")
def _add_partials(partials, m, grad):
    """``grad = sum_b rows_b * partials[b] / m``, the blocks added in order (in float64)."""
    blocks, n_params = partials.shape
    for index in range(n_params):
        total = 0.0
        for block in range(blocks):
            total += _block_rows(block, m) * partials[block, index]
        grad[index] = total / m
