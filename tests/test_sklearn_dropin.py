"""fastnn.estimator against scikit-learn itself: the same inputs give the same model.

The estimators draw their random numbers as scikit-learn does (initial weights, shuffles,
split), so the same ``random_state`` gives the same starting weights; some tests also set
``coefs_`` / ``intercepts_`` of both to the same values. sgd and adam then match epoch for
epoch (loss curve and weights within 1e-10 relative); lbfgs over its first iterations (its
final point may part from scikit-learn's in a long run: L-BFGS amplifies rounding).
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse
from conftest import BACKENDS
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SklearnClassifier
from sklearn.neural_network import MLPRegressor as SklearnRegressor
from sklearn.preprocessing import StandardScaler

from fastnn import backends
from fastnn.estimator import MLPClassifier, MLPRegressor
from fastnn.testing import relative_difference

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# The compiled and the vectorised path (the pure-Python reference is checked against
# them elsewhere; one small case below runs it too).
PATHS = [name for name in ("numba", "numpy") if name in BACKENDS]
OURS = {"classifier": MLPClassifier, "regressor": MLPRegressor}
THEIRS = {"classifier": SklearnClassifier, "regressor": SklearnRegressor}




@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def outputs():
    """Regression data with two outputs."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((70, 4))
    Y = np.column_stack([X @ [1.0, -2.0, 0.5, 0.0], np.tanh(X[:, 0]) + 0.1 * X[:, 3]])
    return X, Y


def fit_both(kind, X, y, backend="numba", fit=None, **settings):
    """Our estimator and scikit-learn's, fitted alike."""
    fit = fit or {}
    ours = OURS[kind](backend=backend, **settings).fit(X, y, **fit)
    theirs = THEIRS[kind](**settings).fit(X, y, **fit)
    return ours, theirs


def assert_same_model(ours, theirs, tolerance=1e-10):
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    assert relative_difference(np.concatenate([a.ravel() for a in ours.coefs_ + ours.intercepts_]),
                               np.concatenate([a.ravel() for a in theirs.coefs_
                                               + theirs.intercepts_])) <= tolerance
    if hasattr(theirs, "loss_curve_"):
        curve, expected = np.array(ours.loss_curve_), np.array(theirs.loss_curve_)
        assert curve.shape == expected.shape
        assert np.max(np.abs(curve - expected) / np.abs(expected)) <= tolerance
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=tolerance) \
            if theirs.best_loss_ is not None else ours.best_loss_ is None


# --- every solver and schedule, epoch for epoch ----------------------------------------

SOLVERS = {
    "adam": {"solver": "adam", "learning_rate_init": 0.01},
    "sgd-nesterov": {"solver": "sgd", "learning_rate_init": 0.05},
    "sgd-momentum": {"solver": "sgd", "nesterovs_momentum": False, "momentum": 0.5},
    "sgd-plain": {"solver": "sgd", "momentum": 0.0, "learning_rate_init": 0.1},
    "sgd-invscaling": {"solver": "sgd", "learning_rate": "invscaling", "power_t": 0.3,
                       "learning_rate_init": 0.2},
    "sgd-adaptive": {"solver": "sgd", "learning_rate": "adaptive", "learning_rate_init": 0.1},
}


@pytest.mark.parametrize("backend", PATHS)
@pytest.mark.parametrize("solver", list(SOLVERS))
def test_stochastic_solvers_match_scikit_learn_epoch_for_epoch(solver, backend, iris):
    X, y = iris
    ours, theirs = fit_both("classifier", X, y, backend, hidden_layer_sizes=(6,), max_iter=25,
                            batch_size=32, alpha=1e-3, random_state=1, **SOLVERS[solver])
    assert_same_model(ours, theirs)


@pytest.mark.parametrize("backend", PATHS)
@pytest.mark.parametrize("solver", ["adam", "sgd-invscaling"])
def test_several_regression_outputs_report_scikit_learns_loss(solver, backend, outputs):
    """scikit-learn's squared error is a mean over the outputs too; its gradient is not."""
    X, Y = outputs
    ours, theirs = fit_both("regressor", X, Y, backend, hidden_layer_sizes=(5,), max_iter=20,
                            batch_size=16, random_state=0, **SOLVERS[solver])
    assert_same_model(ours, theirs)


