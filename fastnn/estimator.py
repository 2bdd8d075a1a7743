"""scikit-learn estimators on fastnn: drop-ins for ``MLPClassifier`` and ``MLPRegressor``.

scikit-learn 1.9's parameters (names, order, defaults and ``_parameter_constraints``
validation, raising ``InvalidParameterError`` at ``fit``), attributes and behaviour, plus
``backend``: the solvers ``lbfgs`` (:mod:`fastnn.lbfgs`), ``sgd`` (with the
``learning_rate`` schedules of :mod:`fastnn.schedules`, momentum and Nesterov's) and
``adam``; ``sample_weight``; sparse ``X``; multilabel indicator ``y``; several regression
outputs; ``loss="poisson"``; ``warm_start``, ``partial_fit``, early stopping (the same
split: ``train_test_split`` with scikit-learn's ``random_state`` handling, stratified
for binary classification) and scikit-learn's verbose lines on stdout. The random
numbers are drawn as scikit-learn draws them (Glorot-uniform initial weights, the
shuffles, the split, all from ``check_random_state(random_state)``), so the same
``random_state`` gives the same model as scikit-learn's, to rounding. Training runs on a
fastnn backend (``backend="auto"``: the fastest here; on the numba backend each epoch is
one compiled kernel).

``coefs_`` and ``intercepts_`` are the parameters: assigning them (validated against the
network's shapes) or writing into them changes what ``predict``, ``warm_start`` and
``partial_fit`` use. float32 ``X`` keeps float32 parameters and predictions.

Where fastnn differs from scikit-learn, on purpose:

- extra hidden activations: every one of :data:`fastnn.spec.HIDDEN_ACTIVATIONS`
  (``leaky_relu``, ``elu``, ``softplus``, ``silu``, and ``sigmoid`` for ``logistic``);
- log losses are taken from the pre-activation (``-softplus(-z)``, log-softmax) where
  scikit-learn clips probabilities at the dtype's epsilon: the losses differ only where
  a probability is within that epsilon of 0 or 1;
- lbfgs on float32 data keeps float32 parameters (scikit-learn's become float64);
- a negative ``sample_weight``, or ``y < 0`` with ``loss="poisson"``, is a ``ValueError``;
- a failed or interrupted ``fit`` / ``partial_fit`` (Ctrl-C included) leaves the
  estimator exactly as it was (scikit-learn keeps an interrupted run's progress).

Slow paths (said here, and warned about when taken): a backend without
``accepts_sparse`` gets sparse ``X`` densified one mini-batch at a time and runs one
backend call per batch instead of whole compiled epochs.
"""

from __future__ import annotations

import copy
import functools
import numbers
import warnings

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from fastnn import backends, lbfgs, train
from fastnn.hyperparameters import HYPERPARAMETERS, TrainingOptions
from fastnn.model import MLP
from fastnn.optimizers import make_optimizer
from fastnn.params import flatten, layer_views
from fastnn.schedules import make_schedule
from fastnn.spec import HIDDEN_ACTIVATIONS, NetworkSpec

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


def _atomic(method):
    """Run ``method`` so that an exception (or an interrupt) leaves the estimator as it was.

    The fit methods replace attributes rather than mutate them (the optimiser state is
    worked on as a copy), so restoring the attribute dict restores the estimator.
    """

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        saved = dict(self.__dict__)
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    return run


