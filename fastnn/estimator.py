"""scikit-learn estimators on fastnn: :class:`MLPClassifier` and :class:`MLPRegressor`.

Drop-in for scikit-learn's stochastic solvers: the parameter names, defaults and
meanings are scikit-learn's where the concept is the same (``solver="sgd"`` with
``momentum > 0`` is momentum, Nesterov's with ``nesterovs_momentum``; ``alpha`` is the
same L2 penalty; stopping after ``n_iter_no_change`` epochs without an improvement of
``tol`` in the training loss, or in the validation score with ``early_stopping``).
Training runs on a fastnn backend (``backend="auto"``: the fastest one here, the
numba backend running each epoch in one compiled kernel).

Differences from scikit-learn: no ``lbfgs`` solver and only a constant learning rate
(no ``learning_rate``, ``power_t``, ``max_fun``); no ``sample_weight``; sparse input is
refused; the initial weights are fastnn's (the activation's init family in
:data:`fastnn.functions.ACTIVATIONS`: He for the relu family, Xavier otherwise); the
validation split is not stratified; for several regression outputs the loss is summed
(not averaged) over the outputs.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from fastnn import backends, train
from fastnn.hyperparameters import HYPERPARAMETERS, TrainingOptions
from fastnn.model import MLP
from fastnn.optimizers import make_optimizer
from fastnn.params import init_params
from fastnn.spec import HIDDEN_ACTIVATIONS, NetworkSpec
from fastnn.validation import check_bool

SOLVERS = ("sgd", "adam")

# scikit-learn's activation names, plus fastnn's own.
ACTIVATION_NAMES = {"logistic": "sigmoid", **{name: name for name in HIDDEN_ACTIVATIONS}}


class _BaseMLP(BaseEstimator):
    """Parameters, validation and the training loop shared by both estimators."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate_init=0.001, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, backend="auto"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
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
        self.backend = backend

    # --- subclasses define the output side ------------------------------------------

    def _output(self, n_outputs):
        """``(output_activation, loss)`` for ``n_outputs`` outputs."""
        raise NotImplementedError

    def _score_outputs(self, Y, T):
        """The validation score of outputs ``Y`` against targets ``T`` (higher is better)."""
        raise NotImplementedError

    # --- training -------------------------------------------------------------------

    def _fit(self, X, T, incremental):
        """Train on validated ``X`` (n_samples, n_features) and targets ``T`` (n_samples, n_out)."""
        X = np.ascontiguousarray(X, dtype=np.float64)  # the kernels take C-ordered rows
        options = self._training_options(X.shape[0], incremental)
        fresh = not hasattr(self, "network_") or (not self.warm_start and not incremental)
        if fresh:
            self._initialize(X.shape[1], T.shape[1], options.batch_size)
        elif (X.shape[1], T.shape[1]) != (self.network_.spec.n_inputs,
                                          self.network_.spec.n_outputs):
            raise ValueError(f"X has {X.shape[1]} features and y {T.shape[1]} outputs; the "
                             f"network being continued has {self.network_.spec.n_inputs} "
                             f"and {self.network_.spec.n_outputs}")
        if not incremental or getattr(self, "_optimizer", None) is None:
            self._optimizer = make_optimizer(options, self.network_.flat_parameters.size,
                                             self.network_.spec.dtype)
        early_stopping = self.early_stopping and not incremental
        if early_stopping:
            train_index, val_index = train.validation_split(
                X.shape[0], options.validation_fraction, self._rng)
            if val_index.size < 2:
                raise ValueError("the validation set is too small (fewer than 2 samples); "
                                 "increase validation_fraction or the number of samples")
            X, X_val, T, T_val = X[train_index], X[val_index], T[train_index], T[val_index]
        spec, backend = self.network_.spec, backends.get(self.backend_)
        params = self.network_.flat_parameters.copy()
        mask = train.weight_mask(spec.layer_sizes)

        def one_epoch(current):
            order = train.epoch_order(X.shape[0], options.shuffle, self._rng)
            return train.run_epoch(backend, spec, current, X, T, order, options,
                                   self._optimizer, mask)

        def evaluate(current, loss):
            figures = {"loss": float(loss)}
            if early_stopping:
                figures["validation_score"] = float(
                    self._score_outputs(backend.forward(spec, current, X_val), T_val))
            return figures

        monitor = "validation_score" if early_stopping else "loss"
        tracker = self._tracker(options, early_stopping)
        epochs = 1 if incremental else options.epochs
        try:
            history, stopped = train.train_loop(one_epoch, params, epochs, evaluate, tracker,
                                                monitor, keep_best=early_stopping,
                                                progress=bool(self.verbose))
        except train.TrainingDiverged as exc:
            raise ValueError(f"{exc}. The input data may contain large values and need to "
                             f"be preprocessed (e.g. StandardScaler).") from exc
        self._record(params, history, tracker, early_stopping, X.shape[0])
        if not incremental and not stopped and self.n_iter_ == self.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                          f"and the optimization hasn't converged yet.", ConvergenceWarning,
                          stacklevel=3)
        return self

    def _initialize(self, n_features, n_outputs, batch_size):
        output_activation, loss = self._output(n_outputs)
        layer_sizes = [n_features, *self._hidden_sizes(), n_outputs]
        spec = NetworkSpec.create(layer_sizes, ACTIVATION_NAMES[self.activation],
                                  output_activation, loss)
        self.backend_ = self._resolve_backend(layer_sizes, batch_size)
        self._rng = _generator(self.random_state)
        self.network_ = MLP.from_spec(spec, init_params(spec, "auto", self._rng), self.backend_)
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self.best_loss_ = np.inf
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None
        self._optimizer = None

    def _tracker(self, options, early_stopping):
        """scikit-learn's rule: stop after more than n_iter_no_change epochs without gain."""
        tracker = train.ImprovementTracker(options.tol, options.patience,
                                           higher_is_better=early_stopping)
        previous_best = self.best_validation_score_ if early_stopping else self.best_loss_
        if previous_best is not None:
            tracker.best = -previous_best if early_stopping else previous_best
        return tracker

    def _record(self, params, history, tracker, early_stopping, n_train):
        self.network_ = MLP.from_spec(self.network_.spec, params, self.backend_)
        self.loss_curve_.extend(history["loss"])
        self.loss_ = self.loss_curve_[-1]
        # As scikit-learn: the epochs of the last fit / partial_fit call.
        self.n_iter_ = len(history["loss"])
        self.t_ += n_train * len(history["loss"])
        if early_stopping:
            self.validation_scores_ = (self.validation_scores_ or []) \
                + history["validation_score"]
            self.best_validation_score_ = tracker.best_value
            self.best_loss_ = None
        else:
            self.best_loss_ = tracker.best_value
        self.coefs_ = [W.copy() for W in self.network_.weights]
        self.intercepts_ = [b.copy() for b in self.network_.biases]
        self.n_layers_ = len(self.coefs_) + 1
        self.n_outputs_ = self.network_.spec.n_outputs
        self.out_activation_ = {"sigmoid": "logistic"}.get(
            self.network_.spec.output_activation, self.network_.spec.output_activation)

    def _outputs(self, X):
        """Network outputs for new ``X``: shape (n_samples, n_outputs_)."""
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.network_.forward(X)

    # --- parameter validation -------------------------------------------------------

    def _training_options(self, n_samples, incremental):
        """The constructor parameters as validated fastnn training options."""
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}; got {self.solver!r}")
        if self.activation not in ACTIVATION_NAMES:
            raise ValueError(f"activation must be one of {sorted(ACTIVATION_NAMES)}; "
                             f"got {self.activation!r}")
        self._hidden_sizes()
        for name in ("shuffle", "nesterovs_momentum", "early_stopping", "warm_start"):
            check_bool(name, getattr(self, name))
        _check_int("n_iter_no_change", self.n_iter_no_change, minimum=1)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if self.early_stopping and not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1); "
                             f"got {self.validation_fraction!r}")
        if self.backend != "auto":
            backends.canonical_name(self.backend)
        _check_int("max_iter", self.max_iter, minimum=1)
        # Each option is set from the scikit-learn parameter the table names; these
        # convert the ones whose meaning differs.
        converters = {
            "optimizer": self._optimizer_name,
            "batch_size": lambda batch_size: self._batch_size(n_samples),
            "validation_fraction": lambda fraction: fraction if self.early_stopping else 0.0,
            # scikit-learn stops once more than n_iter_no_change epochs did not improve.
            "patience": lambda n_iter_no_change: n_iter_no_change + 1,
        }
        return TrainingOptions(**{
            option.name: converters.get(option.name, _unchanged)(getattr(self, option.sklearn))
            for option in HYPERPARAMETERS if option.sklearn is not None})

    def _optimizer_name(self, solver):
        """scikit-learn's solver as a fastnn optimiser: ``sgd`` with momentum is momentum."""
        if solver == "adam":
            return "adam"
        return "momentum" if self.momentum > 0 else "sgd"

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = [sizes]
        if not hasattr(sizes, "__iter__"):
            raise TypeError(f"hidden_layer_sizes must be an int or a sequence of ints; "
                            f"got {self.hidden_layer_sizes!r}")
        for size in sizes:
            _check_int("hidden_layer_sizes", size, minimum=1)
        return [int(size) for size in sizes]

    def _batch_size(self, n_samples):
        if isinstance(self.batch_size, str) and self.batch_size == "auto":
            return min(200, n_samples)
        _check_int("batch_size", self.batch_size, 1)
        if self.batch_size > n_samples:
            warnings.warn("Got `batch_size` larger than sample size. It is going to be "
                          "clipped", stacklevel=4)
        return min(int(self.batch_size), n_samples)

    def _resolve_backend(self, layer_sizes, batch_size):
        if self.backend == "auto":
            return backends.fastest_backend(layer_sizes, batch_size=batch_size,
                                            op="train_step")
        return backends.get(self.backend).name

