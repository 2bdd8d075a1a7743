"""The numba backend's training epoch: one ``@njit`` kernel per epoch, and its wrapper.

:func:`fastnn.backends.numba_backend.compiled_epoch` (what ``NumbaBackend.train_epoch``
calls) translates an epoch of :mod:`fastnn.train` into the kernel's arguments;
:func:`epoch_kernel` then runs every
mini-batch (rows gathered in the epoch's order), the L2 penalty and the optimiser step,
with the same formulas in the same order as the optimisers of :mod:`fastnn.optimizers`,
so both paths give the same parameters to rounding. The kernel assumes clean input.

Every training option runs in the kernel, none falls back to Python:

- dense ``X``: the gradient of each batch comes from the numba backend's
  ``gradient_into`` (scratch space allocated once per epoch, by NumPy: a fresh Numba
  buffer per batch cost a fifth of a small network's epoch in page faults), or
  ``loss_and_gradient_weighted`` with sample weights;
- sparse ``X`` (canonical CSR): the epoch's rows are gathered into one CSR in visiting
  order, and each batch is a slice of it for ``csr_loss_and_gradient`` (the first layer
  a sparse product; weights of length 0 mean unweighted);
- sample weights: gathered with the rows; each batch's penalty is
  ``alpha * ||W||^2 / (2 * sum of its weights)`` (scikit-learn's);
- learning-rate schedules act between epochs (:mod:`fastnn.schedules`): the kernel takes
  the optimiser's current rate from its settings;
- ``output_mean_loss``: the reported data loss is scaled, the gradient is not.

The optimiser and its hyperparameters reach the kernel as integers generated from the
optimiser table (``OPTIMIZER_CODES``, ``SETTING_CODES``), which Numba freezes as
constants when it compiles.
"""

from __future__ import annotations

import math

import numpy as np

from fastnn import config as fastnn_config
from fastnn.backends import numba_backend
from fastnn.optimizers import OPTIMIZER_CODES, SETTING_CODES, adam_step_size, optimizer_codes

# The configuration this copy of the source is compiled for: none in the plain import,
# whose kernels take the optimizer from their code argument at run time (GENERIC); one
# (activations, loss and optimizer) in each copy that numba_backend.specialised runs, whose
# kernels compile that optimizer's step alone and call the network kernels of the same
# configuration (see fastnn/backends/_numba_kernels.py).
CONFIGURATION = globals().get("CONFIGURATION")
_kernels = numba_backend.specialised("fastnn.backends._numba_kernels",
                                 None if CONFIGURATION is None else CONFIGURATION.network())
FIRST_LAYER = _kernels.FIRST_LAYER
GENERIC = _kernels.GENERIC
jit = _kernels.jit
workspace_per_row = _kernels.workspace_per_row
_gradient_into = _kernels._gradient_into
csr_loss_and_gradient = _kernels.csr_loss_and_gradient
loss_and_gradient_weighted = _kernels.loss_and_gradient_weighted

# The optimisers the kernel has a step for, and where their hyperparameters are in
# the settings array.
# Checked against the optimizer table at import: a table entry without a step here stops
# the import, naming both lists.
SGD, MOMENTUM, ADAM = optimizer_codes(("sgd", "momentum", "adam"), __name__).values()
OPTIMIZER = GENERIC if CONFIGURATION is None else OPTIMIZER_CODES[CONFIGURATION.optimizer]
LEARNING_RATE, MOMENTUM_COEFFICIENT, NESTEROV, BETA_1, BETA_2, EPSILON = (
    SETTING_CODES[name]
    for name in ("learning_rate", "momentum", "nesterov", "beta_1", "beta_2", "epsilon"))

# Numba's default (Python) error model checks every float division for zero, which
# keeps LLVM from vectorising the optimiser loops (10x slower Adam steps). The
# numpy model divides as IEEE does, like the NumPy path these kernels must match.
train_jit = jit(error_model="numpy")
train_helper_jit = jit(error_model="numpy", helper=True)
# Small helpers inlined where they are called: each function compiled on its own costs
# a tenth of a second or more of a cold first epoch.
train_inline_jit = jit(error_model="numpy", inline="always")


