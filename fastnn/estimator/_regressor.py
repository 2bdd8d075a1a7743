"""``MLPRegressor``: numeric targets, identity or exp outputs (``loss="squared_error"`` or
``"poisson"``), R² as the score, and ``partial_fit`` for every solver."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils import column_or_1d
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import validate_data

from fastnn.estimator._base import _BaseMLP, atomic


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
    @atomic
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
