"""fastnn's losses written once for the autodiff peers (PyTorch, JAX).

A peer that differentiates the loss itself must differentiate the same function as
fastnn (:func:`fastnn.functions.loss_value`): the mean over samples, the stable log of
a sigmoid or softmax output taken from its pre-activation, and every other log clipped
at :data:`fastnn.functions.LOG_FLOOR` (whose slope below the floor is 0 in fastnn and
in both libraries' ``maximum``/``clamp``). The formula is written here once, on a small
table of array functions each library fills in (:class:`ArrayFunctions`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastnn.functions import LOG_FLOOR

# The losses written here for the peers; a network with another loss (e.g. poisson) is
# raced on forward only (see Peer.skip_reason).
LOSSES = ("mse", "cross_entropy", "binary_cross_entropy")


@dataclass(frozen=True)
class ArrayFunctions:
    """The array functions the losses need, in one library's spelling.

    Attributes
    ----------
    log_sigmoid : callable, Z -> log(sigmoid(Z))
    log_softmax : callable, Z -> log(softmax(Z)) over the last axis
    log : callable
    clip_below : callable, (array, floor) -> max(array, floor)
    total : callable, array -> the sum of all its entries (a scalar)
    """

    log_sigmoid: Callable
    log_softmax: Callable
    log: Callable
    clip_below: Callable
    total: Callable


def mean_loss(loss, output_activation, Z, Y, T, functions):
    """The mean loss over the rows, as :func:`fastnn.functions.loss_value` defines it.

    Parameters
    ----------
    loss : {"mse", "cross_entropy", "binary_cross_entropy"}
    output_activation : str
    Z, Y, T : arrays of the library, shape (m, n_out)
        Output pre-activation, output activation, targets.
    functions : ArrayFunctions

    Returns
    -------
    scalar array of the library
    """
    if loss not in LOSSES:
        raise ValueError(f"the peers' losses do not include {loss!r}; written: "
                         f"{', '.join(LOSSES)}")
    m = Y.shape[0]
    if loss == "mse":
        return 0.5 * functions.total((Y - T) * (Y - T)) / m
    total = functions.total(T * _log_output(output_activation, Z, Y, functions))
    if loss == "binary_cross_entropy":
        total = total + functions.total(
            (1 - T) * _log_one_minus_output(output_activation, Z, Y, functions))
    return -total / m


def _log_output(output_activation, Z, Y, functions):
    if output_activation == "sigmoid":
        return functions.log_sigmoid(Z)
    if output_activation == "softmax":
        return functions.log_softmax(Z)
    return functions.log(functions.clip_below(Y, LOG_FLOOR))


def _log_one_minus_output(output_activation, Z, Y, functions):
    if output_activation == "sigmoid":
        return functions.log_sigmoid(-Z)
    return functions.log(functions.clip_below(1 - Y, LOG_FLOOR))
