"""The operations fastnn times and selects backends for: one table, everything an op needs.

An op is a backend method (:class:`fastnn.backends.base.Backend`) and the public
:class:`fastnn.MLP` call over it. Everything that handles ops reads :data:`OP_TABLE`:
``backend="auto"``'s table (:mod:`fastnn.backends.selection`, through
:data:`SELECTED_OPS`), the sweep of ``fastnn bench`` (both levels) and its correctness
gate, the pytest-benchmark suite (``benchmarks/test_ops.py``), the report's figures
(:attr:`Op.plot_style`) and the peers (:data:`PEER_OPS`). Adding an op is one :class:`Op`
entry here.
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
    """One timed operation.

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
    plot_style : str
        Its Matplotlib line style in the report's batch-scaling figure.
    updates_parameters : bool
        The call changes the parameters (a training step): the gate compares the change,
        and every timed round starts again from the same parameters.
    peers : bool
        The peers that time more than ``forward`` time it too (:data:`PEER_OPS`).
    selected : bool
        ``backend="auto"`` picks this op's backend from the measured table
        (:mod:`fastnn.backends.selection`; ``fastnn tune`` measures it).
    swept : bool
        In the ops of a ``fastnn bench`` sweep without ``--ops``.
    """

    name: str
    backend_call: Callable
    mlp_call: Callable
    backend_result: Callable
    mlp_result: Callable
    flops: Callable
    plot_style: str
    updates_parameters: bool = False
    peers: bool = True
    selected: bool = True
    swept: bool = True


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
        flops=lambda products, n_params: sum(products),
        plot_style="-"),
    "gradients": Op(
        "gradients",
        backend_call=lambda backend, spec, params, X, T: backend.gradients(spec, params, X, T),
        mlp_call=lambda net, X, T: net.gradients(X, T),
        backend_result=lambda loss_grad, params: _loss_and_flat(*loss_grad),
        mlp_result=lambda loss_dw_db, net: _loss_and_flat(
            loss_dw_db[0], flatten(loss_dw_db[1], loss_dw_db[2], "float64")),
        flops=lambda products, n_params: _gradient_flops(products),
        plot_style="--"),
    # The mean loss: a forward pass and the loss on it. Timed on request (--ops loss) and
    # in the pytest-benchmark suite; not in auto's table, the default sweep or the peers.
    "loss": Op(
        "loss",
        backend_call=lambda backend, spec, params, X, T: backend.loss(spec, params, X, T),
        mlp_call=lambda net, X, T: net.loss(X, T),
        backend_result=lambda loss, params: np.array([loss], dtype=np.float64),
        mlp_result=lambda loss, net: np.array([loss], dtype=np.float64),
        flops=lambda products, n_params: sum(products),
        plot_style="-.", peers=False, selected=False, swept=False),
    "train_step": Op(
        "train_step",
        backend_call=lambda backend, spec, params, X, T: backend.train_step(
            spec, params, X, T, LEARNING_RATE),
        mlp_call=lambda net, X, T: net.train_step(X, T, LEARNING_RATE),
        backend_result=lambda loss, params: _loss_and_flat(loss, params),
        mlp_result=lambda loss, net: _loss_and_flat(loss, net.flat_parameters),
        # the update: a multiply-add per parameter
        flops=lambda products, n_params: _gradient_flops(products) + 2 * n_params,
        plot_style=":", updates_parameters=True),
}
#: Every op, in report order.
OPS = tuple(OP_TABLE)
#: The ops ``backend="auto"`` selects per point of its measured table.
SELECTED_OPS = tuple(name for name, op in OP_TABLE.items() if op.selected)
#: The ops the peers that time more than ``forward`` time.
PEER_OPS = tuple(name for name, op in OP_TABLE.items() if op.peers)
#: The ops of a ``fastnn bench`` sweep without ``--ops``.
SWEPT_OPS = tuple(name for name, op in OP_TABLE.items() if op.swept)
