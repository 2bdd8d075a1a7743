"""The optimisers: one table, name -> class with its update rule, hyperparameters and state.

Each optimiser updates a flat parameter buffer (:mod:`fastnn.params`) in place from
the gradient of one mini-batch, with scikit-learn's formulas (``_stochastic_optimizers``).
A class declares

``name``
    Its key in :data:`OPTIMIZERS` (the ``optimizer=`` value of ``MLP.fit``).
``hyperparameters``
    The training hyperparameters it reads (names of
    :data:`fastnn.hyperparameters.HYPERPARAMETERS`, which holds their defaults, checks
    and docs); each becomes an attribute of the instance.
``state_buffers``
    Its per-parameter state, zero at the start: rows of :attr:`Optimizer.state`,
    shape (n_buffers, n_params), each also readable by its name.

Compiled backends take the same table as integers, generated here and never written
out by hand: :data:`OPTIMIZER_CODES` (name -> position in the table) and
:data:`SETTING_CODES` (hyperparameter -> position in :meth:`Optimizer.settings`);
:func:`optimizer_codes` is the check a compiled module runs at its import, that it has
a step for every entry and no other.
New optimisers go at the end of the table, so the codes of the others stay the same
(a kernel cached on disk keeps the codes it was compiled with until its source changes).

The learning-rate schedules of scikit-learn (``constant``, ``invscaling``,
``adaptive``) are a second table of the same shape, :mod:`fastnn.schedules`: they change
an optimiser's ``learning_rate`` between epochs, which every epoch (compiled or not)
reads from the optimiser.

:data:`SOLVERS` are the names training accepts: every optimiser of the table, and
``"lbfgs"``, the full-batch quasi-Newton solver of :mod:`fastnn.lbfgs` (no per-batch
step, so not an entry of the table).
"""

from __future__ import annotations

import math

import numpy as np


class Optimizer:
    """Base class: the hyperparameters as attributes, the state buffers, a step counter.

    Parameters
    ----------
    n_params : int
        Length of the flat parameter buffer.
    dtype : str or numpy.dtype
        Its dtype (the state buffers take the same).
    options : fastnn.hyperparameters.TrainingOptions
        Validated settings; the ones named in :attr:`hyperparameters` are copied.

    Attributes
    ----------
    state : ndarray, shape (len(state_buffers), n_params)
    step_count : int
        Steps taken so far (Adam's bias correction).
    """

    name = "base"
    hyperparameters = ("learning_rate",)
    state_buffers = ()

    def __init__(self, n_params, dtype, options):
        for name in self.hyperparameters:
            setattr(self, name, getattr(options, name))
        self.state = np.zeros((len(self.state_buffers), n_params), dtype=dtype)
        self.step_count = 0

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Named rows of ``state`` as properties (not stored views): a pickled optimiser
        # (kept by the estimators between partial_fit calls) must keep one buffer.
        for row, buffer in enumerate(cls.state_buffers):
            setattr(cls, buffer, property(lambda self, row=row: self.state[row],
                                          doc=f"Row {row} of ``state``."))

    def step(self, params, grad):
        """Update ``params`` (shape (n_params,)) in place from ``grad`` (same shape)."""
        raise NotImplementedError

    def settings(self):
        """This optimiser's hyperparameters as compiled kernels take them.

        Returns
        -------
        ndarray of float64, shape (len(OPTIMIZER_SETTINGS),)
            Entry :data:`SETTING_CODES` ``[name]`` holds hyperparameter ``name`` (0 where
            this optimiser has none of that name; booleans as 0 or 1).
        """
        return np.array([float(getattr(self, name, 0.0)) for name in OPTIMIZER_SETTINGS])


class SGD(Optimizer):
    """Plain gradient descent: ``params -= learning_rate * grad``."""

    name = "sgd"

    def step(self, params, grad):
        self.step_count += 1
        params -= self.learning_rate * grad


