"""Sparse inputs: every backend computes on a CSR ``X`` (the first layer as a sparse
product) the numbers it computes on the same ``X`` dense; the boundary converts every
SciPy format once, never modifies the caller's matrix, and refuses NaN."""

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import BACKENDS, FLOAT32_BACKENDS

from fastnn import MLP
from fastnn.backends import _numba_kernels as kernels  # numba is required: never a skip
from fastnn.backends.numpy_backend import NumpyBackend
from fastnn.params import flatten
from fastnn.testing import TOLERANCE, random_case, relative_difference

PAIRS = [("tanh", "sigmoid", "mse"), ("silu", "softmax", "cross_entropy"),
         ("relu", "exp", "poisson")]


def _sparse_case(index, pair, density=0.3):
    rng = np.random.default_rng(900 + index)
    spec, params, X, T = random_case(rng, *pair, max_width=30)
    X = X * (rng.random(X.shape) < density)
    return spec, params, X, T, rng.uniform(0.5, 2, X.shape[0])


def _results(net, X, T, weights):
    output = net.forward(X)
    loss = net.loss(X, T, sample_weight=weights)
    _, dweights, dbiases = net.gradients(X, T, sample_weight=weights)
    step_loss = net.train_step(X, T, 0.01, sample_weight=weights)
    return {"forward": output, "loss": loss, "gradients": flatten(dweights, dbiases),
            "step_loss": step_loss, "params": net.flat_parameters.copy()}


@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("index,pair", list(enumerate(PAIRS)), ids=["-".join(p) for p in PAIRS])
def test_sparse_input_gives_the_dense_numbers(index, pair, backend, dtype, weighted):
    if dtype == "float32" and backend not in FLOAT32_BACKENDS:
        pytest.skip(f"{backend} has no float32")
    spec, params, X, T, weights = _sparse_case(index, pair)
    spec = type(spec).create(spec.layer_sizes, spec.activation, spec.output_activation,
                             spec.loss, dtype)
    weights = weights if weighted else None
    expected = _results(MLP.from_spec(spec, params, backend), X, T, weights)
    actual = _results(MLP.from_spec(spec, params, backend), sp.csr_matrix(X), T, weights)
    for key, value in expected.items():
        assert relative_difference(actual[key], value) <= TOLERANCE[dtype], key


FORMATS = {"csr": sp.csr_matrix, "csc": sp.csc_matrix, "coo": sp.coo_matrix,
           "csr_array": sp.csr_array, "lil": sp.lil_matrix}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_scipy_format_is_accepted(fmt):
    spec, params, X, T, _ = _sparse_case(0, PAIRS[0])
    net = MLP.from_spec(spec, params, "numpy")
    assert relative_difference(net.forward(FORMATS[fmt](X)), net.forward(X)) <= 1e-12


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_canonical_csr_is_canonicalised_on_a_copy(backend):
    # Unsorted columns, a duplicate (summed), an explicit zero, int64 indices, ints.
    data = np.array([2, 1, 3, 0, 4], dtype=np.int64)
    indices = np.array([2, 0, 2, 1, 0], dtype=np.int64)
    indptr = np.array([0, 3, 3, 5], dtype=np.int64)
    X = sp.csr_matrix((data, indices, indptr), shape=(3, 3))
    snapshot = (X.data.copy(), X.indices.copy(), X.indptr.copy())
    dense = np.array([[1.0, 0.0, 5.0], [0.0, 0.0, 0.0], [4.0, 0.0, 0.0]])
    net = MLP([3, 4, 2], activation="tanh", backend=backend, seed=3)
    assert relative_difference(net.forward(X), net.forward(dense)) <= 1e-12
    for before, after in zip(snapshot, (X.data, X.indices, X.indptr)):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_infinity_in_sparse_data_is_refused(bad):
    X = sp.csr_matrix(np.array([[0.0, 1.0], [bad, 0.0]]))
    net = MLP([2, 1], backend="numpy")
    for call in (net.forward, lambda X: net.loss(X, [[0.0], [1.0]]),
                 lambda X: net.fit(X, [0.0, 1.0], epochs=1)):
        with pytest.raises(ValueError, match="X \\(sparse\\) contains NaN or infinity"):
            call(X)


