"""fastnn's losses written once for the autodiff peers (PyTorch, JAX).

A peer that differentiates the loss itself must differentiate the same function as
fastnn (:func:`fastnn.functions.loss_value`): the mean over samples, the log of the
output taken from its pre-activation wherever the activation table has a closed form of
it (:attr:`fastnn.functions.Activation.stable_log`: sigmoid, softmax, exp), and every
other log clipped at :data:`fastnn.functions.LOG_FLOOR` (whose slope below the floor is 0
in fastnn and in both libraries' ``maximum``/``clamp``). The formula is written here
once, on a small table of array functions each library fills in
(:class:`ArrayFunctions`), which must give a closed form for exactly the table's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from fastnn.functions import ACTIVATIONS, LOG_FLOOR

# The losses written here for the peers; a network with another loss (e.g. poisson) is
# raced on forward only (see Peer.skip_reason).
LOSSES = ("mse", "cross_entropy", "binary_cross_entropy")


class StableForms(NamedTuple):
    """One library's closed forms of an output activation's logs, from its pre-activation.

    Attributes
    ----------
    log : callable, Z -> log(f(Z))
    log_one_minus : callable, Z -> log(1 - f(Z)), or None
        None exactly where the activation table has none (the log is then clipped).
    """

    log: Callable
    log_one_minus: Callable | None = None


@dataclass(frozen=True)
class ArrayFunctions:
    """The array functions the losses need, in one library's spelling.

    Attributes
    ----------
    stable_logs : mapping, output activation name -> StableForms
        One entry per activation with a :class:`fastnn.functions.StableLog` in
        :data:`fastnn.functions.ACTIVATIONS`, no other (checked when it is made).
    log : callable
    clip_below : callable, (array, floor) -> max(array, floor)
    total : callable, array -> the sum of all its entries (a scalar)
    """

    stable_logs: Mapping
    log: Callable
    clip_below: Callable
    total: Callable

    def __post_init__(self):
        expected = {name: entry.stable_log.log_one_minus is not None
                    for name, entry in ACTIVATIONS.items() if entry.stable_log is not None}
        given = {name: forms.log_one_minus is not None
                 for name, forms in self.stable_logs.items()}
        if given != expected:
            raise ValueError(f"the peer's closed-form logs must be the activation table's "
                             f"(name: has log(1 - y)): expected {expected}, got {given}")


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
    if ACTIVATIONS[output_activation].stable_log is not None:
        return functions.stable_logs[output_activation].log(Z)
    return functions.log(functions.clip_below(Y, LOG_FLOOR))


def _log_one_minus_output(output_activation, Z, Y, functions):
    forms = functions.stable_logs.get(output_activation)
    if forms is not None and forms.log_one_minus is not None:
        return forms.log_one_minus(Z)
    return functions.log(functions.clip_below(1 - Y, LOG_FLOOR))