@pytest.mark.parametrize("backend", PATHS)
@pytest.mark.parametrize("max_iter", [3, 20])
def test_lbfgs_iterates_follow_scikit_learns_over_the_first_iterations(backend, max_iter):
    """What the README claims for lbfgs, on a smaller cousin of scikit-learn's alpha-sweep
    gallery example (two hidden layers, two moons): after each of the first iterations
    the weights agree to rounding. Later they may part, as L-BFGS amplifies rounding
    (with two 100-unit layers: 1e-14 after 20 iterations, 1e-9 after 100); the README
    says so and claims no more."""
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=60, noise=0.3, random_state=0)
    X = StandardScaler().fit_transform(X)
    ours, theirs = fit_both("classifier", X, y, backend, solver="lbfgs", alpha=0.1,
                            hidden_layer_sizes=(20, 20), max_iter=max_iter, random_state=1)
    assert ours.n_iter_ == theirs.n_iter_ == max_iter
    flat = [np.concatenate([coefs.ravel() for coefs in model.coefs_])
            for model in (ours, theirs)]
    assert relative_difference(*flat) <= 1e-11
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-12)


def test_readme_claims_for_lbfgs_only_what_holds():
    """The README used to promise scikit-learn's model "to rounding" for every solver;
    for lbfgs only the first iterations are (see the test above)."""
    import pathlib

    text = " ".join((pathlib.Path(__file__).parents[1] / "README.md").read_text().split())
    assert "With `lbfgs` the iterates agree to about 1e-13 over the first iterations" in text
    assert "they give scikit-learn's model to rounding" not in text


@pytest.mark.parametrize("backend", PATHS)
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_lbfgs_reaches_scikit_learns_final_loss(kind, backend, iris, outputs):
    X, y = iris if kind == "classifier" else outputs
    ours, theirs = fit_both(kind, X, y, backend, solver="lbfgs", hidden_layer_sizes=(5,),
                            max_iter=60, random_state=0)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-8)
    assert not hasattr(ours, "loss_curve_")  # as scikit-learn: lbfgs has no curve


def test_lbfgs_budget_warns_as_scikit_learn_does(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge after 3 iteration"):
        MLPClassifier((5,), solver="lbfgs", max_iter=3, random_state=0).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        MLPClassifier((5,), solver="lbfgs", max_fun=4, random_state=0).fit(X, y)


def test_the_same_assigned_weights_give_the_same_model(iris):
    """Set coefs_ / intercepts_ of both to the same values, then continue with warm_start."""
    X, y = iris
    rng = np.random.default_rng(7)
    coefs = [rng.normal(0, 0.5, (4, 5)), rng.normal(0, 0.5, (5, 3))]
    intercepts = [rng.normal(0, 0.1, 5), rng.normal(0, 0.1, 3)]
    models = []
    for make in (MLPClassifier, SklearnClassifier):
        model = make((5,), solver="sgd", max_iter=1, random_state=3).fit(X, y)
        model.coefs_ = [c.copy() for c in coefs]
        model.intercepts_ = [b.copy() for b in intercepts]
        models.append(model.set_params(warm_start=True, max_iter=10).fit(X, y))
    ours, theirs = models
    np.testing.assert_allclose(ours.loss_curve_[1:], theirs.loss_curve_[1:], rtol=1e-10)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


# --- stopping rules ----------------------------------------------------------------------


def test_adaptive_divides_the_rate_by_five_at_each_stall_as_scikit_learn(iris):
    X, y = iris
    settings = {"hidden_layer_sizes": (4,), "solver": "sgd", "learning_rate": "adaptive",
                "learning_rate_init": 0.01, "tol": 0.5, "n_iter_no_change": 2,
                "max_iter": 80, "random_state": 0}
    ours, theirs = fit_both("classifier", X, y, **settings)
    assert_same_model(ours, theirs)
    assert ours.n_iter_ < 80  # stopped once the rate fell below 1e-6
    assert ours._optimizer.learning_rate == pytest.approx(theirs._optimizer.learning_rate)
    assert ours._optimizer.learning_rate <= 1e-6


@pytest.mark.parametrize("labels", ["binary", "multiclass"])
def test_early_stopping_splits_and_stops_as_scikit_learn(labels, iris):
    X, y = iris
    y = (y == 1).astype(int) if labels == "binary" else y
    ours, theirs = fit_both("classifier", X, y, hidden_layer_sizes=(6,), early_stopping=True,
                            validation_fraction=0.2, n_iter_no_change=3, max_iter=200,
                            learning_rate_init=0.01, random_state=0)
    assert_same_model(ours, theirs)
    assert ours.validation_scores_ == pytest.approx(theirs.validation_scores_)
    assert ours.best_validation_score_ == theirs.best_validation_score_
    assert ours.best_loss_ is None


def test_early_stopping_regressor_scores_r2_as_scikit_learn(outputs):
    X, Y = outputs
    ours, theirs = fit_both("regressor", X, Y[:, 0], hidden_layer_sizes=(6,),
                            early_stopping=True, n_iter_no_change=4, max_iter=150,
                            learning_rate_init=0.01, random_state=0)
    assert_same_model(ours, theirs)
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-9)


