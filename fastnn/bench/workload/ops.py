"""The benchmarked operations, one table: how each is called, checked and counted.

Every harness dispatches through :data:`OP_TABLE`: the sweep (both levels), the
reference result of the correctness gate, the pytest-benchmark suite, and (to come) the
peer adapters. Adding an op is one :class:`Op` entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fastnn.params import flatten

# The step size of timed training steps: small, so that thousands of repeated steps on
# the same batch keep the parameters (and so the work per step) essentially unchanged.
LEARNING_RATE = 0.01


@dataclass(frozen=True)
class Op:
    """One benchmarked operation.

    Attributes
    ----------
    name : str
    backend_call : callable (backend, spec, params, X, T) -> result
        The backend method on pre-validated arrays.
    mlp_call : callable (net, X, T) -> result
        The public :class:`fastnn.MLP` call.
    backend_result : callable (result, params) -> ndarray, shape (k,)
        The flat result of ``backend_call`` that the gate compares (``params`` is the
        buffer the call may have updated).
    mlp_result : callable (result, net) -> ndarray, shape (k,)
        The same for ``mlp_call``.
    flops : callable (products, n_params) -> int
        Matrix-product FLOPs of one call, from the per-layer ``2 m n_in n_out``.
    """

    name: str
    backend_call: Callable
    mlp_call: Callable
    backend_result: Callable
    mlp_result: Callable
    flops: Callable


def _loss_and_flat(loss, flat):
    return np.concatenate([[loss], np.ravel(flat)])


def _gradient_flops(products):
    # A_prev.T @ delta on every layer, delta @ W.T on every layer but the first.
    return 2 * sum(products) + sum(products[1:])


OP_TABLE = {
    "forward": Op(
        "forward",
        backend_call=lambda backend, spec, params, X, T: backend.forward(spec, params, X),
        mlp_call=lambda net, X, T: net.forward(X),
        backend_result=lambda output, params: np.ravel(output),
        mlp_result=lambda output, net: np.ravel(output),
        flops=lambda products, n_params: sum(products)),
    "gradients": Op(
        "gradients",
        backend_call=lambda backend, spec, params, X, T: backend.gradients(spec, params, X, T),
        mlp_call=lambda net, X, T: net.gradients(X, T),
        backend_result=lambda loss_grad, params: _loss_and_flat(*loss_grad),
        mlp_result=lambda loss_dw_db, net: _loss_and_flat(
            loss_dw_db[0], flatten(loss_dw_db[1], loss_dw_db[2], "float64")),
        flops=lambda products, n_params: _gradient_flops(products)),
    "train_step": Op(
        "train_step",
        backend_call=lambda backend, spec, params, X, T: backend.train_step(
            spec, params, X, T, LEARNING_RATE),
        mlp_call=lambda net, X, T: net.train_step(X, T, LEARNING_RATE),
        backend_result=lambda loss, params: _loss_and_flat(loss, params),
        mlp_result=lambda loss, net: _loss_and_flat(loss, net.flat_parameters),
        # the update: a multiply-add per parameter
        flops=lambda products, n_params: _gradient_flops(products) + 2 * n_params),
}
OPS = tuple(OP_TABLE)