class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier trained with fastnn (scikit-learn's API).

    Two classes: one sigmoid output with binary cross-entropy; more: softmax outputs
    with cross-entropy (scikit-learn's log-loss). Parameters as
    :class:`sklearn.neural_network.MLPClassifier` (stochastic solvers), plus

    Parameters
    ----------
    backend : str
        ``"auto"`` (the fastest available, see :func:`fastnn.fastest_backend`),
        ``"numba"``, ``"numpy"`` or ``"python"``.

    Attributes
    ----------
    classes_ : ndarray, shape (n_classes,)
    network_ : fastnn.MLP
        The trained network.
    backend_ : str
        The backend it trained on.
    coefs_, intercepts_ : list of ndarray
        Copies of the weights ``(n_in, n_out)`` and biases ``(n_out,)`` per layer.
    loss_curve_ : list of float
        Training loss per epoch (with the L2 term).
    n_iter_ : int
        Epochs run.
    validation_scores_ : list of float or None
        Validation accuracy per epoch with ``early_stopping``.
    """

    def fit(self, X, y):
        """Fit on ``X`` (n_samples, n_features) and labels ``y`` (n_samples,)."""
        fresh = not hasattr(self, "network_") or not self.warm_start
        X, y = validate_data(self, X, y, dtype=np.float64, reset=fresh)
        check_classification_targets(y)
        classes = unique_labels(y) if fresh else self.classes_
        if fresh:
            _check_two_classes(classes)
        self._fit(X, self._targets(y, classes), incremental=False)
        self.classes_ = classes
        return self

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``X``, ``y``; ``classes`` (all labels) is needed on the first call."""
        first_call = not hasattr(self, "network_")
        X, y = validate_data(self, X, y, dtype=np.float64, reset=first_call)
        check_classification_targets(y)
        if first_call:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            all_classes = unique_labels(classes)
            _check_two_classes(all_classes)
        else:
            all_classes = self.classes_
            if classes is not None and not np.array_equal(unique_labels(classes), all_classes):
                raise ValueError(f"classes={classes!r} is not the same as on the first call "
                                 f"to partial_fit, was: {all_classes!r}")
        self._fit(X, self._targets(y, all_classes), incremental=True)
        self.classes_ = all_classes
        return self

    def predict(self, X):
        """Class labels, shape (n_samples,)."""
        Y = self._outputs(X)
        return self.classes_[train.output_indices(Y)]

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        Y = self._outputs(X)
        if Y.shape[1] == 1:
            return np.hstack([1 - Y, Y])
        return Y

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def _output(self, n_outputs):
        if n_outputs == 1:
            return "sigmoid", "binary_cross_entropy"
        return "softmax", "cross_entropy"

    def _score_outputs(self, Y, T):
        return accuracy_score(train.output_indices(T), train.output_indices(Y))

    @staticmethod
    def _targets(y, classes):
        """Labels as the target matrix: one column for two classes, else one-hot."""
        unknown = np.setdiff1d(unique_labels(y), classes)
        if unknown.size:
            raise ValueError(f"y contains labels {unknown!r} not in classes {classes!r}")
        indices = np.searchsorted(classes, y)
        if classes.size == 2:
            return indices.reshape(-1, 1).astype(np.float64)
        T = np.zeros((y.shape[0], classes.size))
        T[np.arange(y.shape[0]), indices] = 1.0
        return T


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor trained with fastnn (scikit-learn's API).

    Identity outputs with fastnn's ``mse`` loss (``0.5 * squared error``, mean over
    samples). Parameters and attributes as :class:`MLPClassifier` (without
    ``classes_``); ``validation_scores_`` holds R^2 values.
    """

    def fit(self, X, y):
        """Fit on ``X`` (n_samples, n_features) and ``y`` (n_samples,) or (n_samples, n_outputs)."""
        fresh = not hasattr(self, "network_") or not self.warm_start
        X, T = self._validate_targets(X, y, reset=fresh)
        return self._fit(X, T, incremental=False)

    def partial_fit(self, X, y):
        """One epoch over ``X``, ``y`` (continuing from the current state)."""
        X, T = self._validate_targets(X, y, reset=not hasattr(self, "network_"))
        return self._fit(X, T, incremental=True)

    def predict(self, X):
        """Predicted targets, shape (n_samples,) for one output, else (n_samples, n_outputs)."""
        Y = self._outputs(X)
        return Y.ravel() if Y.shape[1] == 1 else Y

    def _output(self, n_outputs):
        return "identity", "mse"

    def _score_outputs(self, Y, T):
        return r2_score(T, Y)

    def _validate_targets(self, X, y, reset):
        X, y = validate_data(self, X, y, reset=reset, multi_output=True, y_numeric=True,
                             dtype=np.float64)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, np.ascontiguousarray(y.reshape(y.shape[0], -1), dtype=np.float64)


def _check_two_classes(classes):
    if classes.size < 2:
        raise ValueError(f"MLPClassifier needs samples of at least 2 classes; the data "
                         f"contains only one class: {classes[0]!r}")


def _check_int(name, value, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value!r}")
    return True


def _unchanged(value):
    return value


def _generator(random_state):
    """A ``numpy.random.Generator`` from scikit-learn's ``random_state`` conventions."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    if random_state is None or isinstance(random_state, (numbers.Integral, np.random.Generator)):
        return np.random.default_rng(random_state)
    raise ValueError(f"random_state must be None, an int, a RandomState or a Generator; "
                     f"got {random_state!r}")