def test_n_iter_no_change_inf_never_stops(iris):
    X, y = iris
    ours, theirs = fit_both("classifier", X, y, hidden_layer_sizes=(3,), tol=10.0,
                            n_iter_no_change=np.inf, max_iter=15, random_state=0)
    assert ours.n_iter_ == theirs.n_iter_ == 15
    assert_same_model(ours, theirs)


def test_verbose_prints_scikit_learns_lines(iris, capsys):
    X, y = iris
    settings = {"hidden_layer_sizes": (4,), "solver": "sgd", "learning_rate": "adaptive",
                "early_stopping": True, "tol": 0.5, "n_iter_no_change": 1, "max_iter": 6,
                "verbose": True, "random_state": 0}
    SklearnClassifier(**settings).fit(X, y)
    theirs = capsys.readouterr()
    MLPClassifier(**settings).fit(X, y)
    ours = capsys.readouterr()
    assert ours.out == theirs.out
    assert "Iteration 1, loss = " in ours.out and "Setting learning rate to" in ours.out
    assert ours.err == ""


# --- data: multilabel, sparse, sample weights, poisson, float32 -------------------------


@pytest.mark.parametrize("backend", PATHS)
def test_multilabel_indicator_y_matches_scikit_learn(backend, iris):
    X, y = iris
    Y = np.column_stack([y == 0, y == 2, X[:, 0] > 0]).astype(int)
    ours, theirs = fit_both("classifier", X, Y, backend, hidden_layer_sizes=(5,), max_iter=20,
                            learning_rate_init=0.01, random_state=0)
    assert_same_model(ours, theirs)
    assert ours.out_activation_ == "logistic" and ours.n_outputs_ == 3
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-9)


@pytest.mark.parametrize("backend", PATHS)
@pytest.mark.parametrize("layout", ["csr", "csc"])
def test_sparse_X_trains_as_dense_X_and_as_scikit_learn(layout, backend, iris):
    X, y = iris
    X = np.where(np.abs(X) < 0.5, 0.0, X)
    sparse = scipy.sparse.csr_matrix(X) if layout == "csr" else scipy.sparse.csc_matrix(X)
    settings = {"hidden_layer_sizes": (5,), "solver": "sgd", "max_iter": 10, "batch_size": 20,
                "random_state": 0}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = MLPClassifier(backend=backend, **settings).fit(sparse, y)
    # Only a backend without sparse support densifies (one batch at a time), and says so.
    densified = any("densified" in str(warning.message) for warning in caught)
    assert densified != getattr(backends.get(backend), "accepts_sparse", False)
    theirs = SklearnClassifier(**settings).fit(sparse, y)
    dense = MLPClassifier(backend=backend, **settings).fit(X, y)
    assert_same_model(ours, theirs)
    assert_same_model(ours, dense)
    np.testing.assert_allclose(ours.predict_proba(sparse), dense.predict_proba(X), rtol=1e-10)


