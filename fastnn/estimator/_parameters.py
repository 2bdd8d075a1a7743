"""scikit-learn's parameters: their validation table, the fastnn names they map to, and
their meaning as fastnn's training options."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.utils._param_validation import Interval, Options, StrOptions

from fastnn.hyperparameters import HYPERPARAMETERS, TrainingOptions
from fastnn.spec import HIDDEN_ACTIVATIONS

STOCHASTIC_SOLVERS = ("sgd", "adam")

# scikit-learn's activation names, plus fastnn's own hidden activations.
ACTIVATION_NAMES = {"logistic": "sigmoid", **{name: name for name in HIDDEN_ACTIVATIONS}}
# fastnn's output activation -> scikit-learn's out_activation_.
OUT_ACTIVATION_NAMES = {"sigmoid": "logistic", "softmax": "softmax", "identity": "identity",
                        "exp": "exp"}
# scikit-learn's (out_activation_, loss) -> fastnn's loss.
LOSS_NAMES = {("softmax", "log_loss"): "cross_entropy",
              ("logistic", "log_loss"): "binary_cross_entropy",
              ("identity", "squared_error"): "mse",
              ("exp", "poisson"): "poisson"}

# scikit-learn 1.9's ``_parameter_constraints`` of both estimators (the regressor adds
# ``loss``), plus ``backend``.
PARAMETER_CONSTRAINTS: dict = {
    "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
    "activation": [StrOptions(set(ACTIVATION_NAMES))],
    "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
    "alpha": [Interval(numbers.Real, 0, None, closed="left")],
    "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
    "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
    "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
    "power_t": [Interval(numbers.Real, 0, None, closed="left")],
    "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
    "nesterovs_momentum": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
    "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
    "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
    "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
    "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left"),
                         Options(numbers.Real, {np.inf})],
    "max_fun": [Interval(numbers.Integral, 1, None, closed="left")],
    # A registry name or alias, or "auto"; an unknown name is refused at fit, naming
    # the available ones (the registry may grow after import).
    "backend": [str],
}


def fastnn_output(out_activation):
    """scikit-learn's ``out_activation_`` as fastnn's output activation."""
    return {name: fastnn for fastnn, name in OUT_ACTIVATION_NAMES.items()}[out_activation]


class TrainingOptionsMixin:
    """The estimator's parameters as fastnn's training options, layer sizes and batch size."""

    def _training_options(self, n_samples, incremental):
        """The estimator's parameters as :class:`fastnn.hyperparameters.TrainingOptions`."""
        # Each option is set from the scikit-learn parameter the table names; these
        # convert the ones whose meaning differs.
        converters = {
            "optimizer": self._optimizer_name,
            "learning_rate_schedule": lambda schedule: (schedule if self.solver == "sgd"
                                                        else "constant"),
            # scikit-learn warns of a clipped batch size only where batches are used.
            "batch_size": lambda batch_size: self._batch_size(
                n_samples, warn=self.solver in STOCHASTIC_SOLVERS),
            "validation_fraction": lambda fraction: fraction if self.early_stopping else 0.0,
            # scikit-learn stops once more than n_iter_no_change epochs did not improve.
            "patience": lambda n_iter_no_change: (None if n_iter_no_change == np.inf
                                                  else int(n_iter_no_change) + 1),
        }
        settings = {option.name: converters.get(option.name, _unchanged)(
                    getattr(self, option.sklearn))
                    for option in HYPERPARAMETERS if option.sklearn is not None}
        settings["output_mean_loss"] = self._data_loss_scale() != 1.0
        return TrainingOptions(**settings)

    def _optimizer_name(self, solver):
        """scikit-learn's solver as a fastnn optimiser: ``sgd`` with momentum is momentum."""
        if solver != "sgd":
            return solver
        return "momentum" if self.momentum > 0 else "sgd"

    def _data_loss_scale(self):
        """scikit-learn's squared error is a mean over the outputs too (its gradient is not)."""
        if getattr(self, "loss", None) == "squared_error" and hasattr(self, "n_outputs_"):
            return 1.0 / self.n_outputs_
        return 1.0

    def _hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        if np.any(np.array(sizes) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        for size in sizes:
            # scikit-learn raises a TypeError here (its initialiser takes only integers);
            # int() would quietly train a 2-unit layer for 2.5.
            if isinstance(size, (bool, np.bool_)) or not isinstance(size, numbers.Integral):
                raise TypeError(f"hidden_layer_sizes must hold integers (layer widths); "
                                f"got {size!r} of type {type(size).__name__} in {sizes}")
        return [int(size) for size in sizes]

    def _batch_size(self, n_samples, warn=True):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if warn and self.batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                          "going to be clipped", stacklevel=5)
        return int(np.clip(self.batch_size, 1, n_samples))


def _unchanged(value):
    return value
