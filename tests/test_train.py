"""fastnn.train and MLP.fit: optimisers, batches, penalty, backends agreeing, sklearn parity."""

import warnings

import numpy as np
import pytest
from conftest import BACKENDS, FLOAT32_BACKENDS
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

from fastnn import MLP, train
from fastnn.hyperparameters import TrainingOptions
from fastnn.optimizers import make_optimizer
from fastnn.testing import TOLERANCE, relative_difference

OPTIMIZER_SETTINGS = {
    "sgd": {"optimizer": "sgd"},
    "momentum": {"optimizer": "momentum", "momentum": 0.8},
    "nesterov": {"optimizer": "momentum", "momentum": 0.8, "nesterov": True},
    "adam": {"optimizer": "adam", "beta_1": 0.85, "beta_2": 0.99},
}


@pytest.fixture
def labelled(rng):
    """23 samples (so batches of 5 leave a last batch of 3), 4 features, 3 classes."""
    return rng.standard_normal((23, 4)), rng.integers(0, 3, 23)


def _fitted(backend, X, y, dtype="float64", batch_size=5, **settings):
    net = MLP([4, 5, 3], activation="tanh", loss="cross_entropy", backend=backend,
              dtype=dtype, seed=1)
    return net.fit(X, y, learning_rate=0.05, epochs=4, batch_size=batch_size, alpha=0.01,
                   seed=3, **settings)


# --- every backend runs the same algorithm -----------------------------------------------

@pytest.mark.parametrize("backend", [name for name in BACKENDS if name != "numpy"])
@pytest.mark.parametrize("batch_size", [1, 5, None], ids=["per-sample", "mini-batch", "full"])
@pytest.mark.parametrize("setting", list(OPTIMIZER_SETTINGS))
def test_every_backend_trains_to_the_numpy_parameters(backend, setting, batch_size, labelled):
    X, y = labelled
    reference = _fitted("numpy", X, y, batch_size=batch_size, **OPTIMIZER_SETTINGS[setting])
    other = _fitted(backend, X, y, batch_size=batch_size, **OPTIMIZER_SETTINGS[setting])
    assert relative_difference(other.flat_parameters, reference.flat_parameters) \
        <= TOLERANCE["float64"]
    assert relative_difference(other.history_["loss"], reference.history_["loss"]) \
        <= TOLERANCE["float64"]


@pytest.mark.parametrize("backend", [name for name in FLOAT32_BACKENDS if name != "numpy"])
def test_float32_training_agrees_with_numpy(backend, labelled):
    X, y = labelled
    reference = _fitted("numpy", X, y, dtype="float32", **OPTIMIZER_SETTINGS["adam"])
    other = _fitted(backend, X, y, dtype="float32", **OPTIMIZER_SETTINGS["adam"])
    assert other.flat_parameters.dtype == np.float32
    assert relative_difference(other.flat_parameters, reference.flat_parameters) \
        <= TOLERANCE["float32"]


# --- optimisers: the same updates as scikit-learn's ------------------------------------

@pytest.mark.parametrize("setting", list(OPTIMIZER_SETTINGS))
def test_optimisers_make_scikit_learns_updates(setting, rng):
    params = rng.standard_normal(6)
    options = TrainingOptions(learning_rate=0.1, **OPTIMIZER_SETTINGS[setting])
    ours = make_optimizer(options, 6, params.dtype)
    if options.optimizer == "adam":
        theirs = AdamOptimizer([params.copy()], 0.1, beta_1=0.85, beta_2=0.99)
    else:
        theirs = SGDOptimizer([params.copy()], 0.1, momentum=options.momentum
                              if options.optimizer == "momentum" else 0.0,
                              nesterov=options.nesterov)
    mine, reference = params.copy(), [params.copy()]
    for _ in range(5):
        grad = rng.standard_normal(6)
        ours.step(mine, grad)
        theirs.update_params(reference, [grad])
    np.testing.assert_allclose(mine, reference[0], rtol=1e-12)