class Momentum(Optimizer):
    """Gradient descent with (optionally Nesterov's) momentum, as scikit-learn's ``sgd``.

    ``velocity = momentum * velocity - learning_rate * grad``, then
    ``params += velocity`` or, with Nesterov, ``params += momentum * velocity -
    learning_rate * grad``.
    """

    name = "momentum"
    hyperparameters = ("learning_rate", "momentum", "nesterov")
    state_buffers = ("velocity",)

    def step(self, params, grad):
        self.step_count += 1
        self.velocity[...] = self.momentum * self.velocity - self.learning_rate * grad
        if self.nesterov:
            params += self.momentum * self.velocity - self.learning_rate * grad
        else:
            params += self.velocity


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction folded into the step size, as scikit-learn."""

    name = "adam"
    hyperparameters = ("learning_rate", "beta_1", "beta_2", "epsilon")
    state_buffers = ("first_moment", "second_moment")

    def step(self, params, grad):
        self.step_count += 1
        self.first_moment[...] = self.beta_1 * self.first_moment + (1 - self.beta_1) * grad
        self.second_moment[...] = (self.beta_2 * self.second_moment
                                   + (1 - self.beta_2) * (grad * grad))
        rate = adam_step_size(self.learning_rate, self.beta_1, self.beta_2, self.step_count)
        params -= rate * self.first_moment / (np.sqrt(self.second_moment) + self.epsilon)


def adam_step_size(learning_rate, beta_1, beta_2, step_count):
    """Adam's bias-corrected step size after ``step_count`` steps.

    The one copy of the formula: plain Python that Numba also compiles
    (``numba.njit(adam_step_size)``), so a compiled Adam step can take it from here.
    """
    t = float(step_count)
    return learning_rate * math.sqrt(1.0 - beta_2 ** t) / (1.0 - beta_1 ** t)


# --- the table and what is generated from it ------------------------------------------

OPTIMIZERS = {optimizer.name: optimizer for optimizer in (SGD, Momentum, Adam)}

# name -> integer code inside compiled kernels.
OPTIMIZER_CODES = {name: code for code, name in enumerate(OPTIMIZERS)}

# Every hyperparameter some optimiser reads, in table order: the layout of
# Optimizer.settings(), one float64 array whatever the optimiser.
OPTIMIZER_SETTINGS = tuple(dict.fromkeys(
    name for optimizer in OPTIMIZERS.values() for name in optimizer.hyperparameters))
SETTING_CODES = {name: code for code, name in enumerate(OPTIMIZER_SETTINGS)}



def optimizer_codes(implemented, where):
    """The codes of the optimisers a compiled module has steps for, checked at its import.

    The table is the one source of the optimisers, as :data:`fastnn.functions.ACTIVATIONS`
    is of the activations: a compiled module calls this at import with the names of the
    steps it implements, so a table entry without a compiled step (or a step the table
    no longer has) stops the import, naming both, instead of failing at the first epoch.

    Parameters
    ----------
    implemented : sequence of str
        The optimiser names the module has a step for.
    where : str
        The module, for the message.

    Returns
    -------
    dict of str -> int
        Name -> :data:`OPTIMIZER_CODES` ``[name]``, for every name of ``implemented``.

    Raises
    ------
    ImportError
        If ``implemented`` is not exactly the table's names.
    """
    if sorted(implemented) != sorted(OPTIMIZERS):
        raise ImportError(f"{where} implements the optimizer steps {sorted(implemented)}; "
                          f"the table of fastnn.optimizers has {sorted(OPTIMIZERS)}")
    return {name: OPTIMIZER_CODES[name] for name in implemented}


# Every name training accepts for ``optimizer``: the table's, then the full-batch solver.
FULL_BATCH_SOLVERS = ("lbfgs",)
SOLVERS = (*OPTIMIZERS, *FULL_BATCH_SOLVERS)


def make_optimizer(options, n_params, dtype):
    """A fresh optimiser (zero state) for a flat buffer of ``n_params`` values of ``dtype``.

    Parameters
    ----------
    options : fastnn.hyperparameters.TrainingOptions
    n_params : int
    dtype : str or numpy.dtype

    Returns
    -------
    Optimizer
        An instance of ``OPTIMIZERS[options.optimizer]``.
    """
    return OPTIMIZERS[options.optimizer](n_params, dtype, options)
