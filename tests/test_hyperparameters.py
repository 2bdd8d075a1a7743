"""fastnn.hyperparameters: each training hyperparameter declared once, used everywhere."""

import dataclasses
import inspect

import numpy as np
import pytest

from fastnn import MLP
from fastnn.estimator import MLPClassifier, MLPRegressor
from fastnn.hyperparameters import HYPERPARAMETERS, TrainingOptions, takes_training_options

NAMES = [hyperparameter.name for hyperparameter in HYPERPARAMETERS]


def test_training_options_has_one_field_per_hyperparameter_with_its_default():
    fields = dataclasses.fields(TrainingOptions)
    assert [field.name for field in fields] == NAMES
    defaults = TrainingOptions()
    for hyperparameter in HYPERPARAMETERS:
        assert getattr(defaults, hyperparameter.name) == hyperparameter.default


@pytest.mark.parametrize("hyperparameter", HYPERPARAMETERS, ids=NAMES)
def test_every_default_passes_its_check_and_bad_values_are_named(hyperparameter):
    hyperparameter.check(hyperparameter.name, hyperparameter.default)
    with pytest.raises((TypeError, ValueError), match=hyperparameter.name):
        TrainingOptions(**{hyperparameter.name: "not a value"})


def test_mlp_fit_lists_every_hyperparameter_as_a_keyword():
    parameters = inspect.signature(MLP.fit).parameters
    assert list(parameters) == ["self", "X", "y", *NAMES, "seed", "progress", "sample_weight"]
    for hyperparameter in HYPERPARAMETERS:
        parameter = parameters[hyperparameter.name]
        assert parameter.kind is parameter.KEYWORD_ONLY
        assert parameter.default == hyperparameter.default


def test_mlp_fit_documents_every_hyperparameter():
    doc = MLP.fit.__doc__
    assert "{training_options}" not in doc
    for hyperparameter in HYPERPARAMETERS:
        assert f"\n        {hyperparameter.name} : {hyperparameter.kind}" in doc
    assert doc.index("y : array-like") < doc.index("optimizer : ") < doc.index("seed : ")


def test_an_unknown_keyword_is_refused_as_python_would(rng):
    net = MLP([2, 1], backend="numpy", seed=0)
    with pytest.raises(TypeError, match=r"MLP.fit\(\) got an unexpected keyword argument "
                                        r"'learning_rate_init'"):
        net.fit(rng.standard_normal((4, 2)), rng.random(4), learning_rate_init=0.1)


def test_the_decorator_passes_only_the_given_options():
    @takes_training_options
    def train(data, *, verbose=False, **options):
        """Parameters
        ----------
        data : object
        {training_options}
        """
        return data, verbose, options

    assert train(1, epochs=3) == (1, False, {"epochs": 3})
    assert "    epochs : int, default=200\n" in train.__doc__


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_estimators_set_every_hyperparameter_from_one_of_their_parameters(estimator):
    parameters = estimator().get_params()
    from_table = {hyperparameter.sklearn for hyperparameter in HYPERPARAMETERS} - {None}
    assert from_table <= set(parameters)
    # The rest describe the network, the run or the estimator, not a training option.
    network = {"loss"} if estimator is MLPRegressor else set()
    assert set(parameters) - from_table == {"hidden_layer_sizes", "activation", "random_state",
                                            "verbose", "warm_start", "early_stopping",
                                            "backend", *network}


@pytest.mark.parametrize("settings, expected", [
    ({}, {"optimizer": "adam", "learning_rate": 0.001, "epochs": 200, "batch_size": 50,
          "alpha": 0.0001, "validation_fraction": 0.0, "patience": 11, "tol": 1e-4}),
    ({"solver": "sgd", "momentum": 0.0}, {"optimizer": "sgd"}),
    ({"solver": "sgd", "momentum": 0.5, "nesterovs_momentum": False},
     {"optimizer": "momentum", "momentum": 0.5, "nesterov": False}),
    ({"learning_rate_init": 0.1, "max_iter": 7, "batch_size": 8, "n_iter_no_change": 3},
     {"learning_rate": 0.1, "epochs": 7, "batch_size": 8, "patience": 4}),
    ({"early_stopping": True, "validation_fraction": 0.2}, {"validation_fraction": 0.2}),
    ({"beta_1": 0.8, "beta_2": 0.9, "epsilon": 1e-6, "shuffle": False},
     {"beta_1": 0.8, "beta_2": 0.9, "epsilon": 1e-6, "shuffle": False}),
    ({"solver": "sgd", "learning_rate": "invscaling", "power_t": 0.25, "max_fun": 9},
     {"learning_rate_schedule": "invscaling", "power_t": 0.25, "max_fun": 9}),
    # Adam has no schedule in scikit-learn; lbfgs is the full-batch solver.
    ({"solver": "adam", "learning_rate": "adaptive"}, {"learning_rate_schedule": "constant"}),
    ({"solver": "lbfgs"}, {"optimizer": "lbfgs"}),
    ({"n_iter_no_change": np.inf}, {"patience": None}),
])
def test_scikit_learn_parameters_become_training_options(settings, expected):
    options = MLPClassifier(**settings)._training_options(n_samples=50, incremental=False)
    for name, value in expected.items():
        assert getattr(options, name) == value, name


# --- former names -----------------------------------------------------------------------

def test_schedule_is_a_deprecated_alias_of_learning_rate_schedule(rng):
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    settings = {"optimizer": "sgd", "epochs": 4, "batch_size": 5, "seed": 0}
    renamed = MLP([3, 4, 2], loss="cross_entropy", backend="numpy", seed=1).fit(
        X, y, learning_rate_schedule="invscaling", **settings)
    with pytest.warns(DeprecationWarning, match="'schedule' is deprecated; use "
                                                "'learning_rate_schedule'"):
        former = MLP([3, 4, 2], loss="cross_entropy", backend="numpy", seed=1).fit(
            X, y, schedule="invscaling", **settings)
    np.testing.assert_array_equal(former.flat_parameters, renamed.flat_parameters)
    with pytest.raises(TypeError, match="both 'learning_rate_schedule' and its former name"):
        MLP([3, 2]).fit(X, y, schedule="adaptive", learning_rate_schedule="adaptive")


def test_training_options_take_and_give_the_former_schedule_name():
    with pytest.warns(DeprecationWarning, match="use 'learning_rate_schedule'"):
        options = TrainingOptions(schedule="adaptive")
    assert options == TrainingOptions(learning_rate_schedule="adaptive")
    with pytest.warns(DeprecationWarning, match="use 'learning_rate_schedule'"):
        assert options.schedule == "adaptive"
    assert dataclasses.replace(options, epochs=3).learning_rate_schedule == "adaptive"
    assert "schedule" not in inspect.signature(MLP.fit).parameters