# The three epoch kernels below share their arguments' meanings:
#
# params : ndarray, shape (n_params,)
#     Updated in place.
# layer_sizes, activation_codes : ndarray of int64
#     As ``fastnn.backends.numba_backend.kernel_arguments``.
# loss_code : int
# T : ndarray, shape (n_samples, n_outputs)
# order : ndarray of int64, shape (n_samples,)
#     The rows in the order this epoch visits them.
# batch_size : int
#     Rows per batch, 1 .. n_samples; the last batch may be smaller.
# optimizer_code : int
#     ``OPTIMIZER_CODES[optimizer.name]``.
# alpha : float
#     The L2 penalty.
# data_scale : float
#     Factor on the reported data loss (not on the gradient).
# settings : ndarray of float64, shape (n_settings,)
#     The optimiser's hyperparameters at ``SETTING_CODES`` (``Optimizer.settings``).
# state : ndarray, shape (n_buffers, n_params)
#     The optimiser's state buffers (``Optimizer.state``): momentum's velocity; Adam's
#     first and second moments; none for sgd.
# step_count : int
#     Optimiser steps taken before this epoch (Adam's bias correction).
#
# Each returns the epoch's training loss: batch losses (with the L2 term, before each
# step) weighted by batch size.


@train_jit
def epoch_kernel(params, layer_sizes, activation_codes, loss_code, X, T, order, workspace,
                batch_size, optimizer_code, alpha, data_scale, settings, state, step_count):
    """One unweighted epoch on a dense ``X``, updating ``params`` and the optimiser state.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_inputs)
    workspace : ndarray, shape (batch_size * workspace_per_row(layer_sizes),)
        Scratch space of ``gradient_into``.

    The other arguments and the result are described above the kernels.
    """
    n_samples = order.shape[0]
    grad = np.empty_like(params)
    # The epoch's rows in visiting order, so every batch is a contiguous slice.
    T_epoch = _gather_rows(T, order)
    X_epoch = _gather_rows(X, order)
    total = 0.0
    for start in range(0, n_samples, batch_size):
        stop = min(start + batch_size, n_samples)
        # The inlined body of gradient_into (see there).
        batch_loss = _gradient_into(params, layer_sizes, activation_codes, loss_code,
                                    X_epoch[start:stop], T_epoch[start:stop], workspace[:0],
                                    grad, workspace)
        step_count += 1
        batch_loss = _finish_batch(params, grad, layer_sizes, batch_loss, data_scale, alpha,
                                   float(stop - start), optimizer_code, settings, state,
                                   step_count)
        total += batch_loss * (stop - start)
    return total / n_samples


@train_jit
def epoch_kernel_weighted(params, layer_sizes, activation_codes, loss_code, X, T, order,
                         weights, batch_size, optimizer_code, alpha, data_scale, settings,
                         state, step_count):
    """One epoch on a dense ``X`` with sample weights, updating ``params`` and the state.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_inputs)
    weights : ndarray, shape (n_samples,)
        The sample weights (in the rows' order, not ``order``'s).

    The other arguments and the result are described above the kernels.
    """
    n_samples = order.shape[0]
    grad = np.empty_like(params)
    T_epoch = _gather_rows(T, order)
    X_epoch = _gather_rows(X, order)
    weights_epoch = _gather_values(weights, order)
    total = 0.0
    for start in range(0, n_samples, batch_size):
        stop = min(start + batch_size, n_samples)
        batch_loss = loss_and_gradient_weighted(
            params, layer_sizes, activation_codes, loss_code, X_epoch[start:stop],
            T_epoch[start:stop], weights_epoch[start:stop], grad)
        step_count += 1
        batch_loss = _finish_batch(params, grad, layer_sizes, batch_loss, data_scale, alpha,
                                   _weight_sum(weights_epoch, start, stop), optimizer_code,
                                   settings, state, step_count)
        total += batch_loss * (stop - start)
    return total / n_samples