def test_wrong_feature_count_and_complex_data_are_refused():
    net = MLP([3, 1], backend="numpy")
    with pytest.raises(ValueError, match="3"):
        net.forward(sp.csr_matrix(np.ones((2, 4))))
    with pytest.raises(TypeError, match="real"):
        net.forward(sp.csr_matrix(np.ones((2, 3), dtype=complex)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_sparse_matrix_is_never_densified(backend, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a sparse X was densified")

    for cls in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix):
        monkeypatch.setattr(cls, "toarray", refuse)
        monkeypatch.setattr(cls, "todense", refuse)
    rng = np.random.default_rng(5)
    X = sp.random(20, 5000, density=0.002, format="csr", random_state=5)
    net = MLP([5000, 3, 2], activation="relu", backend=backend, seed=0)
    T = rng.random((20, 2))
    net.forward(X)
    net.gradients(X, T, sample_weight=rng.random(20) + 0.1)
    net.train_step(X, T, 0.01)


def test_a_backend_without_sparse_support_gives_a_clear_error():
    class DenseOnly(NumpyBackend):
        name = "dense_only"
        accepts_sparse = False

    net = MLP([2, 1], backend="numpy")
    net._backend = DenseOnly()
    with pytest.raises(ValueError, match="does not take sparse inputs"):
        net.forward(sp.csr_matrix(np.ones((1, 2))))
    with pytest.raises(ValueError, match="does not take sparse inputs"):
        net.gradients(sp.csr_matrix(np.ones((1, 2))), [[1.0]])


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_csr_kernels_take_a_batch_as_an_indptr_slice(index_dtype):
    import numba

    from fastnn.backends.numba_backend import kernel_arguments

    spec, params, X, T, weights = _sparse_case(1, PAIRS[2])
    X = np.vstack([X, X])
    T, weights = np.vstack([T, T]), np.r_[weights, weights]
    csr = sp.csr_matrix(X)
    data, indices, indptr = (csr.data, csr.indices.astype(index_dtype),
                             csr.indptr.astype(index_dtype))
    layer_sizes, codes, loss_code = kernel_arguments(spec)
    start, stop = 2, X.shape[0] - 1

    @numba.njit
    def batch_gradient(grad):
        return kernels.csr_loss_and_gradient(params, layer_sizes, codes, loss_code, data,
                                             indices, indptr[start:stop + 1], X.shape[1],
                                             T[start:stop], weights[start:stop], grad)

    grad = np.empty_like(params)
    loss = batch_gradient(grad)
    expected_grad = np.empty_like(params)
    expected = kernels.loss_and_gradient_weighted(
        params, layer_sizes, codes, loss_code, X[start:stop], T[start:stop],
        weights[start:stop], expected_grad)
    assert relative_difference(loss, expected) <= 1e-12
    assert relative_difference(grad, expected_grad) <= 1e-12
    Y = np.empty((stop - start, spec.n_outputs))
    assert kernels.csr_forward_into(params, layer_sizes, codes, data, indices,
                                    indptr[start:stop + 1], X.shape[1], Y)
    assert relative_difference(Y, kernels.forward(params, layer_sizes, codes,
                                                  X[start:stop])) <= 1e-12


def test_weighted_kernels_with_no_weights_are_the_unweighted_kernels_bit_for_bit():
    from fastnn.backends.numba_backend import kernel_arguments

    spec, params, X, T = random_case(np.random.default_rng(4), "silu", "softmax",
                                     "cross_entropy")
    layer_sizes, codes, loss_code = kernel_arguments(spec)
    grad, weighted_grad = np.empty_like(params), np.empty_like(params)
    none = np.empty(0)
    loss = kernels.loss_and_gradient(params, layer_sizes, codes, loss_code, X, T, grad)
    weighted = kernels.loss_and_gradient_weighted(params, layer_sizes, codes, loss_code, X, T,
                                                  none, weighted_grad)
    assert loss == weighted
    np.testing.assert_array_equal(grad, weighted_grad)
    assert kernels.weighted_loss(params, layer_sizes, codes, loss_code, X, T, none) == \
        kernels.loss(params, layer_sizes, codes, loss_code, X, T)
