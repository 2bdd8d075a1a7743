"""Estimators: scikit-learn 1.9's behaviour at its edges (two of its own MLP tests,
ported), the types it refuses, and weights every backend treats alike."""

import warnings

import numpy as np
import pytest
from conftest import BACKENDS
from numpy.testing import assert_almost_equal
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

from fastnn.estimator import MLPClassifier, MLPRegressor


@pytest.mark.parametrize("sizes", [(2.5,), (3, 2.0), (np.float64(2.0),), (True,)])
def test_non_integer_hidden_layer_sizes_are_a_type_error(sizes):
    """scikit-learn raises a TypeError for a float width (its initialiser needs ints);
    fastnn used to train ``int(2.5)`` = 2 units."""
    X, y = np.random.default_rng(0).random((10, 3)), np.arange(10) % 2
    with pytest.raises(TypeError, match="hidden_layer_sizes must hold integers"):
        MLPClassifier(hidden_layer_sizes=sizes, max_iter=2, backend="numpy").fit(X, y)


def test_integer_widths_of_numpy_types_are_accepted():
    X, y = np.random.default_rng(0).random((10, 3)), np.arange(10) % 2
    model = MLPClassifier(hidden_layer_sizes=(np.int64(3),), max_iter=2, backend="numpy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert model.fit(X, y).coefs_[0].shape == (3, 3)


@pytest.mark.parametrize("solver", ["lbfgs", "sgd"])
def test_float32_weights_whose_sum_overflows_are_refused_alike_on_every_backend(solver):
    """Each float32 weight is finite, their float32 sum is not: numpy used to give
    ``loss_ = 0.0`` and the others a finite loss (python computes in float64)."""
    rng = np.random.default_rng(0)
    X, y = rng.random((20, 3)).astype(np.float32), rng.random(20).astype(np.float32)
    weights = np.full(20, 3e37, dtype=np.float32)
    with np.errstate(over="ignore"):
        assert np.isinf(weights.sum())
    for backend in BACKENDS:
        model = MLPRegressor(hidden_layer_sizes=(4,), solver=solver, max_iter=3,
                             backend=backend, random_state=0)
        with pytest.raises(ValueError, match="sample_weight sums to inf"):
            model.fit(X, y, sample_weight=weights)
        assert not hasattr(model, "coefs_")


def test_float32_weights_just_below_the_overflow_give_one_result_on_every_backend():
    rng = np.random.default_rng(0)
    X, y = rng.random((20, 3)).astype(np.float32), rng.random(20).astype(np.float32)
    weights = np.full(20, 1.5e37, dtype=np.float32)
    assert np.isfinite(weights.sum())
    losses = {}
    for backend in BACKENDS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            losses[backend] = MLPRegressor(hidden_layer_sizes=(4,), solver="sgd", max_iter=3,
                                           backend=backend, random_state=0).fit(
                X, y, sample_weight=weights).loss_
    reference = losses[BACKENDS[0]]
    assert all(np.isfinite(loss) and abs(loss - reference) <= 1e-4 * abs(reference)
               for loss in losses.values()), losses


@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_partial_fit_continues_from_hand_assigned_weights(backend):
    """scikit-learn's ``test_fit`` (sklearn/neural_network/tests/test_mlp.py): the
    fitted attributes are assigned by hand to an unfitted estimator and ``partial_fit``
    takes one sgd step from those weights, worked out by hand in its comments."""
    X = np.array([[0.6, 0.8, 0.7]])
    y = np.array([0])
    mlp = MLPClassifier(solver="sgd", learning_rate_init=0.1, alpha=0.1,
                        activation="logistic", random_state=1, max_iter=1,
                        hidden_layer_sizes=2, momentum=0, backend=backend)
    mlp.coefs_ = [np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0]]), np.array([[0.1], [0.2]])]
    mlp.intercepts_ = [np.array([0.1, 0.1]), np.array([1.0])]
    mlp.n_outputs_ = 1
    mlp.n_features_in_ = 3
    mlp.n_iter_ = 0
    mlp.learning_rate_ = 0.1
    mlp.n_layers_ = 3
    mlp.out_activation_ = "logistic"
    mlp.t_ = 0
    mlp.best_loss_ = np.inf
    mlp.loss_curve_ = []
    mlp._no_improvement_count = 0

    mlp.partial_fit(X, y, classes=[0, 1])

    assert_almost_equal(mlp.coefs_[0], np.array([[0.098, 0.195756], [0.2956664, 0.096008],
                                                 [0.4939998, -0.002244]]), decimal=3)
    assert_almost_equal(mlp.coefs_[1], np.array([[0.04706], [0.154089]]), decimal=3)
    assert_almost_equal(mlp.intercepts_[0], np.array([0.098333, 0.09626]), decimal=3)
    assert_almost_equal(mlp.intercepts_[1], np.array(0.9235), decimal=3)
    assert_almost_equal(mlp.predict_proba(X)[0, 1], 0.739, decimal=3)


def test_a_fresh_fit_still_ignores_hand_assigned_weights():
    """Only partial_fit and warm_start continue; fit without warm_start starts afresh
    from random_state, as scikit-learn does."""
    X, y = np.random.default_rng(0).random((12, 3)), np.arange(12) % 2
    kwargs = dict(hidden_layer_sizes=(2,), solver="sgd", max_iter=1, random_state=0,
                  backend="numpy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = MLPClassifier(**kwargs).fit(X, y)
        assigned = MLPClassifier(**kwargs)
        assigned.coefs_ = [np.full((3, 2), 5.0), np.full((2, 1), 5.0)]
        assigned.intercepts_ = [np.zeros(2), np.zeros(1)]
        assigned.fit(X, y)
    assert all(np.array_equal(a, b) for a, b in zip(plain.coefs_, assigned.coefs_))


@pytest.mark.parametrize("backend", BACKENDS)
def test_mlp_diverging_loss(backend):
    """scikit-learn's ``test_mlp_diverging_loss`` (its issue 29504): with early stopping a
    diverging sgd run ends without an exception, its last validation score a float NaN."""
    iris = load_iris()
    mlp = MLPRegressor(hidden_layer_sizes=100, activation="identity", solver="sgd",
                       alpha=0.0001, learning_rate="constant", learning_rate_init=1,
                       shuffle=True, max_iter=20, early_stopping=True, n_iter_no_change=10,
                       random_state=0, backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(iris.data, iris.target)
    assert str(mlp.validation_scores_[-1]) == str(np.nan)
    assert isinstance(mlp.validation_scores_[-1], float)
    # As scikit-learn 1.9: NaN epochs do not count against n_iter_no_change (all 20 run)
    # and the best epoch's finite weights are kept.
    assert mlp.n_iter_ == 20 and np.isnan(mlp.loss_)
    assert np.isfinite(mlp.best_validation_score_)
    assert all(np.isfinite(coefs).all() for coefs in mlp.coefs_)
