"""The vectorisable element-wise functions of ``fastnn/backends/_numba_math.py`` against
NumPy's in long double (x86's 80-bit extended): errors in ulps of the result's dtype over
dense grids with the edge values, NaN and infinity; float32 computed in float32; every
loop vectorised.

One compiled signature per function and dtype (the in-place loops, one probe kernel for
the three building blocks, and uncached copies of the activation loops to read their
LLVM IR): about 5 s of compilation in all.
"""

import numba
import numpy as np
import pytest

from fastnn import config
from fastnn.backends import _numba_math as fm

WIDE = np.longdouble
# float64's truth needs a wider type (x86's 80-bit long double; not on every platform).
DTYPES = (np.float32, np.float64)
MEASURED_DTYPES = (np.float32, pytest.param(np.float64, marks=pytest.mark.skipif(
    np.finfo(WIDE).eps >= np.finfo(np.float64).eps, reason="long double is float64 here")))


def _grid(dtype):
    """Dense values over the functions' whole range, tiny ones, and the edges."""
    rng = np.random.default_rng(0)
    if dtype == np.float64:
        top, moderate, tiny, edges = 800.0, 40.0, -320, [
            709.78, 709.782712893384, np.nextafter(709.782712893384, 0), 709.79,
            -708.39, -745.1332191019411, -745.1332191019412, -745.2, -37.5, -36.7,
            np.finfo(np.float64).max, 5e-324, 1e-300, 2.2250738585072014e-308]
    else:
        top, moderate, tiny, edges = 120.0, 20.0, -46, [
            88.72283, 88.722839, 88.7228394, 88.73, -87.33, -103.27893, -103.972,
            -103.97208, -104.5, -17.33, -16.6, np.finfo(np.float32).max, 1e-45, 1e-38]
    values = np.concatenate([
        np.linspace(-top, top, 100001), rng.uniform(-moderate, moderate, 50000),
        np.logspace(tiny, 1, 10001), -np.logspace(tiny, 1, 10001),
        edges, np.negative(edges), [0.0, -0.0, np.inf, -np.inf, np.nan]])
    return values.astype(dtype)


def _ulps(actual, truth):
    """``|actual - truth|`` in ulps of ``actual``'s dtype at the rounded truth (the
    smallest subnormal at 0); the values whose rounded truth is finite."""
    with np.errstate(over="ignore"):  # overflow to inf; the spacing at the largest float
        rounded = truth.astype(actual.dtype)
        finite = np.isfinite(rounded)
        spacing = np.spacing(np.abs(rounded[finite])).astype(WIDE)
    return np.abs(actual[finite].astype(WIDE) - truth[finite]) / spacing


def _sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


TRUTH = {
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
    "softplus": lambda z: np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))),
    "silu": lambda z: z * _sigmoid(z),
    "exp": np.exp,
}
# Bounds in ulps of the dtype from the long-double truth, float64 and float32 alike; the
# measured maxima, a little below, are in the module's docstring. (NumPy's own float64
# forms reach 2.3 ulp for the sigmoid, 1.4 for softplus; its float32 exp 2.4, sigmoid 3.1.)
BOUND = {"sigmoid": 2.5, "tanh": 1.5, "elu": 1.5, "softplus": 2.0, "silu": 3.5, "exp": 1.5}


def _case(name, dtype):
    values = _grid(dtype)
    actual = values.copy()
    fm.ACTIVATE_IN_PLACE[name](actual)
    with np.errstate(all="ignore"):
        truth = TRUTH[name](values.astype(WIDE))
    return values, actual, truth


