"""The training hyperparameters, each declared once: name, default, check, doc.

Everything else is derived from :data:`HYPERPARAMETERS`:

- :class:`TrainingOptions`, the validated settings of a training run (its fields,
  defaults, checks and docstring);
- the keyword arguments of :meth:`fastnn.MLP.fit`, its signature and the docstring
  lines that describe them (:func:`takes_training_options`), and the former names
  still accepted (:data:`RENAMED`);
- the estimators' settings: :attr:`Hyperparameter.sklearn` names the parameter of
  scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` each one is set from
  (:mod:`fastnn.estimator` converts the few whose meaning differs).

Adding a hyperparameter is one entry here, plus the code that reads it (an optimiser
of :mod:`fastnn.optimizers` names the ones it reads).
"""

from __future__ import annotations

import functools
import inspect
import math
import re
import textwrap
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, make_dataclass
from functools import partial
from typing import Any

from fastnn.optimizers import SOLVERS
from fastnn.schedules import SCHEDULES
from fastnn.validation import check_bool, check_positive_int, check_positive_real, check_real_in


@dataclass(frozen=True)
class Hyperparameter:
    """One training hyperparameter.

    Attributes
    ----------
    name : str
        The keyword of ``MLP.fit`` and the field of :class:`TrainingOptions`.
    default : object
    kind : str
        Its type as a numpydoc docstring writes it.
    doc : str
        What it means, a sentence or two.
    check : callable
        ``check(name, value)`` raises TypeError or ValueError (naming it) for a bad value.
    sklearn : str or None
        The scikit-learn MLP parameter it is set from (None: none; the default applies).
    """

    name: str
    default: Any
    kind: str
    doc: str
    check: Callable[[str, Any], None]
    sklearn: str | None = None


def _one_of(table):
    """A check that the value is one of the keys of ``table``."""

    def check(name, value):
        if not isinstance(value, str) or value not in table:
            raise ValueError(f"unknown {name} {value!r}; available: {', '.join(table)}")

    return check


def _optional(check):
    """``check``, with None allowed too."""

    def optional(name, value):
        if value is not None:
            check(name, value)

    return optional


def _choices(table):
    return "{" + ", ".join(f'"{name}"' for name in table) + "}"


_NON_NEGATIVE = partial(check_real_in, low=0.0, high=math.inf)
_UNIT_INTERVAL = partial(check_real_in, low=0.0, high=1.0, open_high=True)
_CLOSED_UNIT_INTERVAL = partial(check_real_in, low=0.0, high=1.0)

