"""Sample weights: the weighted mean loss and its gradient on every backend, against the
reference, finite differences and the unweighted numbers; validation at the boundary."""

import inspect

import numpy as np
import pytest
from conftest import BACKENDS, FAST_BACKENDS, FLOAT32_BACKENDS, REFERENCE

from fastnn import MLP
from fastnn.params import flatten
from fastnn.testing import TOLERANCE, numerical_gradients, random_case, relative_difference

# A few pairs covering every loss and the fused, stable-log and clipped output deltas.
PAIRS = [("tanh", "sigmoid", "mse"), ("relu", "softmax", "cross_entropy"),
         ("silu", "tanh", "binary_cross_entropy"), ("elu", "exp", "poisson"),
         ("sigmoid", "identity", "poisson")]


def _case(index, pair, **bounds):
    rng = np.random.default_rng(700 + index)
    spec, params, X, T = random_case(rng, *pair, **bounds)
    weights = rng.uniform(0, 3, X.shape[0])
    weights[rng.random(X.shape[0]) < 0.2] = 0.0
    if not weights.any():
        weights[0] = 1.0
    return spec, params, X, T, weights


def _results(net, X, T, weights, learning_rate=0.01):
    loss = net.loss(X, T, sample_weight=weights)
    _, dweights, dbiases = net.gradients(X, T, sample_weight=weights)
    step_loss = net.train_step(X, T, learning_rate, sample_weight=weights)
    return {"loss": loss, "gradients": flatten(dweights, dbiases), "step_loss": step_loss,
            "params_after_step": net.flat_parameters.copy()}


def _network(spec, params, backend, dtype="float64"):
    spec = type(spec).create(spec.layer_sizes, spec.activation, spec.output_activation,
                             spec.loss, dtype)
    return MLP.from_spec(spec, params, backend)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("index,pair", list(enumerate(PAIRS)), ids=["-".join(p) for p in PAIRS])
def test_weighted_results_match_the_reference(index, pair, backend, dtype):
    if dtype == "float32" and backend not in FLOAT32_BACKENDS:
        pytest.skip(f"{backend} has no float32")
    spec, params, X, T, weights = _case(index, pair)
    expected = _results(_network(spec, params, REFERENCE), X, T, weights)
    actual = _results(_network(spec, params, backend, dtype), X, T, weights)
    for key, value in expected.items():
        assert relative_difference(actual[key], value) <= TOLERANCE[dtype], (backend, key)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("index,pair", list(enumerate(PAIRS)), ids=["-".join(p) for p in PAIRS])
def test_weighted_gradient_matches_finite_differences(index, pair, backend):
    spec, params, X, T, weights = _case(index, pair, max_depth=3, max_width=6, max_batch=6)
    _, dweights, dbiases = MLP.from_spec(spec, params, backend).gradients(X, T, weights)
    numeric = numerical_gradients(spec, params, X, T, backend=backend, sample_weight=weights)
    assert relative_difference(flatten(dweights, dbiases), numeric) < 1e-6


@pytest.mark.parametrize("backend", BACKENDS)
def test_equal_weights_reproduce_the_unweighted_numbers(backend):
    spec, params, X, T, _ = _case(0, PAIRS[3])
    net = MLP.from_spec(spec, params, backend)
    plain = net.gradients(X, T)
    for value in (1.0, 0.25, 7.0):
        weighted = net.gradients(X, T, sample_weight=np.full(X.shape[0], value))
        assert relative_difference(weighted[0], plain[0]) <= 1e-14
        assert relative_difference(flatten(*weighted[1:]), flatten(*plain[1:])) <= 1e-14


@pytest.mark.parametrize("backend", BACKENDS)
def test_integer_weights_repeat_rows_and_zero_weights_drop_them(backend):
    spec, params, X, T, _ = _case(1, PAIRS[1])
    net = MLP.from_spec(spec, params, backend)
    counts = np.arange(X.shape[0]) % 3  # 0, 1, 2, 0, ...
    if not counts.any():
        counts[0] = 1
    repeated = np.repeat(np.arange(X.shape[0]), counts)
    weighted = net.gradients(X, T, sample_weight=counts)
    expected = net.gradients(X[repeated], T[repeated])
    assert relative_difference(weighted[0], expected[0]) <= 1e-12
    assert relative_difference(flatten(*weighted[1:]), flatten(*expected[1:])) <= 1e-12


BAD_WEIGHTS = [
    (lambda m: np.ones(m + 1), ValueError, "sample_weight must have shape"),
    (lambda m: np.ones((m, 1)), ValueError, "sample_weight must have shape"),
    (lambda m: np.r_[np.nan, np.ones(m - 1)], ValueError, "sample_weight contains NaN"),
    (lambda m: np.r_[np.inf, np.ones(m - 1)], ValueError, "sample_weight contains NaN"),
    (lambda m: np.r_[-1.0, np.ones(m - 1)], ValueError, "sample_weight must be non-negative"),
    (lambda m: np.zeros(m), ValueError, "sample_weight sums to 0"),
    (lambda m: np.full(m, 1e-320), ValueError, "sample_weight sums to"),
    (lambda m: np.array(["a"] * m), TypeError, "sample_weight must be numeric"),
]


@pytest.mark.parametrize("make,error,message", BAD_WEIGHTS,
                         ids=["long", "2-D", "nan", "inf", "negative", "zero", "tiny", "text"])
def test_bad_weights_raise_naming_them_and_leave_the_network_unchanged(make, error, message):
    net = MLP([3, 4, 2], backend="numpy", seed=0)
    X, T = np.random.default_rng(0).random((5, 3)), np.random.default_rng(1).random((5, 2))
    before = net.flat_parameters.copy()
    calls = [net.loss, net.gradients, lambda X, T, sample_weight: net.train_step(
        X, T, 0.1, sample_weight=sample_weight)]
    for call in calls:
        with pytest.raises(error, match=message):
            call(X, T, sample_weight=make(5))
    with pytest.raises(error, match=message):
        net.fit(X, T, epochs=1, sample_weight=make(5))
    np.testing.assert_array_equal(net.flat_parameters, before)


def test_weights_are_converted_to_the_network_dtype():
    net = MLP([2, 2], backend="numpy", dtype="float32", seed=0)
    X, T = np.ones((3, 2), dtype=np.float32), np.zeros((3, 2), dtype=np.float32)
    loss = net.loss(X, T, sample_weight=[1, 2, 3])  # ints, a list
    assert loss == pytest.approx(net.loss(X, T), rel=1e-6)


def test_fit_passes_weights_to_training():
    from fastnn import train

    assert "sample_weight" in inspect.signature(train.fit_network).parameters
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 3)), rng.random((40, 1))
    zeroed = np.r_[np.ones(20), np.zeros(20)]
    first = MLP([3, 1], backend="numpy", seed=0).fit(X, y, epochs=3, seed=1,
                                                     sample_weight=zeroed)
    second = MLP([3, 1], backend="numpy", seed=0).fit(X, y, epochs=3, seed=1)
    assert not np.array_equal(first.flat_parameters, second.flat_parameters)


@pytest.mark.parametrize("backend", FLOAT32_BACKENDS)
def test_a_weight_sum_whose_reciprocal_overflows_the_dtype_is_refused(backend):
    net = MLP([3, 4, 2], dtype="float32", backend=backend, seed=0)
    X, T = np.ones((5, 3), dtype=np.float32), np.full((5, 2), 0.5, dtype=np.float32)
    with pytest.raises(ValueError, match="sample_weight sums to"):
        net.loss(X, T, sample_weight=[1e-45, 0, 0, 0, 0])
