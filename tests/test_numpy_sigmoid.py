"""The NumPy sigmoid used before SciPy is imported: SciPy's expit, bit for bit or nearly."""

import warnings

import numpy as np
import pytest
from scipy.special import expit

from fastnn import functions


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_numpy_form_matches_expit_without_warnings(dtype):
    z = np.concatenate([np.linspace(-800, 800, 20001), [-np.inf, np.inf, 0.0, -0.0]])
    z = z.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = functions._numpy_sigmoid(z)
    assert ours.dtype == z.dtype
    reference = expit(z)
    tolerance = 1e-15 if dtype == "float64" else 1e-6
    np.testing.assert_allclose(ours, reference, rtol=tolerance, atol=0)
    assert np.isnan(functions._numpy_sigmoid(np.array([np.nan], dtype=dtype)))[0]


def test_a_scalar_and_the_input_left_alone():
    assert functions._numpy_sigmoid(np.float64(0.0)) == 0.5
    z = np.array([[-1.0, 2.0]])
    functions._numpy_sigmoid(z)
    np.testing.assert_array_equal(z, [[-1.0, 2.0]])