@train_jit
def epoch_kernel_csr(params, layer_sizes, activation_codes, loss_code, X_data, X_indices,
                    X_indptr, n_features, T, order, weights, batch_size, optimizer_code,
                    alpha, data_scale, settings, state, step_count):
    """One epoch on a canonical CSR ``X``, updating ``params`` and the optimiser state.

    Parameters
    ----------
    X_data, X_indices, X_indptr : ndarray (dtype of params, int64, int64)
        The CSR arrays of ``X`` (``X_indptr`` of length n_samples + 1).
    n_features : int
        Columns of ``X``.
    weights : ndarray, shape (n_samples,) or (0,)
        The sample weights (in the rows' order, not ``order``'s); empty: unweighted.

    The other arguments and the result are described above the kernels.
    """
    n_samples = order.shape[0]
    weighted = weights.shape[0] > 0
    grad = np.empty_like(params)
    T_epoch = _gather_rows(T, order)
    data_epoch, indices_epoch, indptr_epoch = _gather_csr(X_data, X_indices, X_indptr, order)
    weights_epoch = _gather_values(weights, order) if weighted else weights
    total = 0.0
    for start in range(0, n_samples, batch_size):
        stop = min(start + batch_size, n_samples)
        batch_weights = weights_epoch[start:stop] if weighted else weights_epoch
        first, last = indptr_epoch[start], indptr_epoch[stop]
        batch_loss = csr_loss_and_gradient(
            params, layer_sizes, activation_codes, loss_code, data_epoch[first:last],
            indices_epoch[first:last], indptr_epoch[start:stop + 1] - first, n_features,
            T_epoch[start:stop], batch_weights, grad)
        penalty_rows = _weight_sum(weights_epoch, start, stop) if weighted else float(
            stop - start)
        step_count += 1
        batch_loss = _finish_batch(params, grad, layer_sizes, batch_loss, data_scale, alpha,
                                   penalty_rows, optimizer_code, settings, state, step_count)
        total += batch_loss * (stop - start)
    return total / n_samples


@train_inline_jit
def _finish_batch(params, grad, layer_sizes, batch_loss, data_scale, alpha, penalty_rows,
                  optimizer_code, settings, state, step_count):
    """:func:`_finish_batch_by_code` with the configuration's optimizer, or the run-time
    ``optimizer_code`` in the plain kernels."""
    if OPTIMIZER == GENERIC:
        return _finish_batch_by_code(params, grad, layer_sizes, batch_loss, data_scale, alpha,
                                     penalty_rows, optimizer_code, settings, state, step_count)
    return _finish_batch_fixed(params, grad, layer_sizes, batch_loss, data_scale, alpha,
                               penalty_rows, OPTIMIZER, settings, state, step_count)


@train_helper_jit
def _finish_batch_by_code(params, grad, layer_sizes, batch_loss, data_scale, alpha,
                          penalty_rows, optimizer_code, settings, state, step_count):
    """Scale the batch's loss, add the L2 penalty and take the optimiser's step ``step_count``.

    Returns
    -------
    float
        The batch's reported loss (scaled data loss plus the L2 term).
    """
    if data_scale != 1.0:
        batch_loss *= data_scale
    if alpha != 0.0:
        batch_loss += _add_l2_penalty(params, grad, layer_sizes, alpha, penalty_rows)
    if optimizer_code == SGD:
        _sgd_step(params, grad, settings[LEARNING_RATE])
    elif optimizer_code == MOMENTUM:
        _momentum_step(params, grad, state[0], settings[LEARNING_RATE],
                       settings[MOMENTUM_COEFFICIENT], settings[NESTEROV] != 0.0)
    elif optimizer_code == ADAM:
        _adam_step(params, grad, state[0], state[1], settings[LEARNING_RATE],
                   settings[BETA_1], settings[BETA_2], settings[EPSILON], step_count)
    else:
        raise ValueError("the epoch kernel has no step for this optimizer code")
    return batch_loss


# _finish_batch_by_code's body inlined where the optimizer is a constant.
_finish_batch_fixed = jit(error_model="numpy", inline="always")(_finish_batch_by_code.py_func)


@train_inline_jit
def _weight_sum(weights, start, stop):
    """The sum of ``weights[start:stop]``, added in order (the weighted penalty's rows)."""
    total = 0.0
    for row in range(start, stop):
        total += weights[row]
    return total


@train_helper_jit
def _gather_rows(A, order):
    gathered = np.empty((order.shape[0], A.shape[1]), dtype=A.dtype)
    for row in range(order.shape[0]):
        # Element by element: a slice assignment compiles its error message's formatting.
        source = order[row]
        for column in range(A.shape[1]):
            gathered[row, column] = A[source, column]
    return gathered


