"""Fuzzing the public API on every backend (hypothesis).

Every generated call either matches the pure-Python reference or raises ValueError /
TypeError with a message; never another exception, a silent NaN, a mutated input or a
half-updated network. Outcomes are counted and printed at the end of the run
(``fuzz outcomes``). ``HYPOTHESIS_PROFILE=long`` (``tox -e fuzz``) runs many more cases.
"""

import warnings

import numpy as np
import pytest
from conftest import FAST_BACKENDS, FUZZ_OUTCOMES, REFERENCE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastnn import MLP
from fastnn.params import flatten
from fastnn.spec import HIDDEN_ACTIVATIONS, LOSSES, OUTPUT_ACTIVATIONS
from fastnn.testing import TOLERANCE, near_log_clip, relative_difference

EXTREME_VALUES = [0.0, -0.0, 1.0, -1.0, 5e-324, -5e-324, 2.2e-308, 1e-300, 1e30, -1e30,
                  1e150, 1e300, -1e300, np.nan, np.inf, -np.inf]
# Valid kinds are listed several times so that most cases get past validation.
DTYPES = ["float64"] * 6 + ["float32"] * 3 + ["float16", "int64", "int8", "uint8", "bool",
                                              "complex128", "str", "object"]
LAYOUTS = ["C"] * 3 + ["F", "strided", "read-only", "list"]


@st.composite
def networks(draw):
    sizes = draw(st.lists(st.integers(1, 5), min_size=2, max_size=4))
    return MLP(sizes, activation=draw(st.sampled_from(HIDDEN_ACTIVATIONS)),
               output_activation=draw(st.sampled_from(OUTPUT_ACTIVATIONS)),
               loss=draw(st.sampled_from(LOSSES)), backend=REFERENCE,
               seed=draw(st.integers(0, 1000)))


@st.composite
def arrays_like(draw, rows, columns, low=-3.0):
    """An array-like that is usually a valid one (the right shape, a float dtype, finite
    values in [low, 3]: three cases in four), otherwise anything of the kinds below."""
    if draw(st.integers(0, 3)):
        values = draw(st.lists(st.floats(low, 3.0), min_size=rows * columns,
                               max_size=rows * columns))
        array = np.array(values, dtype=np.float64).reshape(rows, columns)
        return _retype(array, draw(st.sampled_from(["float64", "float64", "float32"])),
                       draw(st.sampled_from(LAYOUTS)))
    shape = draw(st.sampled_from([
        (rows, columns), (rows, columns), (rows, columns), (rows, columns), (columns,),
        (rows + 1, columns + 1), (rows, columns, 1), (),
    ]))
    size = int(np.prod(shape))
    if draw(st.booleans()):
        values = draw(st.lists(st.floats(-10, 10), min_size=size, max_size=size))
    else:
        values = draw(st.lists(st.one_of(st.floats(-10, 10), st.sampled_from(EXTREME_VALUES)),
                               min_size=size, max_size=size))
    array = np.array(values, dtype=np.float64).reshape(shape)
    return _retype(array, draw(st.sampled_from(DTYPES)), draw(st.sampled_from(LAYOUTS)))


def _retype(array, dtype, layout):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # casting NaN/inf to int
        if dtype == "str":
            array = array.astype(str)
        elif dtype == "object":
            array = array.astype(object)
        else:
            array = array.astype(dtype)
    if layout == "F":
        return np.asfortranarray(array)
    if layout == "strided" and array.ndim >= 1:
        doubled = np.repeat(array, 2, axis=-1)
        return doubled[..., ::2]
    if layout == "read-only":
        array.flags.writeable = False
        return array
    if layout == "list":
        return array.tolist()
    return array


@st.composite
def calls(draw):
    net = draw(networks())
    rows = draw(st.sampled_from([0, 1, 1, 2, 3, 4, 4]))
    X = draw(arrays_like(rows, net.spec.n_inputs))
    T = draw(arrays_like(rows, net.spec.n_outputs, low=0.0))  # valid for every loss
    op = draw(st.sampled_from(["forward", "loss", "gradients", "train_step"]))
    rate = draw(st.one_of(*[st.floats(1e-3, 1.0)] * 7,
                          st.sampled_from([0.0, -1.0, np.nan, np.inf, "0.1", True])))
    return net, op, X, T, rate


def _run(net, op, X, T, rate):
    if op == "forward":
        return net.forward(X)
    if op == "loss":
        return net.loss(X, T)
    if op == "gradients":
        loss, dweights, dbiases = net.gradients(X, T)
        return np.append(flatten(dweights, dbiases), loss)
    return np.append(net.train_step(X, T, rate), net.flat_parameters)