class _BaseMLP(BaseEstimator):
    """Parameters, validation and the solvers shared by both estimators."""

    _parameter_constraints: dict = {
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

    def __init__(self, hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate,
                 learning_rate_init, power_t, max_iter, loss, shuffle, random_state, tol,
                 verbose, warm_start, momentum, nesterovs_momentum, early_stopping,
                 validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, max_fun,
                 backend):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.loss = loss
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.backend = backend

    # --- the parameters: coefs_ and intercepts_ ---------------------------------------

    @property
    def coefs_(self):
        """list of ndarray, shapes (n_in, n_out): the weights of each layer (assignable)."""
        return self._coefs

    @coefs_.setter
    def coefs_(self, value):
        self._coefs = self._checked_layers(value, "coefs_")

    @property
    def intercepts_(self):
        """list of ndarray, shapes (n_out,): the biases of each layer (assignable)."""
        return self._intercepts

    @intercepts_.setter
    def intercepts_(self, value):
        self._intercepts = self._checked_layers(value, "intercepts_")

    @property
    def network_(self):
        """The fitted network as a :class:`fastnn.MLP` (a copy of ``coefs_``, ``intercepts_``)."""
        check_is_fitted(self)
        return MLP.from_spec(self._spec, self._flat_parameters(), self.backend_)

    def _checked_layers(self, layers, name):
        """``layers`` as a list of arrays of the fitted dtype, with the network's shapes."""
        if isinstance(layers, np.ndarray) or not hasattr(layers, "__len__"):
            raise TypeError(f"{name} must be a list of arrays, one per layer; "
                            f"got {type(layers).__name__}")
        spec = getattr(self, "_spec", None)
        if spec is None:
            return [np.asarray(layer) for layer in layers]
        sizes = spec.layer_sizes
        shapes = ([(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
                  if name == "coefs_" else [(n_out,) for n_out in sizes[1:]])
        if len(layers) != len(shapes):
            raise ValueError(f"{name} must hold {len(shapes)} arrays (one per layer of "
                             f"{list(sizes)}); got {len(layers)}")
        checked = []
        for index, (layer, shape) in enumerate(zip(layers, shapes)):
            array = np.asarray(layer)
            if array.dtype.kind not in "biuf":
                raise TypeError(f"{name}[{index}] must hold real numbers; got dtype "
                                f"{array.dtype}")
            if array.shape != shape:
                raise ValueError(f"{name}[{index}] must have shape {shape}; got {array.shape}")
            if not np.isfinite(array).all():
                raise ValueError(f"{name}[{index}] contains NaN or infinity")
            checked.append(array.astype(self._dtype, copy=False))
        return checked

    def _flat_parameters(self):
        """``coefs_`` and ``intercepts_`` (validated again: they may have been written
        into) as fastnn's flat buffer of the network's dtype."""
        return flatten(self._checked_layers(self._coefs, "coefs_"),
                       self._checked_layers(self._intercepts, "intercepts_"), self._spec.dtype)

    def _set_parameters(self, params):
        weights, biases = layer_views(params, self._spec.layer_sizes)
        self._coefs = [W.astype(self._dtype) for W in weights]
        self._intercepts = [b.astype(self._dtype) for b in biases]

    # --- fitting --------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    @_atomic
    def fit(self, X, y, sample_weight=None):
        """Fit the model to ``X`` (n_samples, n_features), dense or sparse, and ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (or a label indicator matrix) for the classifier, numbers for
            the regressor.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X, y, sample_weight, incremental):
        hidden_layer_sizes = self._hidden_layer_sizes()
        first_pass = not hasattr(self, "_spec") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype,
                                                 ensure_non_negative=True)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        layer_units = [X.shape[1], *hidden_layer_sizes, y.shape[1]]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, X.dtype)
        elif tuple(layer_units) != self._spec.layer_sizes:
            raise ValueError(f"the network being continued has layer sizes "
                             f"{list(self._spec.layer_sizes)}; X, y and hidden_layer_sizes "
                             f"give {layer_units}")
        self.n_outputs_ = y.shape[1]
        spec, backend = self._network(X, incremental)
        X = _network_input(X, spec.dtype)
        T = np.ascontiguousarray(y, dtype=spec.dtype)
        if sample_weight is not None:
            sample_weight = np.ascontiguousarray(sample_weight, dtype=spec.dtype)
        params = self._flat_parameters()
        try:
            if self.solver in STOCHASTIC_SOLVERS:
                params = self._fit_stochastic(spec, backend, params, X, T, sample_weight,
                                              incremental)
            else:
                params = self._fit_lbfgs(spec, backend, params, X, T, sample_weight)
        except train.TrainingDiverged:
            params = np.full_like(params, np.nan)
        if not np.isfinite(params).all():
            raise ValueError("Solver produced non-finite parameter weights. The input data "
                             "may contain large values and need to be preprocessed.")
        self._set_parameters(params)
        return self

    def _initialize(self, y, layer_units, dtype):
        """Fresh state for a first fit: scikit-learn's attributes and initial weights."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        self._dtype = np.dtype(dtype).name
        self._spec = NetworkSpec.create(layer_units, ACTIVATION_NAMES[self.activation],
                                        _fastnn_output(self.out_activation_),
                                        LOSS_NAMES[self.out_activation_, self.loss], self._dtype)
        coefs, intercepts = _glorot_uniform(layer_units, self.activation, self._random_state,
                                            dtype)
        if self.warm_start and hasattr(self, "_coefs") and hasattr(self, "_intercepts"):
            # Weights assigned before the first fit are its starting point.
            coefs = self._checked_layers(self._coefs, "coefs_")
            intercepts = self._checked_layers(self._intercepts, "intercepts_")
        self._coefs, self._intercepts = coefs, intercepts
        self._optimizer = None
        if self.solver in STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _network(self, X, incremental):
        """The spec and backend this fit computes with (``backend_`` is set to it)."""
        sparse = scipy.sparse.issparse(X)
        batch_size = X.shape[0] if self.solver == "lbfgs" else self._batch_size(X.shape[0],
                                                                               warn=False)
        name = self._resolve_backend(self._spec.layer_sizes, batch_size, sparse)
        backend = backends.get(name)
        dtype = self._dtype if self._dtype in backend.dtypes else "float64"
        if self._spec.dtype != dtype:
            self._spec = NetworkSpec.create(self._spec.layer_sizes, self._spec.activation,
                                            self._spec.output_activation, self._spec.loss, dtype)
        if sparse and not getattr(backend, "accepts_sparse", False):
            warnings.warn(f"the {name!r} backend does not take sparse input: each mini-batch "
                          f"is densified and trained with one backend call (slower)",
                          UserWarning, stacklevel=4)
        self.backend_ = name
        return self._spec, backend

    def _resolve_backend(self, layer_sizes, batch_size, sparse):
        if self.backend != "auto":
            try:
                return backends.get(self.backend).name
            except ValueError as exc:
                raise InvalidParameterError(
                    f"The 'backend' parameter of {type(self).__name__} must be \"auto\" or "
                    f"a fastnn backend: {exc}") from exc
        from fastnn.backends.selection import choose_backend

        candidates = [name for name in backends.available_backends()
                      if self._dtype in backends.get(name).dtypes]
        if sparse:
            candidates = [name for name in candidates
                          if getattr(backends.get(name), "accepts_sparse", False)] or candidates
        return choose_backend(layer_sizes, max(1, batch_size), "train_step",
                              self._dtype, candidates or backends.available_backends())

    # --- the stochastic solvers -------------------------------------------------------

    def _fit_stochastic(self, spec, backend, params, X, T, sample_weight, incremental):
        """Epochs of sgd or adam, with scikit-learn's stopping rules; returns the parameters."""
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping:
            X, T, sample_weight, validation = self._validation_split(X, T, sample_weight)
        n_samples = X.shape[0]
        options = self._training_options(n_samples, incremental)
        if incremental and getattr(self, "_optimizer", None) is not None:
            optimizer = copy.deepcopy(self._optimizer)  # a failed call must not change it
        else:
            optimizer = make_optimizer(options, params.size, spec.dtype)
        schedule = make_schedule(options)
        mask = train.weight_mask(spec.layer_sizes)
        tracker = self._tracker(options, early_stopping)
        progress = {"t": self.t_, "epoch": 0, "order": np.arange(n_samples, dtype=np.int64)}

        def one_epoch(current):
            if self.shuffle:
                progress["order"] = _shuffled(progress["order"], self._random_state)
            return train.run_epoch(backend, spec, current, X, T, progress["order"], options,
                                   optimizer, mask, sample_weight)

        def evaluate(current, loss):
            progress["epoch"] += 1
            progress["t"] += n_samples
            if self.verbose:
                print(f"Iteration {progress['epoch']}, loss = {loss:.8f}")
            figures = {"loss": float(loss)}
            if early_stopping:
                figures["validation_score"] = self._validation_score(backend, spec, current,
                                                                     *validation)
                if self.verbose:
                    print(f"Validation score: {figures['validation_score']:f}")
            return figures

        def stalled():
            stop, ending = schedule.stalled(optimizer)
            if self.verbose:
                print(self._stall_message(early_stopping) + ending)
            return stop

        history, stopped = train.train_loop(
            one_epoch, params, 1 if incremental else self.max_iter, evaluate, tracker,
            "validation_score" if early_stopping else "loss", keep_best=early_stopping,
            end_epoch=lambda: schedule.epoch_ended(optimizer, progress["t"]), stalled=stalled)
        self._record_epochs(history, tracker, early_stopping, progress["t"])
        self._optimizer = optimizer
        if not incremental and not stopped and self.n_iter_ == self.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                          f"and the optimization hasn't converged yet.",
                          ConvergenceWarning, stacklevel=4)
        return params

    def _validation_split(self, X, T, sample_weight):
        """scikit-learn's early-stopping split: ``train_test_split`` on its random state,
        stratified for a single-output classifier."""
        stratify = T.astype(bool) if (self._is_classifier() and T.shape[1] == 1) else None
        arrays = (X, T) if sample_weight is None else (X, T, sample_weight)
        parts = train_test_split(*arrays, random_state=self._random_state,
                                 test_size=self.validation_fraction, stratify=stratify)
        X_train, X_val, T_train, T_val = parts[:4]
        weight_train, weight_val = parts[4:] if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase "
                             "'validation_fraction' or the size of your dataset.")
        return (X_train, np.ascontiguousarray(T_train), weight_train,
                (X_val, T_val, weight_val))

    def _validation_score(self, backend, spec, params, X_val, T_val, weight_val):
        Y = train.network_outputs(backend, spec, params, X_val)
        if not np.isfinite(Y).all():
            return np.nan
        return float(self._score_outputs(Y, T_val, weight_val))

    def _tracker(self, options, early_stopping):
        """scikit-learn's no-improvement count, continued from the previous fit."""
        tracker = train.ImprovementTracker(self.tol, options.patience,
                                           higher_is_better=early_stopping)
        previous_best = self.best_validation_score_ if early_stopping else self.best_loss_
        if previous_best is not None:
            tracker.best = -previous_best if early_stopping else previous_best
        tracker.epochs_without_improvement = getattr(self, "_no_improvement_count", 0)
        return tracker

    def _stall_message(self, early_stopping):
        what = "Validation score" if early_stopping else "Training loss"
        return (f"{what} did not improve more than tol={self.tol:f} for "
                f"{int(self.n_iter_no_change)} consecutive epochs.")

    def _record_epochs(self, history, tracker, early_stopping, samples_seen):
        # As scikit-learn: n_iter_ counts the epochs of this call, t_ every sample seen.
        self.n_iter_ = len(history["loss"])
        self.t_ = samples_seen
        self.loss_curve_ = list(getattr(self, "loss_curve_", None) or []) + history["loss"]
        self.loss_ = self.loss_curve_[-1]
        self._no_improvement_count = tracker.epochs_without_improvement
        if early_stopping:
            self.validation_scores_ = (list(getattr(self, "validation_scores_", None) or [])
                                       + history["validation_score"])
            self.best_validation_score_ = tracker.best_value
            if not hasattr(self, "best_loss_"):
                self.best_loss_ = None
        else:
            self.best_loss_ = tracker.best_value
            for name in ("validation_scores_", "best_validation_score_"):
                if not hasattr(self, name):
                    setattr(self, name, None)

    # --- lbfgs ------------------------------------------------------------------------

    def _fit_lbfgs(self, spec, backend, params, X, T, sample_weight):
        weight_total = X.shape[0] if sample_weight is None else float(sample_weight.sum())
        objective = lbfgs.objective(
            lambda current: train.batch_gradients(backend, spec, current, X, T, sample_weight),
            spec, self.alpha, weight_total, self._data_loss_scale())
        params, self.loss_, self.n_iter_ = lbfgs.minimize(objective, params, self.max_iter,
                                                          self.max_fun, self.tol)
        return params

    # --- parameters as fastnn's training options --------------------------------------

    def _training_options(self, n_samples, incremental):
        """The estimator's parameters as :class:`fastnn.hyperparameters.TrainingOptions`."""
        # Each option is set from the scikit-learn parameter the table names; these
        # convert the ones whose meaning differs.
        converters = {
            "optimizer": self._optimizer_name,
            "schedule": lambda schedule: schedule if self.solver == "sgd" else "constant",
            "batch_size": lambda batch_size: self._batch_size(n_samples),
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
        return [int(size) for size in sizes]

    def _batch_size(self, n_samples, warn=True):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if warn and self.batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                          "going to be clipped", stacklevel=5)
        return int(np.clip(self.batch_size, 1, n_samples))

    # --- prediction -------------------------------------------------------------------

    def _forward(self, X):
        """Network outputs for new ``X``: shape (n_samples, n_outputs_)."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                          dtype=(np.float64, np.float32))
        Y = train.network_outputs(backends.get(self.backend_), self._spec,
                                  self._flat_parameters(), _network_input(X, self._spec.dtype))
        return Y.astype(np.result_type(X.dtype, self._dtype), copy=False)

    def _is_classifier(self):
        return isinstance(self, ClassifierMixin)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier on fastnn: scikit-learn's ``MLPClassifier``.

    Softmax outputs with the log loss for several classes; one logistic output for two
    classes, one per label for a multilabel indicator ``y`` (binary log loss). The
    parameters, attributes and methods are those of
    :class:`sklearn.neural_network.MLPClassifier` (read its documentation; see
    :mod:`fastnn.estimator` for the few differences), plus

    Parameters
    ----------
    backend : str, default="auto"
        The fastnn backend: ``"auto"`` (the fastest available for the network and batch
        size, see :func:`fastnn.fastest_backend`), ``"numba"``, ``"numpy"``,
        ``"python"`` or an alias.

    Attributes
    ----------
    backend_ : str
        The backend the last fit trained on.
    network_ : fastnn.MLP
        The fitted network (a copy).
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 backend="auto"):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver,
            alpha=alpha, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            loss="log_loss", shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
            backend=backend)

    def _validate_input(self, X, y, incremental, reset):
        """scikit-learn's: the data, and ``y`` as the label binarizer's indicator matrix."""
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in "
                        f"the previous call to fit. Previously got {self.classes_}, `y` has "
                        f"{classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError("`y` has classes not in `self.classes_`. `self.classes_` "
                                 f"has {self.classes_}. 'y' has {classes}.")
        # bool, not float: float32 X must not become float64 through y.
        return X, self._label_binarizer.transform(y).astype(bool)

    def _out_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _score_outputs(self, Y, T, sample_weight):
        return accuracy_score(self._labels(T), self._labels(Y), sample_weight=sample_weight)

    def _labels(self, Y):
        return self._label_binarizer.inverse_transform(Y.ravel() if Y.shape[1] == 1 else Y)

    def predict(self, X):
        """Class labels, shape (n_samples,) (or (n_samples, n_labels) for multilabel y)."""
        return self._labels(self._forward(X))

    def _check_solver(self):
        if self.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True

    @available_if(lambda estimator: estimator._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    @_atomic
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``X``, ``y``; ``classes`` (every label) is needed on the first call.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array of shape (n_classes,), default=None

        Returns
        -------
        self
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        Y = self._forward(X)
        if self.n_outputs_ == 1:
            return np.hstack([1 - Y, Y])
        return Y

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        probabilities = self.predict_proba(X)
        return np.log(probabilities, out=probabilities)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor on fastnn: scikit-learn's ``MLPRegressor``.

    ``loss="squared_error"``: identity outputs, half the squared error (reported as a mean
    over the samples *and* the outputs, as scikit-learn does, with the gradient of the
    sum over the outputs, also as scikit-learn does); ``loss="poisson"``: exp outputs,
    half the Poisson deviance (``y >= 0``). Parameters and attributes as
    :class:`sklearn.neural_network.MLPRegressor`, plus ``backend`` (see
    :class:`MLPClassifier`).
    """

    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 backend="auto"):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver,
            alpha=alpha, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            loss=loss, shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change,
            max_fun=max_fun, backend=backend)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError("loss='poisson' needs y >= 0 (counts or rates); y has negative "
                             "values")
        return X, y

    def _out_activation(self):
        return "exp" if self.loss == "poisson" else "identity"

    def _score_outputs(self, Y, T, sample_weight):
        return r2_score(T, Y, sample_weight=sample_weight)

    def predict(self, X):
        """Predicted values, shape (n_samples,) for one output, else (n_samples, n_outputs)."""
        Y = self._forward(X)
        return Y.ravel() if Y.shape[1] == 1 else Y

    # scikit-learn 1.9 offers the regressor's partial_fit whatever the solver (lbfgs runs
    # its iterations from the current weights); so does this drop-in.
    @_fit_context(prefer_skip_nested_validation=True)
    @_atomic
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``X``, ``y`` (continuing from the current weights).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True)


