"""Element-wise transcendental functions for the Numba kernels, in a form LLVM vectorises.

The kernels' activations used to call scalar ``math`` functions (``tanh``, ``expm1``,
``log1p``, ``exp``), which LLVM cannot vectorise without SVML (pip's llvmlite has none),
and a float64 polynomial even for float32 networks. This module owns branch-free
replacements, each evaluated in the precision of its argument: float32 in, float32
arithmetic throughout (every constant is a float32; nothing is promoted to float64), so
an in-place loop over a float32 array takes 8 values per AVX2 vector (float64: 4).
They only use the fast-math flags of :mod:`fastnn.config` (``nsz``), and in float32 also
``contract``, so that their polynomials and reductions run as fused multiply-adds (half the
operations: the float32 sigmoid and tanh loops 1.4x faster on an AMD EPYC; the accuracy
table below holds; the derivatives stay unfused, NumPy's roundings): NaN in gives NaN out,
and +-inf give libm's results.

How it works: ``x = n ln2 + r`` with ``|r| <= ln2 / 2`` (Cody-Waite, ln2 in two parts);
``n`` is rounded by adding ``1.5 * 2**p`` (``p`` the mantissa width), which leaves it in
the low mantissa bits, so ``2**n`` is built from those bits by integer adds and a shift
(no float -> int conversion, which AVX2 lacks for float64 and which would turn NaN into
poison); ``e**r - 1`` is a polynomial fitted by Chebyshev interpolation (float64: degree
11; float32: degree 6). ``log1p`` reduces ``1 + u`` to ``2**k (1 + f)`` with
``|f/(2+f)| <= 0.1716`` and uses fdlibm's polynomial in ``s = f/(2+f)`` (7 terms for
float64, 4 for float32). ``tanh`` uses Cephes' forms (a rational function / polynomial
below 0.625, ``1 - 2e/(1 + e)`` with ``e = e**-2|z|`` above).

Dispatch happens at compile time: each public scalar name below is a stub registered
with :func:`numba.extending.overload`; for a float32 or float64 argument it compiles the
one generic body with the constants (and polynomial) of that precision; any other
argument type is a typing error. The stubs are callable only from compiled code. Each
body is compiled as a function that LLVM must inline (Numba's ``forceinline``), so a
loop calling it vectorises; an in-place loop compiles in 0.1-0.6 s per dtype.

Scalar functions (``x``: a float32 or float64 scalar; the result has its type). Accuracy:
the largest error over grids like those of ``tests/test_numba_math.py`` at twice their
density and over 4 million random values (the tests assert bounds a little above), in
ulps of the result's dtype, against NumPy in long double; in brackets NumPy's own
float64 / float32 forms on the grid:

===================== ================================ ==================================
name                  value                            max error float64 / float32 (NumPy)
===================== ================================ ==================================
``exp(x)``            e**x, inf from ln(max) on        1.04 (0.68) / 1.02 (2.44)
``exp_nonpositive``   e**x for x <= 0 (or NaN)         0.98 / 1.00
``expm1_nonpositive`` e**x - 1 for x <= 0 (or NaN)     1.07 / 0.98
``log1p_unit(u)``     log(1 + u) for 0 <= u <= 1       0.82 / 0.78
``sigmoid(z)``        1/(1+e**-z), e**z/(1+e**z) z<0   2.28 (2.28) / 2.25 (3.12)
``tanh(z)``           Cephes' forms, see ``_tanh``     1.41 (1.14) / 1.37 (1.33)
``softplus(z)``       max(z,0) + log1p(e**-|z|)        1.59 (1.41) / 1.57 (2.71)
``elu(z)``            z if z>0 else alpha*expm1(z)     1.12 (0.50) / 1.05 (1.93)
``silu(z)``           z * sigmoid(z)                   2.97 (2.97) / 2.93 (3.93)
===================== ================================ ==================================

From NumPy's float64 forms (libm) they differ by at most 1 ulp (exp, elu), 2 (sigmoid,
tanh, softplus) or 3 (silu). float32 results are within 3 float32 ulps of the truth,
a relative 2.1e-7 (the cross-backend contract for float32 is 1e-4). Results in the
subnormal range are within an ulp of the smallest subnormal (silu multiplies that by
``|z|``); NaN gives NaN; sigmoid, tanh and softplus never overflow; exp overflows to inf
where NumPy's does.

Derivatives, all ``f'(z, a)`` of the pre-activation ``z`` and the output ``a = f(z)``
(the kernels' ``_derivative(code, z, a)`` forms; only silu reads ``z``):
``sigmoid_derivative`` ``a (1 - a)``, ``tanh_derivative`` ``1 - a**2``,
``elu_derivative`` ``1 if a > 0 else a + alpha``, ``softplus_derivative`` ``-expm1(-a)``,
``silu_derivative`` ``s + z s (1 - s)`` with ``s = sigmoid(z)``, ``exp_derivative`` ``a``.

In-place loops (compiled entry points, callable from Python and from kernels; each takes
1-D C-contiguous arrays of one float dtype, of equal length; a kernel passes
``Z.reshape(Z.size)``):

``ACTIVATE_IN_PLACE[name](values)``: ``values = f(values)``, for the names
``sigmoid, tanh, elu, softplus, silu, exp`` (``sigmoid_in_place`` ... ``exp_in_place``).
``TIMES_DERIVATIVE[name](z, a, g)``: ``g *= f'(z, a)``, the same names
(``times_sigmoid_derivative`` ... ``times_exp_derivative``); ``z`` is only read by silu
(pass ``a`` for ``z`` elsewhere).

relu, leaky_relu and identity need no transcendental function and softmax works per
row, so they stay with the kernels. A kernel body may also call the scalar stubs inside
its own fused loops (e.g. ``Z[i, j] = sigmoid(Z[i, j] + b[j])``).
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from llvmlite import ir as llvm_ir
from numba import types
from numba.extending import intrinsic, overload

from fastnn import config
from fastnn.functions import ELU_ALPHA

__all__ = [
    "ACTIVATE_IN_PLACE", "TIMES_DERIVATIVE",
    "exp", "exp_nonpositive", "expm1_nonpositive", "log1p_unit",
    "sigmoid", "tanh", "softplus", "elu", "silu",
    "sigmoid_derivative", "tanh_derivative", "elu_derivative", "softplus_derivative",
    "silu_derivative", "exp_derivative",
    "sigmoid_in_place", "tanh_in_place", "elu_in_place", "softplus_in_place",
    "silu_in_place", "exp_in_place",
    "times_sigmoid_derivative", "times_tanh_derivative", "times_elu_derivative",
    "times_softplus_derivative", "times_silu_derivative", "times_exp_derivative",
]


def _entry(py_function):
    """``numba.njit`` with :data:`fastnn.config.JIT_OPTIONS` (without the on-disk cache
    where Numba finds nowhere writable to keep it, as the kernels do)."""
    return config.njit(py_function, **config.JIT_OPTIONS)


# The scalar bodies compile as functions of their own, marked for LLVM to inline always
# (forceinline) into the loops that call them, which then vectorise. Numba's own IR
# inlining (inline="always") took ten times as long to compile (0.3 -> 3 s for the float64
# sigmoid loop); without forceinline LLVM kept the float64 softplus a call, and its loop
# scalar.
_SCALAR_OPTIONS = {"fastmath": set(config.FASTMATH), "error_model": "numpy",
                   "forceinline": True}
# The float32 bodies take config.FASTMATH_FLOAT32 (fused multiply-adds); the float64
# bodies keep config.FASTMATH (see its note on 'contract').
_SCALAR_OPTIONS_FLOAT32 = dict(_SCALAR_OPTIONS, fastmath=set(config.FASTMATH_FLOAT32))


def _scalar(stub, fused=True):
    """Register ``stub``'s generic body (below) for float32 and float64 arguments; the
    float32 one with fused multiply-adds unless ``fused`` is False (the derivatives, which
    keep NumPy's roundings of their products and sums of ``a``)."""
    float32_options = _SCALAR_OPTIONS_FLOAT32 if fused else _SCALAR_OPTIONS

    def decorate(body_factory):
        # One registration per precision, each with its compile options.
        for float_type, options in ((types.float64, _SCALAR_OPTIONS),
                                    (types.float32, float32_options)):
            def unary(x, float_type=float_type):
                return body_factory(_PRECISIONS[x]) if x == float_type else None

            def binary(x, y, unary=unary):  # both of one float type
                return unary(x) if x == y else None

            # Numba wants the typer's arity to be the body's.
            typer = unary if body_factory(_FLOAT64).__code__.co_argcount == 1 else binary
            overload(stub, jit_options=options, strict=False)(typer)
        return body_factory

    return decorate


def _compiled_only(name):
    def stub(*args):
        raise TypeError(f"fastnn.backends._numba_math.{name} is only callable from "
                        f"Numba-compiled code; from Python use ACTIVATE_IN_PLACE")

    stub.__name__ = stub.__qualname__ = name
    stub.__doc__ = f"``{name}`` of a float32 or float64 scalar (compiled code only)."
    return stub


# --- public scalar functions (stubs; the bodies are registered below) -------------------

exp = _compiled_only("exp")
exp_nonpositive = _compiled_only("exp_nonpositive")
expm1_nonpositive = _compiled_only("expm1_nonpositive")
log1p_unit = _compiled_only("log1p_unit")
sigmoid = _compiled_only("sigmoid")
tanh = _compiled_only("tanh")
softplus = _compiled_only("softplus")
elu = _compiled_only("elu")
silu = _compiled_only("silu")
sigmoid_derivative = _compiled_only("sigmoid_derivative")
tanh_derivative = _compiled_only("tanh_derivative")
elu_derivative = _compiled_only("elu_derivative")
softplus_derivative = _compiled_only("softplus_derivative")
silu_derivative = _compiled_only("silu_derivative")
exp_derivative = _compiled_only("exp_derivative")


# --- public in-place loops -------------------------------------------------------------

@_entry
def sigmoid_in_place(values):
    """``values = sigmoid(values)``; ``values`` 1-D C-contiguous, float32 or float64."""
    for k in range(values.shape[0]):
        values[k] = sigmoid(values[k])


@_entry
def tanh_in_place(values):
    """``values = tanh(values)`` (1-D, as :func:`sigmoid_in_place`)."""
    for k in range(values.shape[0]):
        values[k] = tanh(values[k])


@_entry
def elu_in_place(values):
    """``values = elu(values)`` (alpha ``fastnn.functions.ELU_ALPHA``, 1; 1-D, as
    :func:`sigmoid_in_place`)."""
    for k in range(values.shape[0]):
        values[k] = elu(values[k])


@_entry
def softplus_in_place(values):
    """``values = softplus(values)`` (1-D, as :func:`sigmoid_in_place`)."""
    for k in range(values.shape[0]):
        values[k] = softplus(values[k])


@_entry
def silu_in_place(values):
    """``values = silu(values)`` (1-D, as :func:`sigmoid_in_place`)."""
    for k in range(values.shape[0]):
        values[k] = silu(values[k])


@_entry
def exp_in_place(values):
    """``values = exp(values)`` (1-D, as :func:`sigmoid_in_place`)."""
    for k in range(values.shape[0]):
        values[k] = exp(values[k])


@_entry
def times_sigmoid_derivative(z, a, g):
    """``g *= sigmoid'(z, a)``; ``z``, ``a``, ``g`` 1-D C-contiguous of one float dtype
    and length (``z`` is not read: pass ``a``)."""
    for k in range(g.shape[0]):
        g[k] *= sigmoid_derivative(z[k], a[k])


@_entry
def times_tanh_derivative(z, a, g):
    """``g *= tanh'(z, a)`` (as :func:`times_sigmoid_derivative`)."""
    for k in range(g.shape[0]):
        g[k] *= tanh_derivative(z[k], a[k])


@_entry
def times_elu_derivative(z, a, g):
    """``g *= elu'(z, a)`` (as :func:`times_sigmoid_derivative`)."""
    for k in range(g.shape[0]):
        g[k] *= elu_derivative(z[k], a[k])


@_entry
def times_softplus_derivative(z, a, g):
    """``g *= softplus'(z, a)`` (as :func:`times_sigmoid_derivative`)."""
    for k in range(g.shape[0]):
        g[k] *= softplus_derivative(z[k], a[k])


@_entry
def times_silu_derivative(z, a, g):
    """``g *= silu'(z, a)``; silu's derivative reads ``z`` (not ``a``)."""
    for k in range(g.shape[0]):
        g[k] *= silu_derivative(z[k], a[k])


@_entry
def times_exp_derivative(z, a, g):
    """``g *= exp'(z, a)`` (as :func:`times_sigmoid_derivative`)."""
    for k in range(g.shape[0]):
        g[k] *= exp_derivative(z[k], a[k])


ACTIVATE_IN_PLACE = {"sigmoid": sigmoid_in_place, "tanh": tanh_in_place,
                     "elu": elu_in_place, "softplus": softplus_in_place,
                     "silu": silu_in_place, "exp": exp_in_place}
TIMES_DERIVATIVE = {"sigmoid": times_sigmoid_derivative, "tanh": times_tanh_derivative,
                    "elu": times_elu_derivative, "softplus": times_softplus_derivative,
                    "silu": times_silu_derivative, "exp": times_exp_derivative}


# --- constants per precision ------------------------------------------------------------

_CONSTANT_NAMES = ("zero", "half", "one", "two", "log2e", "shift", "ln2_hi", "ln2_lo",
                   "exp_min", "exp_max", "expm1_min", "sqrt2_minus_1", "log_ln2_hi",
                   "log_ln2_lo", "tanh_switch", "tanh_exp_min", "elu_alpha")
_Constants = namedtuple("_Constants", _CONSTANT_NAMES)


def _constants(dtype, mantissa_bits, **constants):
    """The constants of one float type, as values of that type (so that Numba types every
    expression that uses them in that precision); a named tuple, which the bodies close
    over as a compile-time constant."""
    values = dict(zero=0.0, half=0.5, one=1.0, two=2.0, log2e=1.4426950408889634,
                  # Adding 1.5 * 2**p rounds to an integer, left in the low mantissa bits.
                  shift=1.5 * 2.0 ** mantissa_bits,
                  tanh_switch=0.625,  # Cephes' bound between tanh's two forms
                  sqrt2_minus_1=math.sqrt(2.0) - 1.0,  # log1p's bound between k = 0, 1
                  elu_alpha=ELU_ALPHA,
                  **constants)
    return _Constants(**{name: dtype.type(values[name]) for name in _CONSTANT_NAMES})


_FLOAT64 = _constants(
    np.dtype(np.float64), 52,
    ln2_hi=6.93147180369123816490e-01,  # low bits zero: n * ln2_hi is exact
    ln2_lo=1.90821492927058770002e-10,
    exp_min=-746.0,  # exp rounds to 0 below about -745.13
    exp_max=710.0,  # and to inf above about 709.78
    expm1_min=-40.0,  # expm1 rounds to -1 below about -37.4
    tanh_exp_min=-80.0,  # 1 - 2 e**x rounds to 1 from about -38.1 on
    log_ln2_hi=6.93147180369123816490e-01,
    log_ln2_lo=1.90821492927058770002e-10,
)
_FLOAT32 = _constants(
    np.dtype(np.float32), 23,
    ln2_hi=0.693359375,  # 9 significant bits: n * ln2_hi is exact for |n| < 2**15
    ln2_lo=-2.12194440e-4,
    exp_min=-104.0,  # expf rounds to 0 below about -103.97
    exp_max=89.0,  # and to inf above about 88.72
    expm1_min=-18.0,  # expm1f rounds to -1 below about -17.3
    tanh_exp_min=-40.0,  # 1 - 2 e**x rounds to 1 from about -18.1 on
    log_ln2_hi=float.fromhex("0x1.62e3p-1"),  # 6.9313812256e-01, fdlibm's logf split
    log_ln2_lo=float.fromhex("0x1.2fefa2p-17"),  # 9.0580006145e-06
)
_PRECISIONS = {types.float32: _FLOAT32, types.float64: _FLOAT64}


# --- scalar bodies: generic, closed over one precision's constants -----------------------

@_scalar(exp)
def _exp(c):
    def body(x):
        # NaN fails both tests and stays NaN; +-inf clamp to the ends of the range.
        x = c.exp_min if x < c.exp_min else x
        x = c.exp_max if x > c.exp_max else x
        return _exp_clamped(x)

    return body


@_scalar(exp_nonpositive)
def _exp_nonpositive(c):
    def body(x):
        return _exp_clamped(c.exp_min if x < c.exp_min else x)

    return body


@_scalar(expm1_nonpositive)
def _expm1_nonpositive(c):
    def body(x):
        # e**x - 1 = 2**n (e**r - 1) + (2**n - 1): both terms exact or nearly, one
        # rounding in their sum; for n = 0 it is the polynomial alone (no cancellation).
        # Values of x > 0 give garbage (finite or not) but no undefined behaviour, so a
        # select may discard them.
        scale, q = _exp_parts(c.expm1_min if x < c.expm1_min else x)
        return scale * q + (scale - c.one)

    return body


@_scalar(log1p_unit)
def _log1p_unit(c):
    def body(u):
        # 1 + u = 2**k (1 + f): k = 1 and f = (u - 1) / 2 from 1 + u >= sqrt(2) on, else
        # k = 0 and f = u (exact). u - 1 rounds only for u < 1/2; its rounding error
        # (exact by Fast2Sum) enters as a first-order correction.
        large = u >= c.sqrt2_minus_1
        difference = u - c.one
        error = u - (difference + c.one)
        f = difference * c.half if large else u
        k = c.one if large else c.zero
        correction = error * c.half * (c.one - f) if large else c.zero
        s = f / (c.two + f)
        half_f2 = c.half * f * f
        return k * c.log_ln2_hi - ((half_f2 - (s * (half_f2 + _log1p_reduced(s * s))
                                               + (k * c.log_ln2_lo + correction))) - f)

    return body


@_scalar(sigmoid)
def _sigmoid(c):
    def body(z):
        # 1 / (1 + e**-z) for z >= 0, e**z / (1 + e**z) else; NaN passes through e.
        e = exp_nonpositive(-abs(z))
        return (c.one if z >= c.zero else e) / (c.one + e)

    return body


@_scalar(tanh)
def _tanh(c):
    def body(z):
        # Cephes' forms: |z| + |z| R(z**2) below 0.625, 1 - 2e / (1 + e) with
        # e = e**-2|z| above (no cancellation in either); one division for both.
        magnitude = abs(z)
        small = magnitude < c.tanh_switch
        # From |z| = tanh_exp_min / -2 on, e is too small to change 1 - 2e / (1 + e).
        exponent = -c.two * magnitude
        scale, q = _exp_parts(c.tanh_exp_min if exponent < c.tanh_exp_min else exponent)
        e = scale * (c.one + q)
        numerator, denominator = _tanh_fraction(magnitude * magnitude)
        ratio = ((numerator if small else c.two * e)
                 / (denominator if small else c.one + e))
        return math.copysign(magnitude + magnitude * ratio if small else c.one - ratio, z)

    return body


@_scalar(softplus)
def _softplus(c):
    def body(z):
        return (z if z > c.zero else c.zero) + log1p_unit(exp_nonpositive(-abs(z)))

    return body


@_scalar(elu)
def _elu(c):
    def body(z):
        return z if z > c.zero else c.elu_alpha * expm1_nonpositive(z)

    return body


@_scalar(silu)
def _silu(c):
    def body(z):
        return z * sigmoid(z)

    return body


@_scalar(sigmoid_derivative, fused=False)
def _sigmoid_derivative(c):
    def body(z, a):
        return a * (c.one - a)

    return body


@_scalar(tanh_derivative, fused=False)
def _tanh_derivative(c):
    def body(z, a):
        return c.one - a * a

    return body


@_scalar(elu_derivative, fused=False)
def _elu_derivative(c):
    def body(z, a):
        return c.one if a > c.zero else a + c.elu_alpha

    return body


@_scalar(softplus_derivative, fused=False)
def _softplus_derivative(c):
    def body(z, a):
        # a = softplus(z) >= 0, so -a is in expm1_nonpositive's domain.
        return -expm1_nonpositive(-a)

    return body


@_scalar(silu_derivative, fused=False)
def _silu_derivative(c):
    def body(z, a):
        s = sigmoid(z)
        return s + z * s * (c.one - s)

    return body


@_scalar(exp_derivative, fused=False)
def _exp_derivative(c):
    def body(z, a):
        return a

    return body


# --- private pieces shared by the bodies ------------------------------------------------

def _exp_clamped(x):
    """``e**x`` for ``exp_min <= x <= exp_max`` (or NaN)."""


def _exp_parts(x):
    """``(2**n, e**r - 1)`` with ``e**x = 2**n e**r``, for ``x`` where ``2**n`` is a
    normal number (the callers clamp); NaN gives NaN parts."""


def _tanh_fraction(z2):
    """``(p, q)`` with ``tanh z = z + z p / q`` for ``|z| < 0.625``, ``z2 = z**2``."""


def _reduce(x, n):
    """``r = x - n ln2`` in two parts (``n`` an integral float)."""


def _expm1_reduced(r):
    """``e**r - 1`` for ``|r| <= ln2 / 2`` (a polynomial without constant term)."""


def _log1p_reduced(s2):
    """fdlibm's ``R(s**2)``: ``log1p(f) = f - f**2/2 + s (f**2/2 + R)``, ``s = f/(2+f)``."""


@_scalar(_exp_clamped)
def _exp_clamped_body(c):
    def body(x):
        # 2**n as two factors 2**h 2**(n - h), h = round(n / 2): each is a normal number
        # over the whole clamped range, so results that underflow into the subnormals
        # (or overflow) round once, in the last product.
        shifted = x * c.log2e + c.shift
        n = shifted - c.shift
        half_shifted = n * c.half + c.shift
        rest_shifted = (n - (half_shifted - c.shift)) + c.shift
        p = c.one + _expm1_reduced(_reduce(x, n))
        return p * _power_of_two(half_shifted) * _power_of_two(rest_shifted)

    return body


@_scalar(_exp_parts)
def _exp_parts_body(c):
    def body(x):
        shifted = x * c.log2e + c.shift
        n = shifted - c.shift
        return _power_of_two(shifted), _expm1_reduced(_reduce(x, n))

    return body


@_scalar(_reduce)
def _reduce_body(c):
    def body(x, n):
        return (x - n * c.ln2_hi) - n * c.ln2_lo

    return body


# e**r = 1 + r + r**2 P(r), P of degree 9 fitted on |r| <= 1.0001 ln2 / 2 by Chebyshev
# interpolation in 40 digits (mpmath.chebyfit; error below 1.1e-16, a tenth of an ulp
# of the result after the factor r**2 <= 0.12). The last addition is the only rounding
# at full weight.
_EXPM1_P = (0.5000000000000001, 0.16666666666666669, 0.04166666666662413,
            0.008333333333330062, 0.0013888888917213717, 0.00019841269863053618,
            2.4801521295954376e-05, 2.7557268459997064e-06, 2.7620088445409746e-07,
            2.510038549551032e-08)


def _expm1_reduced_float64(r):
    p = _EXPM1_P
    return r + (r * r) * (p[0] + r * (p[1] + r * (p[2] + r * (p[3] + r * (p[4] + r * (
        p[5] + r * (p[6] + r * (p[7] + r * (p[8] + r * p[9])))))))))


# float32: e**r = 1 + r + r**2 P(r), P of degree 4 fitted as the float64 one on
# |r| <= 1.002 ln2 / 2 (float32's rounded n leaves r a little wider); error below 6.6e-8,
# 1e-8 relative to e**r with the coefficients rounded to float32, a tenth of a float32
# ulp (Cephes' expf has P of degree 5).
_EXPF = tuple(np.float32(v) for v in (0.5, 0.16666576266288757, 0.041666552424430850,
                                       0.008363292552530766, 0.0013926326064392924))


def _expm1_reduced_float32(r):
    p = _EXPF
    return r + (r * r) * (p[0] + r * (p[1] + r * (p[2] + r * (p[3] + r * p[4]))))


# fdlibm's log (double, error < 2**-58.45) and logf (float, error < 2**-34.24) for
# |s| <= 0.1716: R = s**2 (Lg1 + s**4 (Lg3 + ...)) + s**4 (Lg2 + s**4 (Lg4 + ...)).
_LG = (6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01,
       2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01,
       1.479819860511658591e-01)
_LGF = tuple(np.float32(float.fromhex(v)) for v in (
    "0xaaaaaa.0p-24", "0xccce13.0p-25", "0x91e9ee.0p-25", "0xf89e26.0p-26"))


def _log1p_reduced_float64(z):
    g = _LG
    w = z * z
    return z * (g[0] + w * (g[2] + w * (g[4] + w * g[6]))) + w * (g[1] + w * (g[3] + w * g[5]))


def _log1p_reduced_float32(z):
    g = _LGF
    w = z * z
    return z * (g[0] + w * g[2]) + w * (g[1] + w * g[3])


# Cephes tanh (double: z**2 P(z**2) / Q(z**2), relative error 2.5e-17) and tanhf (float:
# a polynomial, 1.3e-7) for |z| < 0.625.
_TANH_P = (-9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3)
_TANH_Q = (1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3)
_TANHF = tuple(np.float32(v) for v in (-5.70498872745e-3, 2.06390887954e-2,
                                        -5.37397155531e-2, 1.33314422036e-1,
                                        -3.33332819422e-1))
_ONE_FLOAT32 = np.float32(1.0)


def _tanh_fraction_float64(z2):
    p, q = _TANH_P, _TANH_Q
    return (z2 * ((p[0] * z2 + p[1]) * z2 + p[2]),
            ((z2 + q[0]) * z2 + q[1]) * z2 + q[2])


def _tanh_fraction_float32(z2):
    p = _TANHF
    return z2 * ((((p[0] * z2 + p[1]) * z2 + p[2]) * z2 + p[3]) * z2 + p[4]), _ONE_FLOAT32


def _by_precision(stub, float32_body, float64_body):
    overload(stub, jit_options=_SCALAR_OPTIONS_FLOAT32, strict=False)(
        lambda x: float32_body if x == types.float32 else None)
    overload(stub, jit_options=_SCALAR_OPTIONS, strict=False)(
        lambda x: float64_body if x == types.float64 else None)


_by_precision(_expm1_reduced, _expm1_reduced_float32, _expm1_reduced_float64)
_by_precision(_log1p_reduced, _log1p_reduced_float32, _log1p_reduced_float64)
_by_precision(_tanh_fraction, _tanh_fraction_float32, _tanh_fraction_float64)


@intrinsic
def _power_of_two(typingctx, shifted):
    """``2**n`` from ``shifted = n + 1.5 * 2**p`` (``n`` in the low mantissa bits):
    ``(bits + bias) << p`` (the shift drops the exponent and leading bits of ``1.5 *
    2**p``), for normal results (``|n|`` below the exponent bias)."""
    if shifted == types.float32:
        int_type, float_type, bias, mantissa_bits = (
            llvm_ir.IntType(32), llvm_ir.FloatType(), 127, 23)
    elif shifted == types.float64:
        int_type, float_type, bias, mantissa_bits = (
            llvm_ir.IntType(64), llvm_ir.DoubleType(), 1023, 52)
    else:
        return None

    def codegen(context, builder, signature, args):
        bits = builder.bitcast(args[0], int_type)
        bits = builder.add(bits, llvm_ir.Constant(int_type, bias))
        bits = builder.shl(bits, llvm_ir.Constant(int_type, mantissa_bits))
        return builder.bitcast(bits, float_type)

    return shifted(shifted), codegen
