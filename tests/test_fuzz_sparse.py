"""Fuzzing sparse inputs and sample weights on every backend (hypothesis).

Random sparse structure (CSR, CSC, COO; empty rows, duplicates, unsorted indices) and,
one case in three, a malformed one (an index out of range or negative, ``indptr`` not
monotone or past the data, arrays of disagreeing lengths), with weights that are mostly
valid and sometimes not (negative, NaN, all zero, the wrong length, a sum that
overflows). Each backend must match the pure-Python reference (its result, or the same
error type); a malformed matrix is a ValueError saying so, on every backend, and leaves
the network unchanged. The example budget is a third of the profile's
(``tests/conftest.py``): 50 per backend by default, 1000 with ``HYPOTHESIS_PROFILE=long``.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import FAST_BACKENDS, FUZZ_OUTCOMES, REFERENCE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastnn import MLP
from fastnn.params import flatten
from fastnn.spec import HIDDEN_ACTIVATIONS
from fastnn.testing import TOLERANCE, relative_difference

MALFORMATIONS = ["index_out_of_range", "index_negative", "indptr_decreasing",
                 "indptr_past_data", "indices_short"]


@st.composite
def sparse_matrices(draw, rows, columns):
    """(matrix, malformation or None)."""
    mask = np.array(draw(st.lists(st.booleans(), min_size=rows * columns,
                                  max_size=rows * columns)), dtype=bool).reshape(rows, columns)
    values = np.array(draw(st.lists(st.floats(-3, 3), min_size=rows * columns,
                                    max_size=rows * columns))).reshape(rows, columns)
    matrix = sp.csr_matrix(values * mask)
    fmt = draw(st.sampled_from(["csr", "csr", "csc", "coo"]))
    if fmt == "coo" and matrix.nnz and draw(st.booleans()):  # duplicates, unsorted
        coo = matrix.tocoo()
        order = draw(st.permutations(range(coo.nnz)))
        half = coo.data[order] / 2
        matrix = sp.coo_matrix((np.concatenate([half, half]),
                                (np.tile(coo.row[order], 2), np.tile(coo.col[order], 2))),
                               shape=coo.shape)
    else:
        matrix = matrix.asformat(fmt)
    if not matrix.nnz or draw(st.integers(0, 2)):
        return matrix, None
    malformation = draw(st.sampled_from(MALFORMATIONS if fmt != "coo" else MALFORMATIONS[:2]))
    _malform(matrix, malformation, draw(st.integers(0, matrix.nnz - 1)),
             draw(st.integers(1, 10**6)))
    return matrix, malformation


def _malform(matrix, how, position, amount):
    if matrix.format == "coo":
        index, size = matrix.col, matrix.shape[1]
    else:
        index = matrix.indices
        size = matrix.shape[1] if matrix.format == "csr" else matrix.shape[0]
    if how == "index_out_of_range":
        index[position] = size - 1 + amount
    elif how == "index_negative":
        index[position] = -amount
    elif how == "indptr_decreasing":
        major = len(matrix.indptr) - 1
        matrix.indptr[1 + position % major] = -amount
    elif how == "indptr_past_data":
        matrix.indptr[-1] = matrix.nnz + amount
    else:
        matrix.indices = matrix.indices[:-1]


@st.composite
def sample_weights(draw, rows):
    kind = draw(st.sampled_from(["none", "none"] + ["valid"] * 6 + ["negative", "nan",
                                 "zero", "length", "overflow"]))
    if kind == "none":
        return None
    weights = np.array(draw(st.lists(st.floats(0.1, 10), min_size=rows, max_size=rows)))
    if kind == "negative":
        weights[0] = -1.0
    elif kind == "nan":
        weights[-1] = np.nan
    elif kind == "zero":
        weights[:] = 0.0
    elif kind == "length":
        weights = np.append(weights, 1.0)
    elif kind == "overflow":
        weights[:] = 1.7e308
    return weights


@st.composite
def cases(draw):
    sizes = draw(st.lists(st.integers(1, 5), min_size=2, max_size=3))
    loss = draw(st.sampled_from(["mse", "cross_entropy", "binary_cross_entropy"]))
    net = MLP(sizes, activation=draw(st.sampled_from(HIDDEN_ACTIVATIONS)), loss=loss,
              backend=REFERENCE, seed=draw(st.integers(0, 1000)))
    rows = draw(st.integers(1, 6))
    X, malformation = draw(sparse_matrices(rows, sizes[0]))
    T = np.array(draw(st.lists(st.floats(0, 1), min_size=rows * sizes[-1],
                               max_size=rows * sizes[-1]))).reshape(rows, sizes[-1])
    op = draw(st.sampled_from(["forward", "loss", "gradients", "train_step"]))
    return net, op, X, malformation, T, draw(sample_weights(rows))


def _run(net, op, X, T, weights):
    if op == "forward":
        return net.forward(X)
    if op == "loss":
        return net.loss(X, T, sample_weight=weights)
    if op == "gradients":
        loss, dweights, dbiases = net.gradients(X, T, sample_weight=weights)
        return np.append(flatten(dweights, dbiases), loss)
    return np.append(net.train_step(X, T, 0.05, sample_weight=weights), net.flat_parameters)


def _outcome(net, op, X, T, weights):
    before = net.flat_parameters.copy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return "ok", np.asarray(_run(net, op, X, T, weights), dtype=np.float64)
    except (ValueError, TypeError) as error:
        assert str(error)
        np.testing.assert_array_equal(net.flat_parameters, before)
        return "error", type(error), str(error)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
          max_examples=max(50, settings.default.max_examples // 3))  # default 50, long 1000
@given(case=cases())
def test_sparse_inputs_and_weights_match_the_reference_or_fail_alike(backend, case):
    reference, op, X, malformation, T, weights = case
    other = reference.with_backend(backend)
    expected = _outcome(reference, op, X, T, weights)
    actual = _outcome(other, op, X, T, weights)
    if malformation is not None:
        for outcome in (expected, actual):
            assert outcome[0] == "error" and outcome[1] is ValueError, outcome
            assert "malformed" in outcome[2], outcome[2]
        FUZZ_OUTCOMES[f"sparse {op}: malformed, refused on both"] += 1
        return
    assert expected[0] == actual[0], (expected, actual)
    if expected[0] == "error":
        assert expected[1] is actual[1], (expected, actual)
        FUZZ_OUTCOMES[f"sparse {op}: clean error on both"] += 1
        return
    assert relative_difference(actual[1], expected[1], floor=1.0) <= 10 * TOLERANCE["float64"]
    FUZZ_OUTCOMES[f"sparse {op}: matches reference"] += 1
