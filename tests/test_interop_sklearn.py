"""Model exchange with scikit-learn's MLPClassifier / MLPRegressor, both ways, every backend."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils.validation import check_is_fitted

import fastnn
from fastnn import MLP
from fastnn.interop.sklearn import to_sklearn
from fastnn.spec import HIDDEN_ACTIVATIONS, LOSSES, OUTPUT_ACTIVATIONS

from_sklearn = MLP.from_sklearn

BACKENDS = fastnn.available_backends()
FLOAT32_BACKENDS = [name for name in BACKENDS if "float32" in fastnn.backends.get(name).dtypes]
SKLEARN_HIDDEN = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
N_FEATURES = 4


def assert_same_outputs(actual, expected, dtype):
    """float64 to 1e-12 relative, float32 to 1e-5 (absolute floors for values near 0)."""
    rtol, atol = (1e-12, 1e-13) if dtype == "float64" else (1e-5, 1e-6)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def fitted(estimator, kind, dtype="float64", seed=0):
    """``estimator`` fitted for a few iterations on tiny random data of the given kind."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((24, N_FEATURES)).astype(dtype)
    targets = {
        "binary": lambda: rng.choice(["no", "yes"], 24),
        "multiclass": lambda: rng.integers(0, 3, 24) * 10,
        "multilabel": lambda: rng.integers(0, 2, (24, 3)),
        "regression": lambda: rng.standard_normal((24, 2)),
        "poisson": lambda: rng.poisson(2.0, 24).astype(float),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, targets[kind]()), X


def estimator_for(kind, activation="relu"):
    if kind in ("regression", "poisson"):
        loss = "poisson" if kind == "poisson" else "squared_error"
        return MLPRegressor(loss=loss, hidden_layer_sizes=(5, 3), activation=activation,
                            max_iter=5, random_state=0)
    return MLPClassifier(hidden_layer_sizes=(5,), activation=activation, max_iter=5,
                         random_state=0)


def sklearn_output(estimator, X):
    """What a fastnn network's forward must equal: probabilities, or predictions."""
    if hasattr(estimator, "predict_proba"):
        proba = estimator.predict_proba(X)
        return proba[:, 1:] if estimator.out_activation_ == "logistic" \
            and estimator.n_outputs_ == 1 else proba
    return estimator.predict(X).reshape(len(X), -1)


def skip_without_poisson(kind):
    """Kept as a check: the poisson cases need fastnn's poisson loss and exp output."""
    assert kind != "poisson" or ("poisson" in LOSSES and "exp" in OUTPUT_ACTIVATIONS)


# --- scikit-learn -> fastnn -------------------------------------------------------------