@pytest.mark.parametrize("solver", [
    {"solver": "sgd", "momentum": 0.0},
    {"solver": "sgd", "momentum": 0.9, "nesterovs_momentum": False},
    {"solver": "sgd", "momentum": 0.9, "nesterovs_momentum": True},
    {"solver": "adam"},
], ids=["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_fit_matches_scikit_learns_mlp_classifier_epoch_for_epoch(solver, n_classes, rng,
                                                                   monkeypatch):
    """Same initial weights, no shuffling: the same loss curve and the same weights."""
    X = rng.standard_normal((30, 4))
    y = rng.integers(0, n_classes, 30)
    n_out = 1 if n_classes == 2 else n_classes
    net = MLP([4, 6, n_out], activation="relu",
              loss="binary_cross_entropy" if n_out == 1 else "cross_entropy",
              output_activation="sigmoid" if n_out == 1 else "softmax", backend="numpy",
              seed=0)
    initial = iter(zip(net.weights, net.biases))
    monkeypatch.setattr(SklearnMLPClassifier, "_init_coef",
                        lambda self, fan_in, fan_out, dtype: tuple(a.copy() for a in next(initial)))
    theirs = SklearnMLPClassifier((6,), activation="relu", alpha=0.01, batch_size=7,
                                  learning_rate_init=0.05, max_iter=3, shuffle=False, tol=0,
                                  n_iter_no_change=100, **solver)
    with pytest.warns(Warning):  # ConvergenceWarning: it ran all 3 epochs
        theirs.fit(X, y)
    optimizer = {"sgd": "momentum" if solver.get("momentum") else "sgd", "adam": "adam"}
    net.fit(X, y, optimizer=optimizer[solver["solver"]], learning_rate=0.05, epochs=3,
            batch_size=7, alpha=0.01, momentum=solver.get("momentum", 0.9),
            nesterov=solver.get("nesterovs_momentum", False), shuffle=False)
    np.testing.assert_allclose(net.history_["loss"], theirs.loss_curve_, rtol=1e-10)
    for ours, reference in zip(net.weights + net.biases, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(ours, reference, rtol=1e-9, atol=1e-12)


# --- batches ------------------------------------------------------------------------------

def test_one_full_batch_sgd_epoch_is_one_train_step(rng):
    X, T = rng.standard_normal((9, 3)), rng.random((9, 2))
    net = MLP([3, 4, 2], backend="numpy", seed=0)
    stepped = net.copy()
    stepped.train_step(X, T, 0.3)
    net.fit(X, T, optimizer="sgd", learning_rate=0.3, epochs=1, batch_size=None)
    np.testing.assert_allclose(net.flat_parameters, stepped.flat_parameters, rtol=1e-14)


def test_batch_size_one_steps_once_per_sample_in_order(rng):
    X, T = rng.standard_normal((5, 3)), rng.random((5, 2))
    net = MLP([3, 4, 2], backend="numpy", seed=0)
    stepped = net.copy()
    for row in range(5):
        stepped.train_step(X[row:row + 1], T[row:row + 1], 0.2)
    net.fit(X, T, optimizer="sgd", learning_rate=0.2, epochs=1, batch_size=1, shuffle=False)
    np.testing.assert_allclose(net.flat_parameters, stepped.flat_parameters, rtol=1e-14)


def test_batch_bounds_cover_every_sample_once():
    assert train.batch_bounds(7, 3) == [(0, 3), (3, 6), (6, 7)]
    assert train.batch_bounds(7, None) == [(0, 7)]
    assert train.batch_bounds(2, 10) == [(0, 2)]


def test_l2_penalty_adds_alpha_w_over_m_to_weights_only(rng):
    X, T = rng.standard_normal((6, 3)), rng.random((6, 2))
    net = MLP([3, 4, 2], backend="numpy", seed=0)
    loss, dweights, dbiases = net.gradients(X, T)
    alpha, rate = 0.5, 0.1
    expected_w = [W - rate * (dW + alpha * W / 6) for W, dW in zip(net.weights, dweights)]
    expected_b = [b - rate * db for b, db in zip(net.biases, dbiases)]
    penalty = alpha * sum(np.sum(W * W) for W in net.weights) / (2 * 6)
    net.fit(X, T, optimizer="sgd", learning_rate=rate, epochs=1, alpha=alpha)
    assert net.history_["loss"][0] == pytest.approx(loss + penalty, rel=1e-12)
    for ours, expected in zip(net.weights + net.biases, expected_w + expected_b):
        np.testing.assert_allclose(ours, expected, rtol=1e-12)


# --- shuffling, validation, early stopping, history --------------------------------------

def test_shuffling_is_reproducible_from_the_seed(labelled):
    X, y = labelled
    a = MLP([4, 5, 3], loss="cross_entropy", backend="numpy", seed=1).fit(
        X, y, epochs=3, batch_size=4, seed=7)
    b = MLP([4, 5, 3], loss="cross_entropy", backend="numpy", seed=1).fit(
        X, y, epochs=3, batch_size=4, seed=7)
    c = MLP([4, 5, 3], loss="cross_entropy", backend="numpy", seed=1).fit(
        X, y, epochs=3, batch_size=4, seed=8)
    np.testing.assert_array_equal(a.flat_parameters, b.flat_parameters)
    assert not np.array_equal(a.flat_parameters, c.flat_parameters)


def test_without_shuffling_the_seed_does_not_matter(labelled):
    X, y = labelled
    a, b = (MLP([4, 5, 3], loss="cross_entropy", backend="numpy", seed=1).fit(
        X, y, epochs=2, batch_size=4, shuffle=False, seed=s) for s in (1, 2))
    np.testing.assert_array_equal(a.flat_parameters, b.flat_parameters)


def test_history_has_training_and_validation_figures(labelled):
    X, y = labelled
    net = MLP([4, 5, 3], loss="cross_entropy", backend="numpy", seed=1)
    net.fit(X, y, epochs=6, batch_size=8, validation_fraction=0.3, seed=0)
    assert set(net.history_) == {"loss", "val_loss", "val_accuracy"}
    assert all(len(values) == 6 for values in net.history_.values())
    assert all(0 <= value <= 1 for value in net.history_["val_accuracy"])
    net.fit(X, y, epochs=2)
    assert set(net.history_) == {"loss"}


def test_a_regression_network_records_no_accuracy(rng):
    X, T = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    net = MLP([3, 4, 2], output_activation="identity", backend="numpy", seed=0)
    net.fit(X, T, epochs=2, validation_fraction=0.25)
    assert set(net.history_) == {"loss", "val_loss"}


def test_early_stopping_stops_and_keeps_the_best_epoch(labelled):
    X, y = labelled
    net = MLP([4, 16, 3], loss="cross_entropy", backend="numpy", seed=1)
    # A large step size makes the validation loss wander, so patience runs out.
    net.fit(X, y, optimizer="sgd", learning_rate=3.0, epochs=500, batch_size=2,
            validation_fraction=0.3, patience=3, seed=0)
    history = net.history_["val_loss"]
    assert len(history) < 500
    best = int(np.argmin(history))
    assert len(history) == best + 1 + 3
    _, val_index = train.validation_split(23, 0.3, np.random.default_rng(0))
    T = np.eye(3)[y]
    assert net.loss(X[val_index], T[val_index]) == pytest.approx(history[best], rel=1e-12)


def test_patience_without_validation_watches_the_training_loss(rng):
    X, T = rng.standard_normal((10, 3)), rng.random((10, 2))
    net = MLP([3, 2], backend="numpy", seed=0)
    net.fit(X, T, optimizer="sgd", learning_rate=1e-9, epochs=100, patience=4, tol=1e-3)
    # Epoch 1 improves on nothing-yet; epochs 2-5 gain less than tol each: stop.
    assert len(net.history_["loss"]) == 1 + 4


def test_progress_bar_reports_epochs(labelled, capsys):
    X, y = labelled
    MLP([4, 5, 3], loss="cross_entropy", backend="numpy", seed=1).fit(
        X, y, epochs=3, progress=True)
    assert "3/3" in capsys.readouterr().err


# --- labels and predictions ---------------------------------------------------------------

def test_string_labels_are_one_hot_encoded_and_predicted_back(rng):
    X = rng.standard_normal((30, 2))
    y = np.where(X[:, 0] > 0, "right", np.where(X[:, 1] > 0, "up", "down"))
    net = MLP([2, 8, 3], activation="tanh", loss="cross_entropy", backend="numpy", seed=0)
    net.fit(X, y, learning_rate=0.05, epochs=200, batch_size=10, seed=0)
    assert list(net.classes_) == ["down", "right", "up"]
    assert np.mean(net.predict(X) == y) > 0.9
    assert net.predict(X[0]) in net.classes_
    proba = net.predict_proba(X)
    assert proba.shape == (30, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_one_sigmoid_output_predicts_two_classes(rng):
    X = rng.standard_normal((40, 2))
    y = np.where(X[:, 0] + X[:, 1] > 0, 7, 3)
    net = MLP([2, 1], loss="binary_cross_entropy", backend="numpy", seed=0)
    net.fit(X, y, learning_rate=0.1, epochs=100, batch_size=8, seed=0)
    assert list(net.classes_) == [3, 7]
    assert np.mean(net.predict(X) == y) > 0.9
    proba = net.predict_proba(X)
    assert proba.shape == (40, 2)
    np.testing.assert_allclose(proba[:, 1], net.forward(X)[:, 0])


def test_integer_labels_index_the_outputs_directly(rng):
    X = rng.standard_normal((6, 2))
    net = MLP([2, 4], loss="cross_entropy", backend="numpy", seed=0)
    net.fit(X, [0, 2, 2, 0, 2, 0], epochs=1)  # class 1 and 3 absent: still 4 outputs
    np.testing.assert_array_equal(net.classes_, [0, 1, 2, 3])


def test_one_dimensional_numbers_for_one_mse_output_are_regression_targets(rng):
    X, t = rng.standard_normal((8, 2)), rng.random(8)
    net = MLP([2, 1], loss="mse", backend="numpy", seed=0)
    net.fit(X, t, epochs=2)
    assert net.classes_ is None
    assert net.predict(X).shape == (8, 1)


def test_a_target_matrix_softmax_network_predicts_indices(rng):
    X = rng.standard_normal((8, 2))
    net = MLP([2, 3], loss="cross_entropy", backend="numpy", seed=0)
    net.fit(X, np.eye(3)[[0, 1, 2, 0, 1, 2, 0, 1]], epochs=1)
    assert net.classes_ is None
    assert set(net.predict(X)) <= {0, 1, 2}


def test_predict_proba_needs_probability_outputs():
    net = MLP([2, 3], output_activation="identity", backend="numpy")
    with pytest.raises(ValueError, match="softmax or sigmoid"):
        net.predict_proba(np.ones((1, 2)))


def test_copies_keep_the_class_labels(rng):
    X = rng.standard_normal((6, 2))
    net = MLP([2, 2], loss="binary_cross_entropy", backend="numpy", seed=0)
    net.fit(X, ["a", "b", "a", "b", "a", "b"], epochs=1)
    for backend in (name for name in BACKENDS if name != net.backend):
        np.testing.assert_array_equal(net.with_backend(backend).predict(X), net.predict(X))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_fitted_network_pickles_with_its_labels(backend, rng):
    import pickle

    X = rng.standard_normal((6, 2))
    net = MLP([2, 3], loss="cross_entropy", backend=backend, seed=0)
    net.fit(X, ["a", "b", "c", "a", "b", "c"], epochs=2)
    copy = pickle.loads(pickle.dumps(net))
    assert copy.backend == backend
    np.testing.assert_array_equal(copy.predict(X), net.predict(X))
    np.testing.assert_array_equal(copy.flat_parameters, net.flat_parameters)


# --- bad input: a clear error and the network unchanged -----------------------------------

BAD_FITS = {
    "optimizer": ({"optimizer": "rmsprop"}, ValueError, "unknown optimizer 'rmsprop'"),
    "epochs zero": ({"epochs": 0}, ValueError, "epochs must be a positive integer"),
    "epochs float": ({"epochs": 2.5}, TypeError, "epochs must be a positive integer"),
    "batch zero": ({"batch_size": 0}, ValueError, "batch_size must be a positive integer"),
    "lr zero": ({"learning_rate": 0}, ValueError, "learning_rate must be positive"),
    "lr nan": ({"learning_rate": float("nan")}, ValueError, "learning_rate must be finite"),
    "lr string": ({"learning_rate": "0.1"}, TypeError, "learning_rate must be a real"),
    "alpha negative": ({"alpha": -1.0}, ValueError, "alpha must be in"),
    # [0, 1] as scikit-learn's momentum (1 included).
    "momentum above one": ({"momentum": 1.01}, ValueError, "momentum must be in"),
    "beta_2": ({"beta_2": 1.5}, ValueError, "beta_2 must be in"),
    "epsilon": ({"epsilon": 0.0}, ValueError, "epsilon must be positive"),
    "nesterov": ({"nesterov": "yes"}, TypeError, "nesterov must be True or False"),
    "validation 1": ({"validation_fraction": 1.0}, ValueError, "validation_fraction"),
    "validation all": ({"validation_fraction": 0.99}, ValueError, "validation_fraction"),
    "patience": ({"patience": 0}, ValueError, "patience must be a positive integer"),
    "tol": ({"tol": -0.1}, ValueError, "tol must be in"),
}


@pytest.mark.parametrize("case", list(BAD_FITS), ids=list(BAD_FITS))
def test_bad_fit_arguments_name_the_problem_and_change_nothing(case, labelled):
    kwargs, error, message = BAD_FITS[case]
    X, y = labelled
    if case == "validation all":
        X, y = X[:5], y[:5]
    net = MLP([4, 5, 3], loss="cross_entropy", backend="numpy", seed=0)
    before = net.flat_parameters.copy()
    with pytest.raises(error, match=message):
        net.fit(X, y, epochs=kwargs.pop("epochs", 2), **kwargs)
    np.testing.assert_array_equal(net.flat_parameters, before)
    assert net.history_ is None and net.classes_ is None


BAD_DATA = {
    "y rows": (lambda X, y: (X, y[:-1]), ValueError, "y must have shape"),
    "y columns": (lambda X, y: (X, np.ones((len(y), 2))), ValueError, "2 target columns"),
    "y 3-D": (lambda X, y: (X, np.ones((len(y), 3, 1))), ValueError, "y must have shape"),
    "y NaN": (lambda X, y: (X, np.where(y == 0, np.nan, y)), ValueError, "NaN"),
    "y too many classes": (lambda X, y: (X, y + 10 * (np.arange(len(y)) % 2)), ValueError,
                           "distinct class labels"),
    "y complex": (lambda X, y: (X, y + 1j), TypeError, "complex"),
    "X NaN": (lambda X, y: (X * np.nan, y), ValueError, "NaN"),
    "X width": (lambda X, y: (X[:, :2], y), ValueError, "features"),
    "X empty": (lambda X, y: (X[:0], y[:0]), ValueError, "no samples"),
}


@pytest.mark.parametrize("case", list(BAD_DATA), ids=list(BAD_DATA))
def test_bad_training_data_names_the_problem_and_changes_nothing(case, labelled):
    make, error, message = BAD_DATA[case]
    X, y = make(*labelled)
    net = MLP([4, 5, 3], loss="cross_entropy", backend="numpy", seed=0)
    before = net.flat_parameters.copy()
    with pytest.raises(error, match=message):
        net.fit(X, y, epochs=1)
    np.testing.assert_array_equal(net.flat_parameters, before)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_diverging_run_is_refused_and_changes_nothing(backend):
    net = MLP([1, 1], output_activation="identity", backend=backend, seed=0)
    before = net.flat_parameters.copy()
    X = np.array([[1e3], [-2e3]])
    with pytest.raises(ValueError, match="diverged"):
        net.fit(X, np.array([[1e3], [5.0]]), optimizer="sgd", learning_rate=10.0, epochs=50)
    np.testing.assert_array_equal(net.flat_parameters, before)


def test_an_interrupted_fit_changes_nothing(labelled, monkeypatch):
    X, y = labelled
    net = MLP([4, 5, 3], loss="cross_entropy", backend="numpy", seed=0)
    before = net.flat_parameters.copy()
    calls = []
    real = train.fit_epoch

    def interrupt_in_epoch_two(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train, "fit_epoch", interrupt_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, y, epochs=5)
    np.testing.assert_array_equal(net.flat_parameters, before)


@pytest.mark.skipif("numba" not in BACKENDS, reason="the numba backend is not available here")
def test_the_epoch_kernel_keeps_one_signature_per_dtype(labelled):
    from fastnn.backends._numba_train_kernels import epoch_kernel

    X, y = labelled
    frozen = X.copy()
    frozen.flags.writeable = False
    for dtype in ("float64", "float32"):
        for optimizer in ("sgd", "adam"):
            MLP([4, 5, 3], loss="cross_entropy", backend="numba", dtype=dtype, seed=0).fit(
                frozen, y.tolist(), optimizer=optimizer, learning_rate=1, alpha=0, epochs=1)
    assert len(epoch_kernel.signatures) <= 2


# --- backends that run whole epochs -------------------------------------------------------

def test_a_backend_that_runs_epochs_gets_the_whole_epoch(labelled):
    """fit_epoch reads the capability, never the backend's name or private modules."""
    from fastnn import backends

    numpy_backend = backends.get("numpy")

    class EpochBackend(type(numpy_backend)):
        name = "epochs"
        runs_epochs = True
        calls = []

        def train_epoch(self, spec, params, X, T, order, options, optimizer):
            self.calls.append((X.shape[0], list(order), options.batch_size, optimizer.name))
            return 0.5

        def gradients(self, spec, params, X, T):
            raise AssertionError("a backend that runs epochs is not called per batch")

    X, y = labelled
    net = MLP([4, 5, 3], loss="cross_entropy", backend="numpy", seed=0)
    T, _ = train.encode_targets(y, net.spec, X.shape[0])
    options = TrainingOptions(optimizer="momentum", batch_size=5)
    optimizer = make_optimizer(options, net.flat_parameters.size, "float64")
    order = np.arange(23, dtype=np.int64)[::-1].copy()
    loss = train.fit_epoch(EpochBackend(), net.spec, net.flat_parameters.copy(), X, T, order,
                           options, optimizer, train.weight_mask(net.spec.layer_sizes))
    assert loss == 0.5
    assert EpochBackend.calls == [(23, list(order), 5, "momentum")]


def test_training_imports_no_backend_module():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(train))
    imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names]
    assert not [module for module in imported if module.startswith("fastnn.backends")]
    assert ".name ==" not in inspect.getsource(train)


# --- schedules and lbfgs in MLP.fit -------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("schedule", ["invscaling", "adaptive"])
def test_schedules_run_alike_on_every_backend(schedule, backend, labelled):
    X, y = labelled
    settings = {"optimizer": "momentum", "learning_rate_schedule": schedule, "power_t": 0.3,
                "tol": 10.0,
                "patience": 2}
    reference = _fitted("numpy", X, y, **settings)
    other = _fitted(backend, X, y, **settings)
    assert relative_difference(other.flat_parameters, reference.flat_parameters) \
        <= TOLERANCE["float64"]
    assert other.history_["loss"] == pytest.approx(reference.history_["loss"], rel=1e-10)


def test_invscaling_sets_scikit_learns_rate_after_each_epoch(labelled):
    from fastnn.schedules import make_schedule

    options = TrainingOptions(optimizer="sgd", learning_rate_schedule="invscaling",
                              learning_rate=0.5, power_t=0.25)
    optimizer = make_optimizer(options, 3, "float64")
    theirs = SGDOptimizer([np.zeros(3)], 0.5, lr_schedule="invscaling", power_t=0.25)
    schedule = make_schedule(options)
    for samples_seen in (23, 46, 69):
        schedule.epoch_ended(optimizer, samples_seen)
        theirs.iteration_ends(samples_seen)
        assert optimizer.learning_rate == theirs.learning_rate


def test_adaptive_divides_the_rate_until_it_is_tiny():
    from fastnn.schedules import make_schedule

    options = TrainingOptions(optimizer="sgd", learning_rate_schedule="adaptive",
                              learning_rate=1e-5)
    optimizer = make_optimizer(options, 3, "float64")
    theirs = SGDOptimizer([np.zeros(3)], 1e-5, lr_schedule="adaptive")
    schedule = make_schedule(options)
    while True:
        stop, _ = schedule.stalled(optimizer)
        assert stop == theirs.trigger_stopping("", verbose=False)
        assert optimizer.learning_rate == theirs.learning_rate
        if stop:
            break


@pytest.mark.parametrize("backend", BACKENDS)
def test_lbfgs_fits_through_mlp_fit(backend, labelled):
    X, y = labelled
    net = MLP([4, 5, 3], activation="tanh", loss="cross_entropy", backend=backend, seed=1)
    with pytest.warns(Warning, match="lbfgs failed to converge"):
        net.fit(X, y, optimizer="lbfgs", epochs=15, alpha=0.01)
    assert len(net.history_["loss"]) == 15
    assert net.history_["loss"][-1] < net.history_["loss"][0]
    reference = MLP([4, 5, 3], activation="tanh", loss="cross_entropy", backend="numpy",
                    seed=1)
    with pytest.warns(Warning):
        reference.fit(X, y, optimizer="lbfgs", epochs=15, alpha=0.01)
    assert net.history_["loss"][-1] == pytest.approx(reference.history_["loss"][-1], rel=1e-8)


# --- one driver for both front doors, and the former names ---------------------------------

def test_run_epoch_is_a_deprecated_alias_of_fit_epoch(labelled):
    X, y = labelled
    net = MLP([4, 5, 3], loss="cross_entropy", backend="numpy", seed=0)
    T, _ = train.encode_targets(y, net.spec, X.shape[0])
    options = TrainingOptions(optimizer="adam", batch_size=5)
    order = np.arange(X.shape[0], dtype=np.int64)[::-1].copy()
    results = []
    for epoch in (train.fit_epoch, train.run_epoch):
        params = net.flat_parameters.copy()
        optimizer = make_optimizer(options, params.size, "float64")
        if epoch is train.run_epoch:
            with pytest.warns(DeprecationWarning, match="fastnn.train.fit_epoch"):
                loss = epoch(net._backend, net.spec, params, X, T, order, options, optimizer,
                             train.weight_mask(net.spec.layer_sizes))
        else:
            loss = epoch(net._backend, net.spec, params, X, T, order, options, optimizer,
                         train.weight_mask(net.spec.layer_sizes))
        results.append((loss, params))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_mlp_fit_and_the_estimators_train_through_the_same_driver(solver, labelled,
                                                                   monkeypatch):
    from fastnn.estimator import MLPClassifier

    driven = []
    if solver == "lbfgs":
        real_full_batch = train.fit_full_batch

        def full_batch(*args, **kwargs):
            driven.append("fit_full_batch")
            return real_full_batch(*args, **kwargs)

        monkeypatch.setattr(train, "fit_full_batch", full_batch)
    else:
        real_epochs = train.StochasticRun.epochs

        def epochs(self, *args, **kwargs):
            driven.append("StochasticRun")
            return real_epochs(self, *args, **kwargs)

        monkeypatch.setattr(train.StochasticRun, "epochs", epochs)
    X, y = labelled
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not converged in 2 epochs
        MLP([4, 5, 3], loss="cross_entropy", backend="numpy", seed=0).fit(
            X, y, optimizer=solver, epochs=2)
        MLPClassifier((5,), solver=solver, max_iter=2, backend="numpy",
                      random_state=0).fit(X, y)
    assert len(driven) == 2 and len(set(driven)) == 1