def test_sparse_input_with_nan_is_a_clear_error(iris):
    X, y = iris
    sparse = scipy.sparse.csr_matrix(X)
    sparse.data[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MLPClassifier((3,), max_iter=2).fit(sparse, y)


@pytest.mark.parametrize("backend", PATHS)
@pytest.mark.parametrize("solver", ["adam", "sgd-adaptive", "lbfgs"])
def test_sample_weight_matches_scikit_learn(solver, backend, iris):
    X, y = iris
    weights = np.random.RandomState(0).uniform(0, 3, X.shape[0])
    settings = SOLVERS.get(solver, {"solver": "lbfgs"})
    ours, theirs = fit_both("classifier", X, y, backend, fit={"sample_weight": weights},
                            hidden_layer_sizes=(5,), max_iter=15, batch_size=32, alpha=0.01,
                            random_state=0, **settings)
    if solver == "lbfgs":
        assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-8)
    else:
        assert_same_model(ours, theirs)


def test_sample_weight_in_partial_fit_matches_scikit_learn(outputs):
    X, Y = outputs
    weights = np.linspace(0.1, 2.0, X.shape[0])
    models = [make(hidden_layer_sizes=(4,), random_state=0) for make in (MLPRegressor,
                                                                         SklearnRegressor)]
    for model in models:
        for _ in range(3):
            model.partial_fit(X, Y, sample_weight=weights)
    assert_same_model(*models)


@pytest.mark.parametrize("weights, message", [
    (np.ones(5), "sample_weight.shape"),
    (-np.ones(150), "Negative values in data passed to `sample_weight`"),
    (np.full(150, np.nan), "NaN"),
    (np.zeros(150), "Sample weights must contain at least one non-zero number"),
])
def test_bad_sample_weight_is_a_clear_error(weights, message, iris):
    X, y = iris
    with pytest.raises(ValueError, match=message):
        MLPClassifier((3,), max_iter=2).fit(X, y, sample_weight=weights)


@pytest.mark.parametrize("backend", PATHS)
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_poisson_loss_matches_scikit_learn(solver, backend, outputs):
    X, _ = outputs
    counts = np.random.RandomState(0).poisson(np.exp(0.5 * X[:, 0]))
    ours, theirs = fit_both("regressor", X, counts, backend, loss="poisson", solver=solver,
                            hidden_layer_sizes=(4,), max_iter=20, learning_rate_init=0.01,
                            random_state=0)
    assert ours.out_activation_ == "exp"
    if solver == "lbfgs":
        assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-8)
    else:
        assert_same_model(ours, theirs)


def test_poisson_refuses_negative_targets(outputs):
    X, Y = outputs
    with pytest.raises(ValueError, match="y >= 0"):
        MLPRegressor(loss="poisson", max_iter=2).fit(X, Y[:, 0])


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_float32_X_keeps_float32_parameters_and_predictions(solver, iris):
    X, y = iris
    X32 = X.astype(np.float32)
    ours = MLPClassifier((5,), solver=solver, max_iter=10, random_state=0).fit(X32, y)
    theirs = SklearnClassifier((5,), solver=solver, max_iter=10, random_state=0).fit(X32, y)
    assert all(W.dtype == np.float32 for W in ours.coefs_ + ours.intercepts_)
    assert ours.predict_proba(X32).dtype == np.float32
    if solver == "adam":  # scikit-learn's lbfgs turns the parameters into float64
        assert theirs.predict_proba(X32).dtype == np.float32
        np.testing.assert_allclose(ours.predict_proba(X32), theirs.predict_proba(X32),
                                   rtol=1e-3, atol=1e-4)


# --- attributes, warm start, partial_fit -------------------------------------------------


def test_fitted_attributes_are_scikit_learns(iris):
    X, y = iris
    ours, theirs = fit_both("classifier", X, y, hidden_layer_sizes=(5, 4), max_iter=5,
                            random_state=0)
    for name in ("n_iter_", "t_", "n_layers_", "n_outputs_", "out_activation_",
                 "n_features_in_", "best_validation_score_", "validation_scores_"):
        assert getattr(ours, name) == getattr(theirs, name), name
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)


def test_feature_names_are_kept(iris):
    import pandas
    X, y = iris
    frame = pandas.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = MLPClassifier((3,), max_iter=2).fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, ["a", "b", "c", "d"])