KINDS = ["binary", "multiclass", "multilabel", "regression", "poisson"]
EXPECTED = {  # kind -> (output activation, loss)
    "binary": ("sigmoid", "binary_cross_entropy"),
    "multiclass": ("softmax", "cross_entropy"),
    "multilabel": ("sigmoid", "binary_cross_entropy"),
    "regression": ("identity", "mse"),
    "poisson": ("exp", "poisson"),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_from_sklearn_computes_what_the_estimator_predicts(backend, kind):
    skip_without_poisson(kind)
    estimator, X = fitted(estimator_for(kind), kind)
    net = from_sklearn(estimator, backend=backend)
    assert net.backend == backend
    assert (net.spec.output_activation, net.spec.loss) == EXPECTED[kind]
    assert net.spec.dtype == "float64"
    assert_same_outputs(net.forward(X), sklearn_output(estimator, X), "float64")
    if kind in ("binary", "multiclass"):
        np.testing.assert_array_equal(net.classes_, estimator.classes_)
        np.testing.assert_array_equal(net.predict(X), estimator.predict(X))
    else:
        assert net.classes_ is None  # multilabel outputs are independent labels


@pytest.mark.parametrize("activation", list(SKLEARN_HIDDEN))
def test_from_sklearn_maps_every_hidden_activation(activation):
    estimator, X = fitted(estimator_for("regression", activation), "regression")
    net = from_sklearn(estimator, backend="numpy")
    assert net.spec.activation == SKLEARN_HIDDEN[activation]
    assert_same_outputs(net.forward(X), sklearn_output(estimator, X), "float64")


@pytest.mark.parametrize("backend", FLOAT32_BACKENDS)
def test_from_sklearn_keeps_float32_coefficients(backend):
    estimator, X = fitted(estimator_for("multiclass"), "multiclass", dtype="float32")
    assert estimator.coefs_[0].dtype == np.float32
    net = from_sklearn(estimator, backend=backend)
    assert net.spec.dtype == "float32"
    assert_same_outputs(net.forward(X), sklearn_output(estimator, X), "float32")


def test_from_sklearn_copies_the_parameters():
    estimator, X = fitted(estimator_for("binary"), "binary")
    net = from_sklearn(estimator, backend="numpy")
    before = net.forward(X)
    estimator.coefs_[0][...] = 0.0
    np.testing.assert_array_equal(net.forward(X), before)


# --- fastnn -> scikit-learn -------------------------------------------------------------


def network(layer_sizes, activation, output_activation, loss, backend, dtype="float64",
            classes=None, seed=3):
    net = fastnn.MLP(layer_sizes, activation=activation, output_activation=output_activation,
                     loss=loss, backend=backend, dtype=dtype, init="normal", seed=seed)
    net.classes_ = None if classes is None else np.asarray(classes)
    return net


NETWORKS = {  # name -> (layer sizes, hidden, output, loss, classes, expected estimator)
    "binary": ([4, 5, 1], "tanh", "sigmoid", "binary_cross_entropy", ["a", "b"], "MLPClassifier"),
    "binary-softmax": ([4, 5, 2], "relu", "softmax", "cross_entropy", [3, 7], "MLPClassifier"),
    "multiclass": ([4, 5, 3, 3], "sigmoid", "softmax", "cross_entropy", None, "MLPClassifier"),
    "multilabel": ([4, 5, 3], "identity", "sigmoid", "binary_cross_entropy", None,
                   "MLPClassifier"),
    "regression": ([4, 5, 2], "relu", "identity", "mse", None, "MLPRegressor"),
    "no-hidden": ([4, 2], "sigmoid", "identity", "mse", None, "MLPRegressor"),
}


@pytest.mark.parametrize("name", list(NETWORKS))
@pytest.mark.parametrize("backend", BACKENDS)
def test_to_sklearn_predicts_what_the_network_computes(backend, name):
    sizes, hidden, output, loss, classes, expected = NETWORKS[name]
    net = network(sizes, hidden, output, loss, backend, classes=classes)
    X = np.random.default_rng(1).standard_normal((7, 4))
    estimator = to_sklearn(net)
    assert type(estimator).__name__ == expected
    check_is_fitted(estimator)
    assert estimator.n_features_in_ == 4
    assert_same_outputs(sklearn_output(estimator, X), net.forward(X), "float64")
    if name != "multilabel" and expected == "MLPClassifier":
        np.testing.assert_array_equal(estimator.predict(X), net.predict(X))
        assert_same_outputs(estimator.predict_proba(X), net.predict_proba(X), "float64")
    if name == "multilabel":
        np.testing.assert_array_equal(estimator.predict(X), (net.forward(X) > 0.5).astype(int))
    # ... and back: the very same parameters, loss and classes.
    back = from_sklearn(estimator, backend=backend)
    np.testing.assert_array_equal(back.flat_parameters, net.flat_parameters)
    if classes is not None:
        np.testing.assert_array_equal(back.classes_, net.classes_)


@pytest.mark.parametrize("backend", FLOAT32_BACKENDS)
def test_to_sklearn_float32(backend):
    net = network([4, 5, 3], "tanh", "softmax", "cross_entropy", backend, dtype="float32")
    X = np.random.default_rng(1).standard_normal((7, 4)).astype(np.float32)
    estimator = to_sklearn(net)
    assert estimator.coefs_[0].dtype == np.float32
    assert_same_outputs(estimator.predict_proba(X), net.forward(X), "float32")
    assert from_sklearn(estimator, backend=backend).spec.dtype == "float32"


def test_to_sklearn_estimator_scores_and_refits():
    net = network([4, 5, 3], "relu", "softmax", "cross_entropy", "numpy")
    estimator = to_sklearn(net)
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((12, 4)), rng.integers(0, 3, 12)
    assert 0.0 <= estimator.score(X, y) <= 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.set_params(max_iter=2).fit(X, y)  # a fresh fit, as for any estimator
    assert estimator.n_iter_ == 2


# --- activations scikit-learn lacks, and bad input --------------------------------------


@pytest.mark.parametrize("activation", [name for name in HIDDEN_ACTIVATIONS
                                        if name not in SKLEARN_HIDDEN.values()])
def test_to_sklearn_refuses_hidden_activations_sklearn_lacks(activation):
    net = network([3, 4, 2], activation, "softmax", "cross_entropy", "numpy")
    with pytest.raises(ValueError, match=f"scikit-learn's MLP has no '{activation}' activation"):
        to_sklearn(net)


@pytest.mark.parametrize("output", [name for name in OUTPUT_ACTIVATIONS
                                    if name not in ("softmax", "sigmoid")])
def test_to_sklearn_refuses_classifier_outputs_sklearn_lacks(output):
    net = network([3, 4, 2], "relu", output, "cross_entropy", "numpy")
    with pytest.raises(ValueError, match=f"scikit-learn's MLP has no '{output}' activation"):
        to_sklearn(net)


def test_to_sklearn_refuses_a_regressor_with_a_sigmoid_output():
    net = network([3, 4, 2], "relu", "sigmoid", "mse", "numpy")
    with pytest.raises(ValueError, match="MLPRegressor has no 'sigmoid' output"):
        to_sklearn(net)


def test_to_sklearn_refuses_single_label_classes_on_several_sigmoid_outputs():
    net = network([3, 4, 3], "relu", "sigmoid", "mse", "numpy", classes=["a", "b", "c"])
    with pytest.raises(ValueError, match="multilabel"):
        to_sklearn(net)


def test_from_sklearn_refuses_an_unfitted_estimator():
    with pytest.raises(ValueError, match="not fitted"):
        from_sklearn(MLPClassifier())


def test_from_sklearn_refuses_other_estimators():
    with pytest.raises(TypeError, match="MLPClassifier or MLPRegressor"):
        from_sklearn(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]))


def test_from_sklearn_names_an_activation_fastnn_lacks():
    estimator, _ = fitted(estimator_for("binary"), "binary")
    estimator.activation = "swish"
    with pytest.raises(ValueError, match="scikit-learn activation 'swish' is not supported"):
        from_sklearn(estimator)