@pytest.mark.parametrize("dtype", MEASURED_DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", sorted(fm.ACTIVATE_IN_PLACE))
def test_activation_within_its_ulp_bound_and_special_values_as_numpy(name, dtype):
    values, actual, truth = _case(name, dtype)
    assert actual.dtype == dtype
    # silu multiplies a subnormal sigmoid's absolute error by |z|: measured where the
    # sigmoid is normal.
    measured = ~((name == "silu") & (_sigmoid(values.astype(WIDE)) < np.finfo(dtype).tiny))
    assert _ulps(actual[measured], truth[measured]).max() <= BOUND[name]
    # inf (overflow of exp, +-inf in), NaN (in, and -inf * 0 in silu) exactly as NumPy.
    with np.errstate(over="ignore"):
        rounded = truth.astype(dtype)
    special = ~np.isfinite(rounded)
    np.testing.assert_array_equal(actual[special], rounded[special])
    assert np.isnan(actual[np.isnan(values)]).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_saturating_functions_stay_finite_and_exp_overflows_where_numpy_does(dtype):
    big = np.array([np.finfo(dtype).max, 1e4, -1e4, -np.finfo(dtype).max], dtype=dtype)
    for name in ("sigmoid", "tanh", "softplus", "elu"):
        values = big.copy()
        fm.ACTIVATE_IN_PLACE[name](values)
        assert np.isfinite(values).all(), name
    limit = np.log(np.finfo(dtype).max)  # rounded: one side of it overflows
    edge = np.array([np.nextafter(limit, 0), limit, np.nextafter(limit, np.inf)], dtype)
    with np.errstate(over="ignore"):
        expected = np.exp(edge.astype(np.float64)).astype(dtype)
    fm.exp_in_place(edge)
    np.testing.assert_array_equal(np.isinf(edge), np.isinf(expected))


DERIVATIVE = {
    "sigmoid": lambda z, a: a * (1 - a),
    "tanh": lambda z, a: 1 - a * a,
    "elu": lambda z, a: np.where(a > 0, 1, a + 1),
    "softplus": lambda z, a: -np.expm1(-a),
    "silu": lambda z, a: _sigmoid(z) + z * _sigmoid(z) * (1 - _sigmoid(z)),
    "exp": lambda z, a: a,
}


@pytest.mark.parametrize("dtype", MEASURED_DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name", sorted(fm.TIMES_DERIVATIVE))
def test_times_derivative_multiplies_by_the_derivative_at_z_and_a(name, dtype):
    z, a, _ = _case(name, dtype)
    gradient = np.random.default_rng(1).uniform(-2, 2, z.shape[0]).astype(dtype)
    actual = gradient.copy()
    fm.TIMES_DERIVATIVE[name](z, a, actual)
    assert np.isnan(actual[np.isnan(z)]).all()
    if name not in ("softplus", "silu"):
        # Products and sums of a alone: the same operations as NumPy's, bit for bit.
        with np.errstate(all="ignore"):
            expected = gradient * DERIVATIVE[name](z, a).astype(dtype)
        np.testing.assert_array_equal(actual, expected)
        return
    wide_z = z.astype(WIDE)
    with np.errstate(all="ignore"):
        truth = gradient * DERIVATIVE[name](wide_z, a.astype(WIDE))
        # silu's s + z s (1 - s) cancels near z = -1.28: errors relative to its terms.
        scale = np.abs(gradient * _sigmoid(wide_z) * (1 + np.abs(wide_z))
                       if name == "silu" else truth)
    # Where the sigmoid is normal (its subnormal absolute error, times z, is not).
    tiny = np.finfo(dtype).tiny
    measured = np.isfinite(truth) & (_sigmoid(wide_z) >= tiny) & (scale >= tiny)
    error = np.abs(actual[measured] - truth[measured]) / scale[measured]
    assert error.max() <= 4 * np.finfo(dtype).eps


@numba.njit(**dict(config.JIT_OPTIONS, cache=False))
def _probe(code, values):
    for k in range(values.shape[0]):
        if code == 0:
            values[k] = fm.exp_nonpositive(values[k])
        elif code == 1:
            values[k] = fm.expm1_nonpositive(values[k])
        else:
            values[k] = fm.log1p_unit(values[k])


@pytest.mark.parametrize("dtype", MEASURED_DTYPES, ids=lambda d: d.__name__)
def test_building_blocks_on_their_domains(dtype):
    grid = _grid(dtype)
    nonpositive = np.concatenate([-np.abs(grid), [np.nan]]).astype(dtype)
    unit = np.concatenate([np.linspace(0, 1, 300001), np.logspace(-320, 0, 10001),
                           [0.5, np.sqrt(2) - 1, np.nan]]).astype(dtype)
    for code, (values, truth) in enumerate(((nonpositive, np.exp), (nonpositive, np.expm1),
                                            (unit, np.log1p))):
        actual = values.copy()
        _probe(code, actual)
        assert _ulps(actual, truth(values.astype(WIDE))).max() <= 2, code
        assert np.isnan(actual[np.isnan(values)]).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_loops_vectorise_in_their_own_precision(dtype):
    values = np.linspace(-5, 5, 64, dtype=dtype)
    lanes = "x float>" if dtype == np.float32 else "x double>"
    for name, function in fm.ACTIVATE_IN_PLACE.items():
        # A copy outside the on-disk cache, whose code Numba cannot inspect.
        uncached = numba.njit(**dict(config.JIT_OPTIONS, cache=False))(function.py_func)
        uncached(values)
        ir = uncached.inspect_llvm(uncached.signatures[0])
        # Vector arithmetic (the scalar bodies inlined), and float32 without float64.
        assert lanes in ir, name
        assert dtype == np.float64 or "double" not in ir, name


def test_stubs_refuse_python_calls_and_other_types():
    with pytest.raises(TypeError, match="only callable from Numba-compiled code"):
        fm.sigmoid(0.5)
    with pytest.raises(numba.TypingError):
        fm.sigmoid_in_place(np.arange(3))