def test_assigned_coefs_are_validated_and_used_by_predict(iris):
    X, y = iris
    ours, theirs = fit_both("classifier", X, y, hidden_layer_sizes=(5,), max_iter=3,
                            random_state=0)
    other = SklearnClassifier((5,), max_iter=8, random_state=4).fit(X, y)
    ours.coefs_ = [W.copy() for W in other.coefs_]
    ours.intercepts_ = [b.copy() for b in other.intercepts_]
    np.testing.assert_allclose(ours.predict_proba(X), other.predict_proba(X), rtol=1e-12)
    ours.coefs_[0][:] = 0.0  # writing into them takes effect too
    assert not np.allclose(ours.predict_proba(X), other.predict_proba(X))
    with pytest.raises(ValueError, match=r"coefs_\[1\] must have shape \(5, 3\)"):
        ours.coefs_ = [np.zeros((4, 5)), np.zeros((5, 2))]
    with pytest.raises(ValueError, match="intercepts_ must hold 2 arrays"):
        ours.intercepts_ = [np.zeros(5)]
    with pytest.raises(ValueError, match="NaN"):
        ours.coefs_ = [np.full((4, 5), np.nan), np.zeros((5, 3))]


def test_warm_start_refuses_new_classes_with_scikit_learns_error(iris):
    X, y = iris
    clf = MLPClassifier((3,), max_iter=2, warm_start=True, random_state=0).fit(X[y < 2],
                                                                              y[y < 2])
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the "
                                         "same classes as in the previous call to fit"):
        clf.fit(X, y)


def test_partial_fit_matches_scikit_learn_call_for_call(iris):
    X, y = iris
    models = [make((5,), solver="sgd", learning_rate="invscaling", learning_rate_init=0.5,
                   random_state=0) for make in (MLPClassifier, SklearnClassifier)]
    for model in models:
        model.partial_fit(X[:40], y[:40], classes=[0, 1, 2])
        for _ in range(4):
            model.partial_fit(X, y)
    assert_same_model(*models)
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        models[0].partial_fit(X, np.where(y == 2, 7, y))


def test_partial_fit_is_for_stochastic_solvers(iris):
    X, y = iris
    clf = MLPClassifier(solver="lbfgs")
    assert not hasattr(clf, "partial_fit")  # as scikit-learn's classifier
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'"):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    # scikit-learn's regressor offers it whatever the solver (lbfgs runs from the weights).
    ours, theirs = (make(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=5, random_state=0)
                    for make in (MLPRegressor, SklearnRegressor))
    for model in (ours, theirs):
        model.partial_fit(X, y).partial_fit(X, y)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-8)


def test_binary_probabilities_have_two_columns(iris):
    X, y = iris
    clf = MLPClassifier((3,), max_iter=5, random_state=0).fit(X, y == 1)
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))


# --- a failed fit changes nothing --------------------------------------------------------


def _state(estimator):
    return pickle.dumps(estimator.__dict__)


@pytest.mark.parametrize("failure", ["nan X", "new class", "diverges", "features"])
def test_a_failed_fit_or_partial_fit_leaves_a_fitted_estimator_as_it_was(failure, iris):
    X, y = iris
    clf = MLPClassifier((4,), solver="sgd", max_iter=3, warm_start=True,
                        random_state=0).fit(X, y)
    clf.partial_fit(X, y)
    before = _state(clf)
    bad_X = X.copy()
    with np.errstate(all="ignore"), pytest.raises(ValueError):
        if failure == "nan X":
            bad_X[0, 0] = np.nan
            clf.fit(bad_X, y)
        elif failure == "new class":
            clf.partial_fit(X, np.where(y == 2, 9, y))
        elif failure == "diverges":
            clf.set_params(learning_rate_init=1e6)
            clf.fit(X * 1e150, y)
        else:
            clf.partial_fit(X[:, :3], y)
    clf.set_params(learning_rate_init=0.001)
    assert _state(clf) == before


def test_clone_keeps_parameters_and_drops_the_fit(iris):
    X, y = iris
    clf = MLPClassifier((3,), max_iter=2, backend="numpy").fit(X, y)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert not hasattr(copy, "coefs_")


def test_the_pure_python_reference_fits_the_same_model(iris):
    X, y = iris
    settings = {"hidden_layer_sizes": (3,), "max_iter": 2, "batch_size": 50, "random_state": 0}
    reference = MLPClassifier(backend="python", **settings).fit(X, y)
    theirs = SklearnClassifier(**settings).fit(X, y)
    assert_same_model(reference, theirs)