HYPERPARAMETERS = (
    Hyperparameter("optimizer", "adam", _choices(SOLVERS),
                   "The update rule (:mod:`fastnn.optimizers`), or ``\"lbfgs\"``: full-batch "
                   "L-BFGS-B (:mod:`fastnn.lbfgs`; ``epochs`` bounds its iterations).",
                   _one_of(SOLVERS), "solver"),
    Hyperparameter("learning_rate", 0.001, "float",
                   "The (initial) step size, as PyTorch's and Keras's ``lr`` / "
                   "``learning_rate`` (scikit-learn's ``learning_rate_init``).",
                   check_positive_real, "learning_rate_init"),
    Hyperparameter("learning_rate_schedule", "constant", _choices(SCHEDULES),
                   "How the step size changes between epochs (:mod:`fastnn.schedules`; "
                   "scikit-learn's ``learning_rate``). Formerly ``schedule``.",
                   _one_of(SCHEDULES), "learning_rate"),
    Hyperparameter("power_t", 0.5, "float",
                   'The exponent of the ``"invscaling"`` schedule.', _NON_NEGATIVE, "power_t"),
    Hyperparameter("epochs", 200, "int", "Passes over the training samples.",
                   check_positive_int, "max_iter"),
    Hyperparameter("batch_size", None, "int or None",
                   "Rows per update; None: the whole training set in one batch; 1: per sample.",
                   _optional(check_positive_int), "batch_size"),
    Hyperparameter("alpha", 0.0, "float",
                   "L2 penalty ``alpha * ||W||^2 / (2 * batch rows)`` on the weights "
                   "(not the biases).", _NON_NEGATIVE, "alpha"),
    Hyperparameter("momentum", 0.9, "float",
                   'Momentum coefficient in [0, 1] (optimizer ``"momentum"``).',
                   _CLOSED_UNIT_INTERVAL, "momentum"),
    Hyperparameter("nesterov", False, "bool", 'Nesterov\'s momentum (optimizer ``"momentum"``).',
                   check_bool, "nesterovs_momentum"),
    Hyperparameter("beta_1", 0.9, "float",
                   "Adam's decay rate of the first moment estimate, in [0, 1).",
                   _UNIT_INTERVAL, "beta_1"),
    Hyperparameter("beta_2", 0.999, "float",
                   "Adam's decay rate of the second moment estimate, in [0, 1).",
                   _UNIT_INTERVAL, "beta_2"),
    Hyperparameter("epsilon", 1e-8, "float", "Adam's denominator offset.", check_positive_real,
                   "epsilon"),
    Hyperparameter("shuffle", True, "bool", "Visit the samples in a new random order every epoch.",
                   check_bool, "shuffle"),
    Hyperparameter("validation_fraction", 0.0, "float",
                   "Fraction of the samples held out, in [0, 1), for ``val_loss`` (and, for "
                   "classifiers, ``val_accuracy``) after every epoch; 0: none.",
                   _UNIT_INTERVAL, "validation_fraction"),
    Hyperparameter("patience", None, "int or None",
                   "Stop after this many epochs in a row without the monitored loss "
                   "(``val_loss`` with a validation set, else ``loss``) improving by more than "
                   "``tol``; with a validation set the best epoch's parameters are kept. "
                   "None: never stop early.", _optional(check_positive_int), "n_iter_no_change"),
    Hyperparameter("tol", 0.0, "float",
                   "Smallest change of the monitored loss that counts as an improvement "
                   '(``"lbfgs"``: the largest gradient entry at which it has converged).',
                   _NON_NEGATIVE, "tol"),
    Hyperparameter("max_fun", 15000, "int",
                   'Most loss-and-gradient evaluations of ``"lbfgs"``.', check_positive_int,
                   "max_fun"),
    Hyperparameter("output_mean_loss", False, "bool",
                   "Report the loss's data term as a mean over the outputs too (scikit-learn's "
                   "``squared_error`` with several outputs); the gradient stays that of the "
                   "loss summed over the outputs, as in scikit-learn.", check_bool),
)


# Former name -> hyperparameter: still accepted by MLP.fit and TrainingOptions (and
# readable on TrainingOptions), with a DeprecationWarning naming the new one.
RENAMED = {"schedule": "learning_rate_schedule"}


def renamed_keywords(kwargs, where):
    """``kwargs`` with every former name of :data:`RENAMED` replaced by the new one.

    Parameters
    ----------
    kwargs : dict of str -> object
    where : str
        The callable's name, for the messages.

    Returns
    -------
    dict of str -> object

    Raises
    ------
    TypeError
        If both a former name and its new name are given.
    """
    if not RENAMED.keys() & kwargs.keys():
        return kwargs
    kwargs = dict(kwargs)
    for old, new in RENAMED.items():
        if old in kwargs:
            if new in kwargs:
                raise TypeError(f"{where}() got both {new!r} and its former name {old!r}")
            _warn_renamed(old, new, where, stacklevel=4)
            kwargs[new] = kwargs.pop(old)
    return kwargs


def _warn_renamed(old, new, where, stacklevel):
    warnings.warn(f"{where}: {old!r} is deprecated; use {new!r}", DeprecationWarning,
                  stacklevel=stacklevel)