@train_inline_jit
def _gather_values(values, order):
    gathered = np.empty(order.shape[0], dtype=values.dtype)
    for row in range(order.shape[0]):
        gathered[row] = values[order[row]]
    return gathered


@train_helper_jit
def _gather_csr(data, indices, indptr, order):
    """The CSR rows ``order``: their (data, indices, indptr)."""
    n_rows = order.shape[0]
    gathered_indptr = np.empty(n_rows + 1, dtype=np.int64)
    gathered_indptr[0] = 0
    for row in range(n_rows):
        source = order[row]
        gathered_indptr[row + 1] = gathered_indptr[row] + indptr[source + 1] - indptr[source]
    gathered_data = np.empty(gathered_indptr[n_rows], dtype=data.dtype)
    gathered_indices = np.empty(gathered_indptr[n_rows], dtype=np.int64)
    for row in range(n_rows):
        source = order[row]
        target = gathered_indptr[row]
        for k in range(indptr[source], indptr[source + 1]):
            gathered_data[target] = data[k]
            gathered_indices[target] = indices[k]
            target += 1
    return gathered_data, gathered_indices, gathered_indptr


@train_inline_jit
def _add_l2_penalty(params, grad, layer_sizes, alpha, n_rows):
    """Add ``alpha * W / n_rows`` to the weight gradients; return ``alpha ||W||^2 / (2 n_rows)``."""
    scale = alpha / n_rows
    squares = 0.0
    start = FIRST_LAYER
    for layer in range(layer_sizes.shape[0] - 1):
        n_in, n_out = layer_sizes[layer], layer_sizes[layer + 1]
        squares += _penalise_weights(params, grad, start, start + n_in * n_out, scale)
        start += n_in * n_out + n_out
    return 0.5 * alpha * squares / n_rows


@train_helper_jit
def _penalise_weights(params, grad, start, stop, scale):
    """``grad += scale * params`` over ``[start, stop)``; returns the sum of squares there."""
    # Four partial sums break the dependency chain of one running sum (about 4x
    # faster); the order differs from NumPy's dot only in the last bits of the loss.
    sum0 = sum1 = sum2 = sum3 = 0.0
    index = start
    while index + 4 <= stop:
        w0, w1, w2, w3 = params[index], params[index + 1], params[index + 2], params[index + 3]
        sum0 += w0 * w0
        sum1 += w1 * w1
        sum2 += w2 * w2
        sum3 += w3 * w3
        grad[index] += scale * w0
        grad[index + 1] += scale * w1
        grad[index + 2] += scale * w2
        grad[index + 3] += scale * w3
        index += 4
    while index < stop:
        sum0 += params[index] * params[index]
        grad[index] += scale * params[index]
        index += 1
    return (sum0 + sum1) + (sum2 + sum3)


@train_helper_jit
def _sgd_step(params, grad, learning_rate):
    for index in range(params.shape[0]):
        params[index] -= learning_rate * grad[index]


@train_helper_jit
def _momentum_step(params, grad, velocity, learning_rate, momentum, nesterov):
    for index in range(params.shape[0]):
        velocity[index] = momentum * velocity[index] - learning_rate * grad[index]
        if nesterov:
            params[index] += momentum * velocity[index] - learning_rate * grad[index]
        else:
            params[index] += velocity[index]


# The one copy of Adam's step size (fastnn.optimizers), inlined. Not through this
# module's jit, which renames the function it compiles (its configuration tag).
_adam_step_size = fastnn_config.njit(adam_step_size, **dict(fastnn_config.JIT_OPTIONS,
                                                             inline="always"))


@train_helper_jit
def _adam_step(params, grad, first_moment, second_moment, learning_rate, beta_1, beta_2,
               epsilon, step_count):
    rate = _adam_step_size(learning_rate, beta_1, beta_2, step_count)
    for index in range(params.shape[0]):
        g = grad[index]
        first_moment[index] = beta_1 * first_moment[index] + (1 - beta_1) * g
        second_moment[index] = beta_2 * second_moment[index] + (1 - beta_2) * (g * g)
        params[index] -= rate * first_moment[index] / (math.sqrt(second_moment[index])
                                                       + epsilon)
