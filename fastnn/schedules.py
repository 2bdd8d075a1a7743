"""Learning-rate schedules: one table entry each, as the optimisers of :mod:`fastnn.optimizers`.

A schedule changes an optimiser's ``learning_rate`` *between* epochs, never inside one,
exactly as scikit-learn's ``SGDOptimizer`` does; so every epoch — the Python loop of
:func:`fastnn.train.fit_epoch` and the numba backend's compiled epoch alike — reads the
current rate from the optimiser (``Optimizer.settings()``) and needs no schedule logic
of its own. The kernel never branches on a schedule: :data:`SCHEDULE_CODES` (generated
from the table, like ``OPTIMIZER_CODES``) exist for compiled code that would.

Each entry says what happens

``epoch_ended(optimizer, samples_seen)``
    after every epoch (``samples_seen``: training samples visited so far, scikit-learn's
    ``t_``);
``stalled(optimizer)``
    when the monitored value has not improved for more than ``n_iter_no_change``
    epochs: returns ``(stop, message)`` — stop training, or keep going (the
    improvement counter restarts) — and the sentence scikit-learn's verbose output
    appends.

The entries (scikit-learn's ``learning_rate`` values):

``constant``
    the rate stays ``learning_rate``; a stall stops training.
``invscaling``
    after each epoch the rate becomes ``learning_rate / (samples_seen + 1) ** power_t``;
    a stall stops training.
``adaptive``
    a stall divides the rate by 5 and training goes on, until the rate is at most
    ``1e-6``: then the next stall stops it.
"""

from __future__ import annotations

# The rate below which an adaptive schedule stops instead of dividing again (scikit-learn's).
ADAPTIVE_FLOOR = 1e-6
ADAPTIVE_DIVISOR = 5.0


class Schedule:
    """Base class: a constant rate, and a stall stops training.

    Parameters
    ----------
    options : fastnn.hyperparameters.TrainingOptions
        The hyperparameters named in :attr:`hyperparameters` are copied.
    """

    name = "constant"
    hyperparameters = ("learning_rate",)

    def __init__(self, options):
        for name in self.hyperparameters:
            setattr(self, name, getattr(options, name))

    def epoch_ended(self, optimizer, samples_seen):
        """Update ``optimizer.learning_rate`` after an epoch (in place)."""

    def stalled(self, optimizer):
        """``(stop, message)`` after too many epochs without improvement."""
        return True, " Stopping."


class Constant(Schedule):
    """``learning_rate`` throughout."""


class InverseScaling(Schedule):
    """``learning_rate / (samples_seen + 1) ** power_t`` after each epoch."""

    name = "invscaling"
    hyperparameters = ("learning_rate", "power_t")

    def epoch_ended(self, optimizer, samples_seen):
        optimizer.learning_rate = float(self.learning_rate) / (samples_seen + 1) ** self.power_t


class Adaptive(Schedule):
    """Divide the rate by 5 at each stall, and stop once it is at most 1e-6."""

    name = "adaptive"

    def stalled(self, optimizer):
        if optimizer.learning_rate <= ADAPTIVE_FLOOR:
            return True, " Learning rate too small. Stopping."
        optimizer.learning_rate /= ADAPTIVE_DIVISOR
        return False, f" Setting learning rate to {optimizer.learning_rate:f}"


SCHEDULES = {schedule.name: schedule for schedule in (Constant, InverseScaling, Adaptive)}

# name -> integer code for compiled code (new schedules go at the end).
SCHEDULE_CODES = {name: code for code, name in enumerate(SCHEDULES)}


def make_schedule(options):
    """The schedule ``options.learning_rate_schedule`` names, with its hyperparameters from
    ``options``.

    Parameters
    ----------
    options : fastnn.hyperparameters.TrainingOptions

    Returns
    -------
    Schedule
    """
    return SCHEDULES[options.learning_rate_schedule](options)
