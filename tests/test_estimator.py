"""fastnn.estimator in the scikit-learn ecosystem: pipelines, searches, pickling, partial_fit."""

import pickle
import warnings

import numpy as np
import pytest
from conftest import BACKENDS
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import fastnn
from fastnn import MLP
from fastnn.estimator import MLPClassifier, MLPRegressor, _glorot_uniform

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture
def regression(rng):
    X = rng.standard_normal((60, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.standard_normal(60)


def test_works_in_a_pipeline_with_cross_validation(iris):
    X, y = load_iris(return_X_y=True)
    settings = {"max_iter": 100, "batch_size": 16, "random_state": 0}
    scores = cross_val_score(make_pipeline(StandardScaler(), MLPClassifier((16,), **settings)),
                             X, y, cv=3)
    theirs = cross_val_score(make_pipeline(StandardScaler(),
                                           SklearnMLPClassifier((16,), **settings)), X, y, cv=3)
    # The same random_state draws the same weights and batches as scikit-learn's.
    np.testing.assert_allclose(scores, theirs)
    assert scores.mean() > 0.8


def test_works_in_a_grid_search(iris):
    X, y = iris
    search = GridSearchCV(MLPClassifier(max_iter=30, random_state=0),
                          {"hidden_layer_sizes": [(4,), (16,)], "solver": ["sgd", "adam"]},
                          cv=2)
    search.fit(X, y)
    assert search.best_params_["hidden_layer_sizes"] in [(4,), (16,)]
    assert search.best_estimator_.n_iter_ == 30


def test_fitted_attributes_follow_scikit_learn(iris):
    X, y = iris
    clf = MLPClassifier((7, 5), max_iter=20, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert [W.shape for W in clf.coefs_] == [(4, 7), (7, 5), (5, 3)]
    assert [b.shape for b in clf.intercepts_] == [(7,), (5,), (3,)]
    assert clf.n_iter_ == 20 and len(clf.loss_curve_) == 20
    assert clf.loss_ == clf.loss_curve_[-1]
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 3 and clf.out_activation_ == "softmax"
    assert clf.n_features_in_ == 4
    assert clf.t_ == 20 * 150
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))


def test_binary_labels_use_one_logistic_output(iris):
    X, y = iris
    labels = np.where(y == 0, "setosa", "other")
    clf = MLPClassifier((4,), max_iter=100, learning_rate_init=0.01, random_state=0)
    clf.fit(X, labels)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1
    assert clf.predict_proba(X).shape == (150, 2)
    assert clf.score(X, labels) > 0.95


def test_auto_backend_is_the_fastest_for_training(iris):
    X, y = iris
    clf = MLPClassifier((8,), max_iter=2, batch_size=32, random_state=0).fit(X, y)
    assert clf.backend_ == fastnn.fastest_backend([4, 8, 3], batch_size=32, op="train_step")
    assert clf.network_.backend == clf.backend_


def test_backend_names_the_tier_that_finished_a_fit_on_auto(iris, monkeypatch, tmp_path):
    """A tiered "auto" backend that moves on between two epochs: ``backend_`` names the
    backend that trained the last epoch, and prediction computes on it."""
    from fastnn import backends, train
    from fastnn.backends import tiered

    monkeypatch.setenv("FASTNN_CACHE_DIR", str(tmp_path))
    resolve, fit_epoch = backends.resolve_backend, train.fit_epoch
    made, served = [], []

    def resolve_auto_as_tiered(name, spec, *args, **kwargs):
        if name != "auto":
            return resolve(name, spec, *args, **kwargs)
        backend = tiered.TieredBackend("python", spec, start=False)
        backend._pending = False  # no background compile: the test moves it on
        made.append(backend)
        return backend

    def epoch(backend, *args, **kwargs):
        served.append(backend.name)
        if len(served) == 2:
            made[-1]._switch()  # what a finished background compile does at a boundary
        return fit_epoch(backend, *args, **kwargs)

    monkeypatch.setattr(backends, "resolve_backend", resolve_auto_as_tiered)
    monkeypatch.setattr(train, "fit_epoch", epoch)
    X, y = iris
    clf = MLPClassifier((5,), max_iter=3, batch_size=50, random_state=0).fit(X, y)
    assert served == ["numpy", "numpy", "python"]
    assert clf.backend_ == "python"
    assert clf.network_.backend == "python"
    reference = MLPClassifier((5,), max_iter=3, batch_size=50, random_state=0,
                              backend="numpy").fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), reference.predict_proba(X), rtol=1e-10)


