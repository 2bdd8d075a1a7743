"""The MLP API: construction, parameters, conversions, and bad input that changes nothing."""

import numpy as np
import pytest
from conftest import BACKENDS, FLOAT32_BACKENDS

import fastnn
from fastnn import MLP
from fastnn.params import parameter_count


@pytest.fixture
def net():
    return MLP([4, 5, 3], activation="tanh", loss="cross_entropy", backend="numpy", seed=0)


@pytest.fixture
def batch(rng):
    return rng.standard_normal((6, 4)), np.eye(3)[rng.integers(0, 3, 6)]


def test_available_backends_lists_the_reference_and_numpy():
    assert {"python", "numpy"} <= set(fastnn.available_backends())


def test_auto_backend_resolves_to_an_available_name():
    net = MLP([3, 2], backend="auto")
    assert net.backend in fastnn.available_backends()
    assert net.backend != "python"


def test_shapes_follow_the_scikit_learn_layout(net):
    assert [w.shape for w in net.weights] == [(4, 5), (5, 3)]
    assert [b.shape for b in net.biases] == [(5,), (3,)]
    assert net.flat_parameters.shape == (parameter_count([4, 5, 3]),)
    assert net.spec.output_activation == "softmax"


def test_weights_are_read_only_views(net):
    with pytest.raises(ValueError):
        net.weights[0][0, 0] = 1.0


def test_seeded_init_is_reproducible_and_seed_dependent():
    a = MLP([5, 4, 2], seed=7, backend="numpy").flat_parameters
    b = MLP([5, 4, 2], seed=7, backend="numpy").flat_parameters
    c = MLP([5, 4, 2], seed=8, backend="numpy").flat_parameters
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("init,low,high", [("uniform01", 0.0, 1.0)])
def test_uniform01_init_is_in_the_unit_interval(init, low, high):
    params = MLP([64, 30, 10], init=init, seed=1, backend="numpy").flat_parameters
    assert params.min() >= low and params.max() < high


def test_auto_init_uses_he_for_relu_and_zero_biases():
    net = MLP([400, 300], activation="relu", seed=2, backend="numpy")
    assert np.std(net.weights[0]) == pytest.approx(np.sqrt(2 / 400), rel=0.05)
    assert not np.any(net.biases[0])


def test_one_sample_gives_a_one_dimensional_result(net):
    x = np.ones(4)
    assert net.forward(x).shape == (3,)
    np.testing.assert_allclose(net.forward(x), net.forward(x[None, :])[0])


def test_empty_batch_forward_gives_zero_rows(net):
    assert net.forward(np.empty((0, 4))).shape == (0, 3)


def test_train_step_returns_the_loss_before_and_lowers_it(net, batch):
    X, T = batch
    before = net.loss(X, T)
    assert net.train_step(X, T, 0.1) == pytest.approx(before)
    assert net.loss(X, T) < before


def test_with_backend_is_an_independent_copy(net, batch):
    X, T = batch
    other = net.with_backend("python")
    assert other.backend == "python"
    other.train_step(X, T, 0.5)
    assert not np.array_equal(other.flat_parameters, net.flat_parameters)


@pytest.mark.parametrize("backend", FLOAT32_BACKENDS)
def test_float32_networks_compute_in_float32(backend, batch):
    net = MLP([4, 5, 3], dtype="float32", backend=backend, seed=0)
    X, T = batch
    assert net.forward(X).dtype == np.float32
    assert net.gradients(X, T)[1][0].dtype == np.float32


def test_python_backend_refuses_float32():
    with pytest.raises(ValueError, match="float64"):
        MLP([2, 2], dtype="float32", backend="python")


def test_one_resolve_backend_for_names_aliases_and_auto():
    from fastnn import backends
    from fastnn.spec import NetworkSpec

    spec = NetworkSpec.create([3, 2])
    assert backends.resolve_backend("np", spec) is backends.get("numpy")
    assert backends.resolve_backend("Auto", spec).name == MLP([3, 2], backend="auto").backend
    float32 = NetworkSpec.create([3, 2], dtype="float32")
    with pytest.raises(ValueError, match="computes in float64; got dtype 'float32'"):
        backends.resolve_backend("python", float32)
    assert backends.resolve_backend("python", float32, check_dtype=False).name == "python"
    with pytest.raises(ValueError, match="unknown backend 'nmba'"):
        backends.resolve_backend("nmba", spec)


