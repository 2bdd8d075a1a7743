"""The base of both estimators: scikit-learn's parameters, and ``fit`` from validated
input to the fitted state, on a fastnn backend chosen per fit
(:func:`fastnn.backends.resolve_backend`, as :class:`fastnn.MLP`); the solvers train
through the drivers of ``MLP.fit`` (:mod:`fastnn.train`), the stochastic ones with
scikit-learn's order and records from :mod:`fastnn.estimator._stochastic`."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from fastnn import backends, train
from fastnn.estimator._layers import FittedLayersMixin, glorot_uniform
from fastnn.estimator._parameters import (
    ACTIVATION_NAMES,
    LOSS_NAMES,
    PARAMETER_CONSTRAINTS,
    STOCHASTIC_SOLVERS,
    TrainingOptionsMixin,
    fastnn_output,
)
from fastnn.estimator._stochastic import StochasticSolverMixin
from fastnn.spec import NetworkSpec
from fastnn.validation import as_sample_weight, canonical_csr, checked_sparse


def atomic(method):
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


class _BaseMLP(FittedLayersMixin, StochasticSolverMixin, TrainingOptionsMixin, BaseEstimator):
    """Parameters, validation and the solvers shared by both estimators."""

    _parameter_constraints: dict = PARAMETER_CONSTRAINTS

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

    # --- fitting --------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    @atomic
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
        X, y = self._validate_input(checked_structure(X), y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype,
                                                 ensure_non_negative=True)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        layer_units = [X.shape[1], *hidden_layer_sizes, y.shape[1]]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            # scikit-learn's rule: partial_fit (and warm_start) continue from whatever
            # coefs_ / intercepts_ exist, assigned by hand before any fit included.
            self._initialize(y, layer_units, X.dtype,
                             keep_assigned=incremental or self.warm_start)
        elif tuple(layer_units) != self._spec.layer_sizes:
            raise ValueError(f"the network being continued has layer sizes "
                             f"{list(self._spec.layer_sizes)}; X, y and hidden_layer_sizes "
                             f"give {layer_units}")
        self.n_outputs_ = y.shape[1]
        spec, backend = self._network(X, incremental)
        X = network_input(X, spec.dtype)
        T = np.ascontiguousarray(y, dtype=spec.dtype)
        if sample_weight is not None:
            # fastnn's rule: weights whose sum has no finite reciprocal in the data's
            # dtype are refused before training, naming sample_weight; checked in that
            # dtype, not the backend's (python computes float32 data in float64), so that
            # every backend decides alike.
            sample_weight = as_sample_weight(sample_weight, X.shape[0], self._dtype)
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
        # The backend that finished the fit: with backend="auto" a tiered backend may have
        # moved from NumPy to the compiled kernels between two epochs.
        self.backend_ = backend.name
        return self

    def _initialize(self, y, layer_units, dtype, keep_assigned=False):
        """Fresh state for a first fit: scikit-learn's attributes and initial weights (the
        weights assigned to ``coefs_`` / ``intercepts_`` instead, if ``keep_assigned``)."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        self._dtype = np.dtype(dtype).name
        self._spec = NetworkSpec.create(layer_units, ACTIVATION_NAMES[self.activation],
                                        fastnn_output(self.out_activation_),
                                        LOSS_NAMES[self.out_activation_, self.loss], self._dtype)
        coefs, intercepts = glorot_uniform(layer_units, self.activation, self._random_state,
                                            dtype)
        if keep_assigned and hasattr(self, "_coefs") and hasattr(self, "_intercepts"):
            # Weights assigned before the first fit are its starting point.
            coefs = self._checked_layers(self._coefs, "coefs_")
            intercepts = self._checked_layers(self._intercepts, "intercepts_")
        self._coefs, self._intercepts = coefs, intercepts
        self._optimizer = None
        if self.solver in STOCHASTIC_SOLVERS:
            self._start_records()

    def _network(self, X, incremental):
        """The spec and backend this fit computes with (``backend_`` is set to it)."""
        sparse = scipy.sparse.issparse(X)
        batch_size = X.shape[0] if self.solver == "lbfgs" else self._batch_size(X.shape[0],
                                                                               warn=False)
        try:
            backend = backends.resolve_backend(self.backend, self._spec, batch_size,
                                               "train_step", sparse=sparse, dtype=self._dtype,
                                               check_dtype=False)
        except ValueError as exc:
            raise InvalidParameterError(
                f"The 'backend' parameter of {type(self).__name__} must be \"auto\" or "
                f"a fastnn backend: {exc}") from exc
        # A backend without the data's dtype (python: float64 only) computes in float64.
        self._spec = self._spec.with_dtype(self._dtype if self._dtype in backend.dtypes
                                           else "float64")
        if sparse and not backend.accepts_sparse:
            warnings.warn(f"the {backend.name!r} backend does not take sparse input: each "
                          f"mini-batch is densified and trained with one backend call (slower)",
                          UserWarning, stacklevel=4)
        self.backend_ = backend.name
        return self._spec, backend

    # --- lbfgs ------------------------------------------------------------------------

    def _fit_lbfgs(self, spec, backend, params, X, T, sample_weight):
        """``lbfgs`` through :func:`fastnn.train.fit_full_batch` (the driver of ``MLP.fit``
        too): every iteration from scikit-learn's parameters."""
        options = self._training_options(X.shape[0], incremental=False)
        params, self.loss_, self.n_iter_ = train.fit_full_batch(backend, spec, params, X, T,
                                                                options, sample_weight)
        return params

    # --- prediction -------------------------------------------------------------------

    def _forward(self, X):
        """Network outputs for new ``X``: shape (n_samples, n_outputs_)."""
        check_is_fitted(self)
        X = validate_data(self, checked_structure(X), accept_sparse=["csr", "csc"], reset=False,
                          dtype=(np.float64, np.float32))
        backend = backends.resolve_backend(self.backend_, self._spec)
        Y = train.network_outputs(backend, self._spec,
                                  self._flat_parameters(), network_input(X, self._spec.dtype))
        return Y.astype(np.result_type(X.dtype, self._dtype), copy=False)

    def _is_classifier(self):
        return isinstance(self, ClassifierMixin)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def network_input(X, dtype):
    """``X`` as the backends take it: a C-ordered array, or a canonical CSR matrix (sorted
    indices, no duplicates), of ``dtype``; the caller's data is never modified."""
    if scipy.sparse.issparse(X):
        return canonical_csr(X, dtype)
    return np.ascontiguousarray(X, dtype=dtype)


def checked_structure(X):
    """``X``, its sparse index structure checked before scikit-learn's validation converts
    it (SciPy's conversions read memory through unchecked indices); a dense ``X`` as is."""
    if scipy.sparse.issparse(X):
        return checked_sparse(X)
    return X