def test_auto_is_resolved_as_the_model_resolves_it(iris):
    """One resolution for both front doors: "auto" in any case, names and aliases."""
    X, y = iris
    for backend in ("AUTO", "Auto", "np"):
        clf = MLPClassifier((4,), max_iter=1, random_state=0, backend=backend).fit(X, y)
        assert clf.backend_ == MLP([4, 4, 3], backend=backend).backend or backend != "np"
        assert clf.backend_ in fastnn.available_backends()


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_gives_the_same_model(backend, iris):
    X, y = iris
    settings = {"hidden_layer_sizes": (5,), "max_iter": 3, "batch_size": 40, "alpha": 0.01,
                "random_state": 0}
    reference = MLPClassifier(backend="numpy", **settings).fit(X, y)
    other = MLPClassifier(backend=backend, **settings).fit(X, y)
    assert other.backend_ == fastnn.backends.canonical_name(backend)
    for ours, expected in zip(other.coefs_, reference.coefs_):
        np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("solver,optimizer", [
    ({"solver": "sgd", "momentum": 0.0}, {"optimizer": "sgd"}),
    ({"solver": "sgd", "momentum": 0.5, "nesterovs_momentum": False},
     {"optimizer": "momentum", "momentum": 0.5}),
    ({"solver": "sgd", "momentum": 0.5}, {"optimizer": "momentum", "momentum": 0.5,
                                          "nesterov": True}),
    ({"solver": "adam", "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6},
     {"optimizer": "adam", "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6}),
], ids=["sgd", "momentum", "nesterov", "adam"])
def test_solver_parameters_map_to_fastnn_optimisers(solver, optimizer, regression):
    X, y = regression
    reg = MLPRegressor(hidden_layer_sizes=(4,), shuffle=False, batch_size=16,
                       learning_rate_init=0.01, alpha=0.1, max_iter=3, random_state=0,
                       backend="numpy", **solver)
    reg.fit(X, y)
    spec = reg.network_.spec
    coefs, intercepts = _glorot_uniform([3, 4, 1], "relu", np.random.RandomState(0), "float64")
    start = fastnn.params.flatten(coefs, intercepts)
    net = MLP.from_spec(spec, start, backend="numpy")
    net.fit(X, y, learning_rate=0.01, epochs=3, batch_size=16, alpha=0.1, shuffle=False,
            **optimizer)
    np.testing.assert_array_equal(reg.network_.flat_parameters, net.flat_parameters)
    np.testing.assert_array_equal(reg.loss_curve_, net.history_["loss"])


def test_stops_when_the_training_loss_stalls(regression):
    X, y = regression
    reg = MLPRegressor(hidden_layer_sizes=(4,), solver="sgd", learning_rate_init=1e-7, tol=1e-3,
                       n_iter_no_change=3, max_iter=100, random_state=0).fit(X, y)
    # As scikit-learn: stop once more than n_iter_no_change epochs in a row gain < tol.
    assert reg.n_iter_ == 1 + 3 + 1


def test_early_stopping_keeps_the_best_validation_score(iris):
    X, y = iris
    clf = MLPClassifier((8,), early_stopping=True, validation_fraction=0.2,
                        n_iter_no_change=3, max_iter=300, random_state=0).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_ < 300
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None


def test_max_iter_without_convergence_warns(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        MLPClassifier((4,), max_iter=3, random_state=0).fit(X, y)


def test_partial_fit_continues_training(iris):
    X, y = iris
    clf = MLPClassifier((8,), learning_rate_init=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:50], y[:50], classes=[0, 1, 2])
    for _ in range(30):
        clf.partial_fit(X, y)
    assert len(clf.loss_curve_) == 31
    assert clf.loss_curve_[-1] < clf.loss_curve_[1]
    assert clf.score(X, y) > 0.8
    with pytest.raises(ValueError, match="is not the same as on last call to partial_fit"):
        clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


def test_warm_start_continues_from_the_fitted_weights(regression):
    X, y = regression
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, warm_start=True,
                       random_state=0).fit(X, y)
    first = reg.coefs_[0].copy()
    reg.fit(X, y)
    assert len(reg.loss_curve_) == 10
    cold = MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(cold.coefs_[0], first)
    assert not np.array_equal(reg.coefs_[0], first)


@pytest.mark.parametrize("make", [
    lambda: MLPClassifier((6,), max_iter=5, random_state=0),
    lambda: MLPRegressor(hidden_layer_sizes=(6,), max_iter=5, random_state=0),
], ids=["classifier", "regressor"])
def test_pickles_and_predicts_the_same(make, iris):
    X, y = iris
    model = make().fit(X, y)
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.predict(X), model.predict(X))
    assert copy.get_params() == model.get_params()


@pytest.mark.parametrize("estimator_class", [MLPClassifier, MLPRegressor])
def test_pickles_name_the_public_module(estimator_class, iris):
    # Pickles made before fastnn.estimator became a package name the class as
    # fastnn.estimator.<name>; new pickles must too, whichever private module defines it.
    X, y = iris
    model = estimator_class(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y)
    assert type(model).__module__ == "fastnn.estimator"
    data = pickle.dumps(model)
    assert b"fastnn.estimator._" not in data
    assert type(pickle.loads(data)) is estimator_class


def test_multi_output_regression(regression):
    X, y = regression
    Y = np.column_stack([y, -y])
    reg = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01,
                       random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (60, 2)
    assert reg.score(X, Y) > 0.8


@pytest.mark.parametrize("params,name", [
    ({"solver": "newton"}, "solver"),
    ({"activation": "softmax"}, "activation"),
    ({"hidden_layer_sizes": 0}, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": "10"}, "hidden_layer_sizes"),
    ({"max_iter": 0}, "max_iter"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": "big"}, "batch_size"),
    ({"learning_rate_init": -1.0}, "learning_rate_init"),
    ({"learning_rate": "cyclic"}, "learning_rate"),
    ({"power_t": -0.5}, "power_t"),
    ({"max_fun": 0}, "max_fun"),
    ({"momentum": 1.5, "solver": "sgd"}, "momentum"),
    ({"beta_1": 1.0}, "beta_1"),
    ({"alpha": -0.1}, "alpha"),
    ({"n_iter_no_change": 0}, "n_iter_no_change"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"shuffle": "yes"}, "shuffle"),
    ({"backend": "nmba"}, "backend"),
    ({"backend": 3}, "backend"),
    ({"random_state": "seed"}, "random_state"),
])
def test_bad_parameters_raise_scikit_learns_error_naming_them(params, name, iris):
    X, y = iris
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of MLPClassifier"):
        MLPClassifier(**{"max_iter": 2, **params}).fit(X, y)


def test_hidden_layer_sizes_of_zero_in_a_list_are_refused_as_scikit_learn_does(iris):
    X, y = iris
    with pytest.raises(ValueError, match=r"hidden_layer_sizes must be > 0, got \[4, 0\]"):
        MLPClassifier((4, 0)).fit(X, y)


def test_one_class_fits_and_predicts_it_as_scikit_learn_does(iris):
    X, _ = iris
    clf = MLPClassifier((3,), max_iter=5, random_state=0).fit(X, np.zeros(150))
    np.testing.assert_array_equal(clf.predict(X), np.zeros(150))
    assert clf.predict_proba(X).shape == (150, 2)


def test_warm_start_refuses_data_of_another_width(regression):
    X, y = regression
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, warm_start=True,
                       random_state=0).fit(X, y)
    before = reg.coefs_[0].copy()
    with pytest.raises(ValueError, match="X has 2 features"):
        reg.fit(X[:, :2], y)
    np.testing.assert_array_equal(reg.coefs_[0], before)
    assert reg.n_features_in_ == 3


def test_warm_start_can_switch_early_stopping_on(iris):
    X, y = iris
    clf = MLPClassifier((4,), max_iter=3, warm_start=True, random_state=0).fit(X, y)
    clf.set_params(early_stopping=True).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_


def test_labels_unseen_in_fit_are_refused_by_warm_start(iris):
    X, y = iris
    clf = MLPClassifier((4,), max_iter=2, warm_start=True, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same "
                                         "classes"):
        clf.fit(X, np.where(y == 2, 5, y))


def test_divergence_is_a_clear_error():
    X = np.array([[1e150], [-1e150], [2e150]])
    reg = MLPRegressor(hidden_layer_sizes=(3,), solver="sgd", learning_rate_init=1.0,
                       max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # scikit-learn's error and words.
        with pytest.raises(ValueError, match="Solver produced non-finite parameter weights. "
                                             "The input data may contain large values and "
                                             "need to be preprocessed."):
            reg.fit(X, np.array([1e150, 0.0, 1.0]))