@pytest.mark.parametrize("make", [
    lambda X: X.astype(np.int64),
    lambda X: X.astype(np.float32),
    lambda X: np.asfortranarray(X),
    lambda X: np.repeat(X, 2, axis=0)[::2],
    lambda X: X.tolist(),
    lambda X: _read_only(X.copy()),
], ids=["int", "float32", "fortran", "strided", "nested-list", "read-only"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_inputs_are_converted(make, backend):
    net = MLP([4, 5, 3], backend=backend, seed=0)
    X = np.arange(24, dtype=np.float64).reshape(6, 4) - 12  # integer-valued, so int is exact
    expected = net.forward(X)
    converted = make(X)
    np.testing.assert_allclose(net.forward(converted), expected, rtol=1e-6)
    T = np.full((6, 3), 0.5)
    assert net.loss(converted, T) == pytest.approx(net.loss(X, T), rel=1e-6)


def _read_only(array):
    array.flags.writeable = False
    return array


# --- bad input: a clear error, and the network exactly as it was ---------------------

BAD_CALLS = {
    "X wrong width": (lambda n, X, T: n.forward(np.ones((2, 5))), ValueError, "features"),
    "X 3-D": (lambda n, X, T: n.forward(np.ones((2, 2, 4))), ValueError, "3-D"),
    "X NaN": (lambda n, X, T: n.forward(np.full((1, 4), np.nan)), ValueError, "NaN"),
    "X inf": (lambda n, X, T: n.loss(np.full((1, 4), np.inf), T[:1]), ValueError, "infinity"),
    "X complex": (lambda n, X, T: n.forward(X + 1j), TypeError, "complex"),
    "X strings": (lambda n, X, T: n.forward([["a"] * 4]), TypeError, "numeric"),
    "X ragged": (lambda n, X, T: n.forward([[1, 2], [3]]), ValueError, "array"),
    "T wrong shape": (lambda n, X, T: n.loss(X, T[:, :2]), ValueError, "T must have shape"),
    "T wrong rows": (lambda n, X, T: n.gradients(X, T[:3]), ValueError, "T must have shape"),
    "T NaN": (lambda n, X, T: n.train_step(X, T * np.nan, 0.1), ValueError, "NaN"),
    "empty batch": (lambda n, X, T: n.train_step(X[:0], T[:0], 0.1), ValueError, "empty"),
    "lr zero": (lambda n, X, T: n.train_step(X, T, 0.0), ValueError, "learning rate"),
    "lr negative": (lambda n, X, T: n.train_step(X, T, -1), ValueError, "learning rate"),
    "lr nan": (lambda n, X, T: n.train_step(X, T, float("nan")), ValueError, "learning rate"),
    "lr string": (lambda n, X, T: n.train_step(X, T, "0.1"), TypeError, "learning rate"),
    "set_params count": (lambda n, X, T: n.set_params(n.weights[:1], n.biases[:1]),
                         ValueError, "expected 2 weight"),
    "set_params shape": (lambda n, X, T: n.set_params([np.ones((4, 5)), np.ones((3, 5))],
                                                      n.biases), ValueError, "weights\\[1\\]"),
    "set_params bias NaN": (lambda n, X, T: n.set_params(
        n.weights, [np.zeros(5), np.array([0, np.nan, 0])]), ValueError, "biases\\[1\\]"),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(BAD_CALLS), ids=list(BAD_CALLS))
def test_bad_input_raises_and_changes_nothing(case, backend, batch):
    call, error, message = BAD_CALLS[case]
    net = MLP([4, 5, 3], activation="tanh", loss="cross_entropy", backend=backend, seed=0)
    X, T = batch
    before = net.flat_parameters.copy()
    with pytest.raises(error, match=message):
        call(net, X, T)
    np.testing.assert_array_equal(net.flat_parameters, before)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_a_step_that_overflows_is_refused_and_changes_nothing():
    net = MLP([1, 1], output_activation="identity", backend="numpy")
    net.set_params([[[1e300]]], [[0.0]])
    before = net.flat_parameters.copy()
    with pytest.raises(ValueError, match="not finite"):
        net.train_step([[1e10]], [[0.0]], 1.0)
    np.testing.assert_array_equal(net.flat_parameters, before)


@pytest.mark.parametrize("kwargs,error,message", [
    ({"layer_sizes": [3]}, ValueError, "at least an input and an output"),
    ({"layer_sizes": [3, 0, 2]}, ValueError, "positive integers"),
    ({"layer_sizes": [3, -1]}, ValueError, "positive integers"),
    ({"layer_sizes": [3, 2.5]}, TypeError, "integers"),
    ({"layer_sizes": [3, True]}, TypeError, "integers"),
    ({"layer_sizes": "3-2"}, TypeError, "sequence of integers"),
    ({"layer_sizes": [3, 2], "activation": "softmax"}, ValueError, "only allowed on the output"),
    ({"layer_sizes": [3, 2], "activation": "sigmoidd"}, ValueError, "unknown activation"),
    ({"layer_sizes": [3, 2], "output_activation": "max"}, ValueError, "unknown output_activ"),
    ({"layer_sizes": [3, 2], "loss": "hinge"}, ValueError, "unknown loss 'hinge'"),
    ({"layer_sizes": [3, 2], "init": "zeros"}, ValueError, "unknown init 'zeros'"),
    ({"layer_sizes": [3, 2], "dtype": "int32"}, ValueError, "unsupported dtype"),
    ({"layer_sizes": [3, 2], "dtype": "float16"}, ValueError, "unsupported dtype"),
    ({"layer_sizes": [3, 2], "backend": "nmba"}, ValueError,
     "unknown backend 'nmba'; available: python, numpy"),
])
def test_bad_construction_arguments_name_the_problem(kwargs, error, message):
    with pytest.raises(error, match=message):
        MLP(**kwargs)


def test_fastest_backend_rejects_unknown_ops():
    with pytest.raises(ValueError, match="unknown op 'backward'"):
        fastnn.fastest_backend([3, 2], op="backward")