def _outcome(net, op, X, T, rate):
    """('ok', result) or ('error', exception type) for one call, checking it changed nothing."""
    before_params = net.flat_parameters.copy()
    before_X, before_T = _snapshot(X), _snapshot(T)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NumPy overflow warnings
            result = np.asarray(_run(net, op, X, T, rate), dtype=np.float64)
    except (ValueError, TypeError) as error:
        assert str(error), "an error without a message"
        np.testing.assert_array_equal(net.flat_parameters, before_params)
        return "error", type(error), str(error)
    finally:
        _assert_unchanged(X, before_X)
        _assert_unchanged(T, before_T)
    assert np.isfinite(result).all(), f"silent non-finite result from {op}"
    return "ok", result


def _snapshot(value):
    return np.array(value, dtype=object, copy=True) if not isinstance(value, list) \
        else repr(value)


def _assert_unchanged(value, snapshot):
    if isinstance(value, list):
        assert repr(value) == snapshot, "the input list was mutated"
    else:
        current = np.array(value, dtype=object, copy=True)
        assert current.shape == snapshot.shape
        assert all(a == b or (a != a and b != b) for a, b in zip(current.ravel(),
                                                                  snapshot.ravel())), \
            "the input array was mutated"


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=calls())
def test_public_api_matches_the_reference_or_fails_cleanly(backend, case):
    reference, op, X, T, rate = case
    untouched = reference.copy()
    other = reference.with_backend(backend)
    expected = _outcome(reference, op, X, T, rate)
    actual = _outcome(other, op, X, T, rate)
    if expected[0] == "error" or actual[0] == "error":
        # Both fail, or one overflowed where the other (summing in another order) did not.
        if expected[0] != actual[0]:
            error, result = (expected, actual[1]) if expected[0] == "error" else \
                (actual, expected[1])
            assert _is_overflow_boundary(error, X, T, result), (
                f"only {'the reference' if error is expected else backend} raised "
                f"{error[1].__name__}: {error[2]}; not an overflow boundary")
            FUZZ_OUTCOMES[f"{op}: overflow boundary (checked)"] += 1
            return
        assert expected[1] is actual[1], f"{backend} raised {actual[1]}, reference {expected[1]}"
        FUZZ_OUTCOMES[f"{op}: clean error"] += 1
        return
    if op != "forward" and near_log_clip(untouched.spec, untouched.forward(X)):
        # The clipped log's slope is discontinuous there (see near_log_clip).
        FUZZ_OUTCOMES[f"{op}: at the log clip edge, not compared"] += 1
        return
    # floor=1: saturated gradients are ~1e-16 and only absolutely accurate.
    assert relative_difference(actual[1], expected[1], floor=1.0) <= 10 * TOLERANCE["float64"]
    FUZZ_OUTCOMES[f"{op}: matches reference"] += 1


# Magnitudes from which a float32 or float64 sum or product of the network's values can
# overflow in one summation order and not in another; valid inputs here stay below 3.
OVERFLOW_SCALE = 1e30


def _is_overflow_boundary(error, X, T, result):
    """Whether one backend's error, where another succeeded, is an overflow: the error
    says a computed value is not finite, and the inputs or the other backend's result
    hold values large enough to overflow."""
    if error[1] is not ValueError or "not finite" not in error[2]:
        return False
    largest = 0.0
    for values in (X, T, result):
        try:
            array = np.abs(np.asarray(values, dtype=np.float64))
        except (TypeError, ValueError):
            continue
        finite = array[np.isfinite(array)]
        if finite.size:
            largest = max(largest, float(finite.max()))
    return largest >= OVERFLOW_SCALE


def test_a_one_sided_error_counts_as_an_overflow_only_where_it_is_one():
    """The fuzz test used to accept any error raised by one backend alone."""
    small, huge = np.ones((2, 3)), np.full((2, 3), 1e200)
    not_finite = ("error", ValueError, "the loss is not finite (NaN or infinity): ...")
    assert _is_overflow_boundary(not_finite, huge, small, np.ones(2))
    assert _is_overflow_boundary(not_finite, small, small, np.full(2, 1e35))
    assert not _is_overflow_boundary(not_finite, small, small, np.ones(2))
    shape_error = ("error", ValueError, "X has 2 features per sample, but ...")
    assert not _is_overflow_boundary(shape_error, huge, small, np.ones(2))
    assert not _is_overflow_boundary(("error", TypeError, "not finite"), huge, small, small)