def parameters_doc(indent=""):
    """The numpydoc lines describing every hyperparameter (a ``Parameters`` section body)."""
    lines = []
    for hyperparameter in HYPERPARAMETERS:
        lines.append(f"{indent}{hyperparameter.name} : {hyperparameter.kind}, "
                     f"default={hyperparameter.default!r}")
        lines.extend(textwrap.wrap(hyperparameter.doc, width=88,
                                   initial_indent=indent + "    ",
                                   subsequent_indent=indent + "    ",
                                   break_long_words=False, break_on_hyphens=False))
    return "\n".join(lines)


# --- TrainingOptions ------------------------------------------------------------------


def _check_every_field(options):
    for hyperparameter in HYPERPARAMETERS:
        hyperparameter.check(hyperparameter.name, getattr(options, hyperparameter.name))


TrainingOptions = make_dataclass(
    "TrainingOptions",
    [(hyperparameter.name, hyperparameter.kind, field(default=hyperparameter.default))
     for hyperparameter in HYPERPARAMETERS],
    frozen=True,
    namespace={
        "__post_init__": _check_every_field,
        "__doc__": "Validated settings of a training run (one field per hyperparameter).\n\n"
                   "Raises TypeError or ValueError, naming the field, for a bad value.\n\n"
                   "Attributes\n----------\n" + parameters_doc(),
    },
)
TrainingOptions.__module__ = __name__  # where pickle and the docs find it


def _former_name(old, new):
    def read(options):
        _warn_renamed(old, new, "TrainingOptions", stacklevel=3)
        return getattr(options, new)

    return property(read, doc=f"Deprecated alias of ``{new}``.")


def _with_former_names(generated_init):
    @functools.wraps(generated_init)
    def __init__(self, *args, **kwargs):
        generated_init(self, *args, **renamed_keywords(kwargs, "TrainingOptions"))

    return __init__


TrainingOptions.__init__ = _with_former_names(TrainingOptions.__init__)
for _old, _new in RENAMED.items():
    setattr(TrainingOptions, _old, _former_name(_old, _new))
del _old, _new

# --- MLP.fit's keywords ---------------------------------------------------------------

_PLACEHOLDER = re.compile(r"^( *)\{training_options\}$", re.MULTILINE)


def takes_training_options(function):
    """Decorate ``function(..., **options)`` to take the hyperparameters as keywords.

    The signature (``inspect.signature``, ``help``) lists every hyperparameter with
    its default as a keyword-only argument, in table order, where ``**options`` stood
    (before the function's own keyword-only arguments); a line ``{training_options}``
    in the docstring becomes their numpydoc descriptions. Any other keyword raises
    the TypeError Python raises for an unknown keyword. ``function`` receives only the
    hyperparameters passed; :class:`TrainingOptions` fills in the defaults.
    """
    signature = inspect.signature(function)
    own = [parameter for parameter in signature.parameters.values()
           if parameter.kind is not parameter.VAR_KEYWORD]
    at = next((index for index, parameter in enumerate(own)
               if parameter.kind is parameter.KEYWORD_ONLY), len(own))
    options = [inspect.Parameter(hyperparameter.name, inspect.Parameter.KEYWORD_ONLY,
                                 default=hyperparameter.default)
               for hyperparameter in HYPERPARAMETERS]
    public = signature.replace(parameters=own[:at] + options + own[at:])
    keywords = {parameter.name for parameter in public.parameters.values()
                if parameter.kind is not parameter.POSITIONAL_ONLY}

    @functools.wraps(function)
    def with_training_options(*args, **kwargs):
        kwargs = renamed_keywords(kwargs, function.__qualname__)
        unknown = kwargs.keys() - keywords
        if unknown:
            raise TypeError(f"{function.__qualname__}() got an unexpected keyword argument "
                            f"{min(unknown)!r}")
        return function(*args, **kwargs)

    with_training_options.__signature__ = public
    if function.__doc__:
        with_training_options.__doc__ = _PLACEHOLDER.sub(
            lambda match: parameters_doc(match.group(1)), function.__doc__)
    return with_training_options