# --- helpers --------------------------------------------------------------------------


def _glorot_uniform(layer_units, activation, random_state, dtype):
    """scikit-learn's initial weights and biases, drawn in its order from ``random_state``:
    ``U(-b, b)`` with ``b = sqrt(f / (fan_in + fan_out))``, ``f = 2`` for logistic, else 6."""
    factor = 2.0 if ACTIVATION_NAMES[activation] == "sigmoid" else 6.0
    coefs, intercepts = [], []
    for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
        bound = np.sqrt(factor / (fan_in + fan_out))
        coefs.append(random_state.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype,
                                                                                  copy=False))
        intercepts.append(random_state.uniform(-bound, bound, fan_out).astype(dtype,
                                                                             copy=False))
    return coefs, intercepts


def _shuffled(order, random_state):
    """``sklearn.utils.shuffle(order, random_state=random_state)``: the same permutation
    from the same draws, without its input checks (a tenth of a small epoch)."""
    permutation = np.arange(order.shape[0])
    random_state.shuffle(permutation)
    return order[permutation]


def _fastnn_output(out_activation):
    return {name: fastnn for fastnn, name in OUT_ACTIVATION_NAMES.items()}[out_activation]


def _network_input(X, dtype):
    """``X`` as the backends take it: a C-ordered array, or a canonical CSR matrix (sorted
    indices, no duplicates), of ``dtype``; the caller's data is never modified."""
    if scipy.sparse.issparse(X):
        X = scipy.sparse.csr_matrix(X, dtype=dtype, copy=True)
        X.sum_duplicates()
        X.sort_indices()
        return X
    return np.ascontiguousarray(X, dtype=dtype)


def _unchanged(value):
    return value
