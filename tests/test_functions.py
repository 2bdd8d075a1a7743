"""The activation and loss tables of fastnn.functions: every form of an entry agrees."""

import math

import numpy as np
import pytest

from fastnn import functions, spec
from fastnn.functions import ACTIVATIONS, LOSSES

ELEMENTWISE = [name for name, entry in ACTIVATIONS.items() if entry.scalar is not None]
# Away from 0, where relu, leaky_relu and elu have a kink.
Z = np.concatenate([np.linspace(-30, -0.01, 200), np.linspace(0.01, 30, 200)])


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_pure_python_scalars_match_the_numpy_forms(name):
    entry = ACTIVATIONS[name]
    A = entry.function(Z.reshape(1, -1))
    scalar = np.array([entry.scalar(float(z)) for z in Z])
    np.testing.assert_allclose(scalar, A[0], rtol=1e-14, atol=1e-300)
    derivative = entry.derivative(Z.reshape(1, -1), A)[0]
    scalar_derivative = [entry.scalar_derivative(float(z), a) for z, a in zip(Z, scalar)]
    # Absolute: 1 - a * a cancels where tanh saturates, magnifying a 1-ulp difference.
    np.testing.assert_allclose(scalar_derivative, derivative, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivatives_match_central_differences(name):
    entry = ACTIVATIONS[name]
    step = 1e-6
    numeric = (entry.function(Z + step) - entry.function(Z - step)) / (2 * step)
    analytic = entry.derivative(Z.reshape(1, -1), entry.function(Z.reshape(1, -1)))[0]
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivatives_that_do_not_need_z_ignore_it(name):
    entry = ACTIVATIONS[name]
    if entry.derivative_needs_z:
        pytest.skip(f"{name}'s derivative reads Z")
    A = entry.function(Z.reshape(1, -1))
    np.testing.assert_array_equal(entry.derivative(None, A), entry.derivative(Z, A))
    assert all(entry.scalar_derivative(None, a) == entry.scalar_derivative(z, a)
               for z, a in zip(Z, A[0]))


def test_row_activation_pure_python_form_matches_numpy():
    for entry in ACTIVATIONS.values():
        if entry.scalar is None:
            z = [5.0, 1.0, -3.0, 0.5]
            np.testing.assert_allclose(entry.sample_activate(z),
                                       entry.function(np.array([z]))[0], rtol=1e-15)


def test_stable_logs_match_the_log_of_the_output():
    Z = np.linspace(-20, 20, 41).reshape(1, -1)
    for entry in ACTIVATIONS.values():
        stable = entry.stable_log
        if stable is None:
            continue
        Y = entry.function(Z)
        # Absolute near 0: log(Y) of a rounded Y near 1 is only that accurate.
        np.testing.assert_allclose(stable.log(Z), np.log(Y), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(stable.sample_log(list(Z[0])), stable.log(Z)[0], rtol=1e-14)
        if stable.log_one_minus is not None:
            np.testing.assert_allclose(stable.log_one_minus(Z[:, :21]), np.log1p(-Y[:, :21]),
                                       rtol=1e-9)


def test_the_spec_names_come_from_the_tables():
    assert spec.HIDDEN_ACTIVATIONS == tuple(n for n, e in ACTIVATIONS.items() if e.hidden)
    assert spec.OUTPUT_ACTIVATIONS == tuple(n for n, e in ACTIVATIONS.items() if e.output)
    assert spec.LOSSES == tuple(LOSSES)
    assert all(spec.DEFAULT_OUTPUT_ACTIVATION[name] in spec.OUTPUT_ACTIVATIONS
               for name in LOSSES)
    assert {name for name, loss in LOSSES.items() if loss.classification} == {
        "cross_entropy", "binary_cross_entropy"}


def test_the_numba_kernels_implement_every_entry():
    from fastnn.backends import _numba_kernels as kernels
    assert set(kernels.ACTIVATION_CODES) == set(ACTIVATIONS)
    assert set(kernels.LOSS_CODES) == set(LOSSES)
    assert sorted(kernels.ACTIVATION_CODES.values()) == list(range(len(ACTIVATIONS)))
    assert sorted(kernels.LOSS_CODES.values()) == list(range(len(LOSSES)))
    for name, code in kernels.ACTIVATION_CODES.items():
        assert kernels.NEEDS_Z[code] == ACTIVATIONS[name].derivative_needs_z


def test_an_entry_without_a_numba_version_is_refused_by_name():
    from fastnn.backends import _numba_kernels as kernels
    table = dict(ACTIVATIONS, brand_new=ACTIVATIONS["identity"])
    with pytest.raises(ImportError, match="brand_new"):
        kernels._codes(table, tuple(ACTIVATIONS), "activation")


def test_a_table_refuses_two_entries_of_one_name():
    with pytest.raises(ValueError, match="share a name"):
        functions._table(LOSSES["mse"], LOSSES["mse"])


def test_init_families_are_known():
    with pytest.raises(ValueError, match="init must be one of"):
        functions.Activation("odd", np.abs, None, abs, None, init="lecun")
    assert math.isclose(ACTIVATIONS["identity"].scalar(2.5), 2.5)
