"""Activations and losses: one table entry each, the one home of these concepts.

:data:`ACTIVATIONS` and :data:`LOSSES` map a name to an :class:`Activation` or a
:class:`Loss`. Everything else is derived from them: the names the network spec
accepts (:mod:`fastnn.spec`), the NumPy functions of the ``numpy`` backend, the
pure-Python scalar functions of the ``python`` reference, the initialisation that
``init="auto"`` picks, whether a network is a classifier, and the integer codes of
the Numba kernels (:mod:`fastnn.backends._numba_kernels` implements every entry under
its name here, and refuses to load if one is missing).

Adding an activation or a loss is one entry here plus its Numba version there.

Numerical choices, shared by every backend:

- ``sigmoid`` is evaluated without overflow (``1 / (1 + exp(-z))`` as SciPy's ``expit``
  in NumPy; piecewise in the other backends), and so is ``silu = z * sigmoid(z)``;
  ``softmax`` subtracts the row maximum; ``softplus`` is ``max(z, 0) + log1p(exp(-|z|))``.
- A derivative is written in terms of the activation's output ``A`` where it can be;
  the entries whose derivative needs the pre-activation ``Z`` say so
  (:attr:`Activation.derivative_needs_z`), and only for those do the backends keep ``Z``.
- Losses never take ``log(0)``. For the output activations with a closed form
  (:attr:`Activation.stable_log`) the log is taken of the pre-activation:
  ``log sigmoid(z) = -softplus(-z)``, ``log(1 - sigmoid(z)) = -softplus(z)``,
  ``log softmax(z) = z - logsumexp(z)``, ``log exp(z) = z``. Every other pair clips:
  ``log(max(y, LOG_FLOOR))`` with ``LOG_FLOOR = 1e-12`` for every dtype (so float32
  and float64 agree), whose gradient is ``1 / y`` above the floor and 0 below it.
- The output delta ``dL/dZ`` is the true gradient of the loss above; the fused
  softmax/cross-entropy, sigmoid/(binary) cross-entropy and exp/poisson pairs are
  computed without cancellation (``Y * sum(T) - T``, ``Y - T``, ``-T * (1 - Y)``,
  ``Y - T``).
- ``exp`` (output only) overflows to infinity for ``z`` above about 709 (float64), as
  NumPy's ``exp`` does; the model then reports a non-finite output or loss.
- ``poisson`` is scikit-learn's half Poisson deviance, per sample
  ``sum_k [t log(t / y) - t + y]`` with ``0 log 0 = 0``, written
  ``t (log t - log y) + (y - t)`` so that it does not cancel where ``y`` is near ``t``.
  Its ``log y`` is the one every log loss takes (stable form or clipped), so it is
  defined, finite, on every output: on outputs that can reach 0 or below (``relu``,
  ``tanh``, ``identity``, ...) ``log y`` is clipped at ``LOG_FLOOR``, and the gradient
  there is that of the remaining ``y - t`` term. Its targets must be non-negative
  (:attr:`Loss.nonnegative_targets`; checked at the boundary, as scikit-learn does).
- With sample weights ``w`` every mean over samples is the weighted mean
  ``sum_i w_i L_i / sum_i w_i`` (:attr:`Loss.rows` gives the NumPy ``L_i``).

The pure-Python forms (``scalar*``, ``sample_*``) use plain floats, lists and
:mod:`math` only: they are the readable reference the other backends are checked
against. The NumPy forms take arrays of shape (m, k), one sample per row.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType

import numpy as np

LEAKY_RELU_SLOPE = 0.01
ELU_ALPHA = 1.0
LOG_FLOOR = 1e-12
INIT_FAMILIES = ("he", "xavier")


@dataclass(frozen=True)
class StableLog:
    """Closed forms of ``log(y)`` (and maybe ``log(1 - y)``) for an output activation.

    Taken from the pre-activation ``Z``, so a log loss never sees ``log(0)``; the
    deltas are the gradients of the log terms with respect to ``Z``, fused so that
    they do not cancel.

    Attributes
    ----------
    log : callable
        NumPy, ``Z (m, k) -> log(Y) (m, k)``.
    delta : callable
        NumPy, ``(Y, T) -> d/dZ of -sum(T * log(Y))``, per row, shape (m, k).
    sample_log : callable
        Pure Python, one sample: ``z (list) -> [log y_k]``.
    sample_delta : callable
        Pure Python, one sample: ``(y, t) -> [d/dz_k of -sum(t * log(y))]``.
    log_one_minus, binary_delta, sample_log_one_minus, sample_binary_delta : callable or None
        The same for ``log(1 - y)`` and for the binary cross-entropy
        ``-sum(t log y + (1 - t) log(1 - y))``; None where there is no closed form
        (then ``log(1 - y)`` is clipped).
    """

    log: Callable
    delta: Callable
    sample_log: Callable
    sample_delta: Callable
    log_one_minus: Callable | None = None
    binary_delta: Callable | None = None
    sample_log_one_minus: Callable | None = None
    sample_binary_delta: Callable | None = None


@dataclass(frozen=True)
class Activation:
    """An elementwise activation ``A = f(Z)``: every form of it, and where it may be used.

    Attributes
    ----------
    name : str
    function : callable
        NumPy, ``Z (m, k) -> A (m, k)``.
    derivative : callable
        NumPy, ``(Z, A) -> dA/dZ`` elementwise, shape (m, k). ``Z`` is None unless
        :attr:`derivative_needs_z`.
    scalar : callable
        Pure Python, ``z (float) -> a (float)``.
    scalar_derivative : callable
        Pure Python, ``(z, a) -> da/dz`` (floats).
    hidden, output : bool
        Allowed on hidden layers / on the output layer.
    init : {"he", "xavier"}
        The initialisation ``init="auto"`` picks for hidden layers of this activation:
        He for the ReLU family, Xavier otherwise.
    derivative_needs_z : bool
        The derivative reads ``Z`` (not only ``A``); backends keep ``Z`` only for such
        layers.
    stable_log : StableLog or None
        Closed forms of the log losses' logs on this output; None: clipped logs.
    probabilities : bool
        As an output, its values are class probabilities (``MLP.predict_proba``).
    distribution : bool
        As an output, each row is a distribution over classes: a network with it is a
        classifier whatever its loss.
    """

    name: str
    function: Callable
    derivative: Callable | None
    scalar: Callable | None
    scalar_derivative: Callable | None
    hidden: bool = True
    output: bool = True
    init: str = "xavier"
    derivative_needs_z: bool = False
    stable_log: StableLog | None = None
    probabilities: bool = False
    distribution: bool = False

    def __post_init__(self):
        if self.init not in INIT_FAMILIES:
            raise ValueError(f"activation {self.name!r}: init must be one of {INIT_FAMILIES}")

    def chain_rule(self, Z, A, grad_a):
        """Back-propagate ``grad_a = dL/dA`` to ``dL/dZ`` (NumPy, shapes (m, k))."""
        return grad_a * self.derivative(Z, A)

    def sample_activate(self, z):
        """``f`` on one sample's pre-activation list (pure Python)."""
        function = self.scalar
        return [function(value) for value in z]

    def sample_chain_rule(self, z, a, grad_a):
        """:meth:`chain_rule` for one sample's lists (pure Python)."""
        derivative = self.scalar_derivative
        return [g * derivative(z_k, a_k) for g, z_k, a_k in zip(grad_a, z, a)]


@dataclass(frozen=True)
class RowActivation(Activation):
    """An activation of each row as a whole (softmax): its Jacobian is not diagonal.

    Attributes
    ----------
    jacobian_product : callable
        NumPy, ``(A, grad_a) -> dL/dZ``, shapes (m, k).
    sample_function : callable
        Pure Python, one sample: ``z (list) -> a (list)``.
    sample_jacobian_product : callable
        Pure Python, one sample: ``(a, grad_a) -> dL/dz`` (lists).
    """

    jacobian_product: Callable | None = None
    sample_function: Callable | None = None
    sample_jacobian_product: Callable | None = None

    def chain_rule(self, Z, A, grad_a):
        return self.jacobian_product(A, grad_a)

    def sample_activate(self, z):
        return self.sample_function(z)

    def sample_chain_rule(self, z, a, grad_a):
        return self.sample_jacobian_product(a, grad_a)


@dataclass(frozen=True)
class Loss:
    """A loss, mean over samples, in every form.

    The functions take the output layer's :class:`Activation` entry (for its
    derivative and stable logs), the output pre-activation ``Z``, the output ``Y`` and
    the targets ``T``.

    Attributes
    ----------
    name : str
    default_output : str
        The output activation this loss implies when the caller leaves it as None.
    classification : bool
        A classification loss: a network trained on it predicts class labels.
    logs_output, logs_one_minus_output : bool
        The loss takes ``log(y)`` / ``log(1 - y)`` (clipped unless the output
        activation has a :class:`StableLog` form of it).
    total : callable
        NumPy, ``(activation, Z, Y, T) -> float``: the loss summed over the rows.
    delta : callable
        NumPy, ``(activation, Z, Y, T) -> (m, k)``: ``dL/dZ`` of the summed loss.
    sample_total : callable
        Pure Python, one sample: ``(activation, z, y, t) -> float``.
    sample_delta : callable
        Pure Python, one sample: ``(activation, z, y, t) -> list``.
    rows : callable
        NumPy, ``(activation, Z, Y, T) -> (m,)``: each row's loss (for weighted means).
    nonnegative_targets : bool
        The loss is defined only for targets ``T >= 0`` (it takes ``log t``).
    """

    name: str
    default_output: str
    classification: bool
    logs_output: bool
    logs_one_minus_output: bool
    total: Callable
    delta: Callable
    sample_total: Callable
    sample_delta: Callable
    rows: Callable
    nonnegative_targets: bool = False


# --- activations: NumPy forms ----------------------------------------------------------

def sigmoid(z):
    """Logistic function ``1 / (1 + exp(-z))``, overflow-free. Shape-preserving.

    SciPy's ``expit`` where ``scipy.special`` is imported already (one ufunc call);
    otherwise the same formula in NumPy (:func:`_numpy_sigmoid`), so that a first call
    does not pay for importing SciPy, longer than the rest of ``import fastnn``. The two
    agree to the last bit or so (``tests/test_numpy_sigmoid.py`` checks 1e-15).
    """
    expit = getattr(_MODULES.get("scipy.special"), "expit", None)
    if expit is not None:
        return expit(z)
    return _numpy_sigmoid(z)


def _numpy_sigmoid(z):
    """``1 / (1 + exp(-z))`` in NumPy: ``exp(-z)`` overflows to infinity below about -709
    (the result is then 0, as ``expit``'s), without a warning."""
    with np.errstate(over="ignore"):
        e = np.exp(np.negative(z))
    e += 1
    if type(e) is np.ndarray:
        return np.reciprocal(e, out=e)
    return 1 / e


_MODULES = sys.modules


def tanh(z):
    return np.tanh(z)


def relu(z):
    return np.maximum(z, 0)


def leaky_relu(z):
    return np.where(z > 0, z, LEAKY_RELU_SLOPE * z)


def elu(z):
    # minimum() keeps expm1 away from overflow on the branch where() discards.
    return np.where(z > 0, z, ELU_ALPHA * np.expm1(np.minimum(z, 0)))


def identity(z):
    return z


def exp(z):
    return np.exp(z)


def softmax(z):
    """Softmax over the last axis with the maximum subtracted."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softplus(x):
    """``log(1 + exp(x))`` without overflow (``max(x, 0) + log1p(exp(-|x|))``)."""
    return np.logaddexp(0, x)


def silu(z):
    """``z * sigmoid(z)`` (the sigmoid-weighted linear unit, or swish)."""
    return z * sigmoid(z)


def _silu_derivative(Z, A):
    s = sigmoid(Z)
    return s + Z * s * (1 - s)


def _softmax_jacobian_product(A, grad_a):
    return A * (grad_a - np.sum(grad_a * A, axis=1, keepdims=True))


def _log_softmax(Z):
    shifted = Z - Z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


# --- activations: pure-Python forms ----------------------------------------------------

def _scalar_sigmoid(z):
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _scalar_relu(z):
    return z if z > 0 else 0.0


def _scalar_leaky_relu(z):
    return z if z > 0 else LEAKY_RELU_SLOPE * z


def _scalar_elu(z):
    return z if z > 0 else ELU_ALPHA * math.expm1(z)


def _scalar_exp(z):
    # math.exp raises OverflowError where NumPy and the kernels return infinity.
    try:
        return math.exp(z)
    except OverflowError:
        return math.inf


def _scalar_softplus(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _scalar_silu(z):
    return z * _scalar_sigmoid(z)


def _scalar_silu_derivative(z, a):
    s = _scalar_sigmoid(z)
    return s + z * s * (1.0 - s)


def _sample_softmax(z):
    top = max(z)
    exps = [math.exp(value - top) for value in z]
    total = sum(exps)
    return [value / total for value in exps]


def _sample_softmax_jacobian_product(a, grad_a):
    weighted = sum(g * a_k for g, a_k in zip(grad_a, a))
    return [a_k * (g - weighted) for g, a_k in zip(grad_a, a)]


def _sample_softmax_log_delta(y, t):
    t_sum = sum(t)
    return [y_k * t_sum - t_k for y_k, t_k in zip(y, t)]


def _sample_log_softmax(z):
    top = max(z)
    log_total = math.log(sum(math.exp(v - top) for v in z))
    return [v - top - log_total for v in z]


# --- the activation table --------------------------------------------------------------

_SIGMOID_LOG = StableLog(
    log=lambda Z: -softplus(-Z),
    delta=lambda Y, T: -T * (1 - Y),
    sample_log=lambda z: [-_scalar_softplus(-v) for v in z],
    sample_delta=lambda y, t: [-t_k * (1.0 - y_k) for y_k, t_k in zip(y, t)],
    log_one_minus=lambda Z: -softplus(Z),
    binary_delta=lambda Y, T: Y - T,
    sample_log_one_minus=lambda z: [-_scalar_softplus(v) for v in z],
    sample_binary_delta=lambda y, t: [y_k - t_k for y_k, t_k in zip(y, t)],
)

# log(exp(z)) = z; log(1 - exp(z)) has no closed form (exp reaches 1) and is clipped.
_EXP_LOG = StableLog(
    log=lambda Z: Z,
    delta=lambda Y, T: -T,
    sample_log=lambda z: list(z),
    sample_delta=lambda y, t: [-t_k for t_k in t],
)

_SOFTMAX_LOG = StableLog(
    log=_log_softmax,
    delta=lambda Y, T: Y * T.sum(axis=1, keepdims=True) - T,
    sample_log=_sample_log_softmax,
    sample_delta=_sample_softmax_log_delta,
)


def _table(*entries):
    """A read-only name -> entry mapping, in the order given (the order names are listed in)."""
    table = {entry.name: entry for entry in entries}
    if len(table) != len(entries):
        raise ValueError("two table entries share a name")
    return MappingProxyType(table)


ACTIVATIONS = _table(
    Activation("sigmoid", sigmoid, lambda Z, A: A * (1 - A),
               _scalar_sigmoid, lambda z, a: a * (1.0 - a), stable_log=_SIGMOID_LOG,
               probabilities=True),
    Activation("tanh", tanh, lambda Z, A: 1 - A * A,
               math.tanh, lambda z, a: 1.0 - a * a),
    Activation("relu", relu, lambda Z, A: (A > 0).astype(A.dtype),
               _scalar_relu, lambda z, a: 1.0 if a > 0 else 0.0, init="he"),
    Activation("leaky_relu", leaky_relu,
               lambda Z, A: np.where(A > 0, 1, LEAKY_RELU_SLOPE).astype(A.dtype),
               _scalar_leaky_relu, lambda z, a: 1.0 if a > 0 else LEAKY_RELU_SLOPE, init="he"),
    Activation("elu", elu, lambda Z, A: np.where(A > 0, 1, A + ELU_ALPHA).astype(A.dtype),
               _scalar_elu, lambda z, a: 1.0 if a > 0 else a + ELU_ALPHA, init="he"),
    # softplus' = sigmoid(z) = 1 - exp(-a): from the output, so Z need not be kept.
    Activation("softplus", softplus, lambda Z, A: -np.expm1(-A),
               _scalar_softplus, lambda z, a: -math.expm1(-a), init="he"),
    Activation("silu", silu, _silu_derivative, _scalar_silu, _scalar_silu_derivative,
               init="he", derivative_needs_z=True),
    Activation("identity", identity, lambda Z, A: np.ones_like(A),
               lambda z: z, lambda z, a: 1.0),
    RowActivation("softmax", softmax, None, None, None, hidden=False,
                  stable_log=_SOFTMAX_LOG, probabilities=True, distribution=True,
                  jacobian_product=_softmax_jacobian_product,
                  sample_function=_sample_softmax,
                  sample_jacobian_product=_sample_softmax_jacobian_product),
    # The canonical output of the poisson loss (scikit-learn's out_activation_ "exp").
    Activation("exp", exp, lambda Z, A: A, _scalar_exp, lambda z, a: a, hidden=False,
               stable_log=_EXP_LOG),
)


# --- losses ----------------------------------------------------------------------------

def _squared_error_total(activation, Z, Y, T):
    diff = Y - T
    return 0.5 * np.sum(diff * diff)


def _squared_error_rows(activation, Z, Y, T):
    diff = Y - T
    return 0.5 * np.sum(diff * diff, axis=1)


def _squared_error_delta(activation, Z, Y, T):
    return activation.chain_rule(Z, Y, Y - T)


def _sample_squared_error(activation, z, y, t):
    # d * d rather than d ** 2: float.__pow__ raises OverflowError where * gives inf.
    return 0.5 * sum((y_k - t_k) * (y_k - t_k) for y_k, t_k in zip(y, t))


def _sample_squared_error_delta(activation, z, y, t):
    return activation.sample_chain_rule(z, y, [y_k - t_k for y_k, t_k in zip(y, t)])


def _log_likelihood_total(binary, activation, Z, Y, T):
    """``-sum(T log Y [+ (1 - T) log(1 - Y)])`` over every row."""
    total = np.sum(T * _log_output(activation, Z, Y))
    if binary:
        total += np.sum((1 - T) * _log_one_minus_output(activation, Z, Y))
    return -total


def _log_likelihood_rows(binary, activation, Z, Y, T):
    """:func:`_log_likelihood_total` of each row, shape (m,)."""
    total = np.sum(T * _log_output(activation, Z, Y), axis=1)
    if binary:
        total += np.sum((1 - T) * _log_one_minus_output(activation, Z, Y), axis=1)
    return -total


def _log_likelihood_delta(binary, activation, Z, Y, T):
    stable = activation.stable_log
    if stable is not None and binary and stable.binary_delta is not None:
        return stable.binary_delta(Y, T)
    if stable is not None:
        delta = stable.delta(Y, T)
        if binary:
            delta = delta + activation.chain_rule(Z, Y, (1 - T) * _clipped_reciprocal(1 - Y))
        return delta
    dloss_dy = -T * _clipped_reciprocal(Y)
    if binary:
        dloss_dy = dloss_dy + (1 - T) * _clipped_reciprocal(1 - Y)
    return activation.chain_rule(Z, Y, dloss_dy)


def _sample_log_likelihood(binary, activation, z, y, t):
    stable = activation.stable_log
    log_y = stable.sample_log(z) if stable is not None else [_clipped_log(v) for v in y]
    total = sum(t_k * ly for t_k, ly in zip(t, log_y))
    if binary:
        if stable is not None and stable.sample_log_one_minus is not None:
            log_1my = stable.sample_log_one_minus(z)
        else:
            log_1my = [_clipped_log(1.0 - v) for v in y]
        total += sum((1.0 - t_k) * l1 for t_k, l1 in zip(t, log_1my))
    return -total


def _sample_log_likelihood_delta(binary, activation, z, y, t):
    stable = activation.stable_log
    if stable is not None and binary and stable.sample_binary_delta is not None:
        return stable.sample_binary_delta(y, t)
    if stable is not None:
        delta = stable.sample_delta(y, t)
        if binary:
            grad_y = [(1.0 - t_k) * _sample_clipped_reciprocal(1.0 - y_k)
                      for y_k, t_k in zip(y, t)]
            delta = [d + c for d, c in zip(delta, activation.sample_chain_rule(z, y, grad_y))]
        return delta
    grad_y = [-t_k * _sample_clipped_reciprocal(y_k) for y_k, t_k in zip(y, t)]
    if binary:
        grad_y = [g + (1.0 - t_k) * _sample_clipped_reciprocal(1.0 - y_k)
                  for g, y_k, t_k in zip(grad_y, y, t)]
    return activation.sample_chain_rule(z, y, grad_y)


def _log_likelihood(name, default_output, binary):
    """A cross-entropy entry: ``-sum t log y``, plus ``(1 - t) log(1 - y)`` if binary."""
    return Loss(name, default_output, classification=True, logs_output=True,
                logs_one_minus_output=binary,
                total=partial(_log_likelihood_total, binary),
                delta=partial(_log_likelihood_delta, binary),
                sample_total=partial(_sample_log_likelihood, binary),
                sample_delta=partial(_sample_log_likelihood_delta, binary),
                rows=partial(_log_likelihood_rows, binary))


def _poisson_terms(activation, Z, Y, T):
    """``t (log t - log y) + (y - t)`` elementwise (``0 log 0 = 0``), shape (m, k)."""
    positive = T > 0
    log_t = np.log(T, out=np.zeros_like(T), where=positive)
    return T * (log_t - _log_output(activation, Z, Y)) + (Y - T)


def _poisson_total(activation, Z, Y, T):
    return np.sum(_poisson_terms(activation, Z, Y, T))


def _poisson_rows(activation, Z, Y, T):
    return np.sum(_poisson_terms(activation, Z, Y, T), axis=1)


def _poisson_delta(activation, Z, Y, T):
    # d/dz of -t log y (the stable form where there is one) plus d/dz of y; on the exp
    # output -T + Y, which is exactly Y - T.
    stable = activation.stable_log
    if stable is not None:
        return stable.delta(Y, T) + activation.chain_rule(Z, Y, np.ones_like(Y))
    return activation.chain_rule(Z, Y, 1 - T * _clipped_reciprocal(Y))


def _sample_poisson(activation, z, y, t):
    stable = activation.stable_log
    log_y = stable.sample_log(z) if stable is not None else [_clipped_log(v) for v in y]
    return sum((t_k * (math.log(t_k) - ly) if t_k > 0 else 0.0) + (y_k - t_k)
               for y_k, t_k, ly in zip(y, t, log_y))


def _sample_poisson_delta(activation, z, y, t):
    stable = activation.stable_log
    if stable is not None:
        ones = activation.sample_chain_rule(z, y, [1.0] * len(y))
        return [d + g for d, g in zip(stable.sample_delta(y, t), ones)]
    grad_y = [1.0 - t_k * _sample_clipped_reciprocal(y_k) for y_k, t_k in zip(y, t)]
    return activation.sample_chain_rule(z, y, grad_y)


LOSSES = _table(
    Loss("mse", "sigmoid", classification=False, logs_output=False,
         logs_one_minus_output=False, total=_squared_error_total, delta=_squared_error_delta,
         sample_total=_sample_squared_error, sample_delta=_sample_squared_error_delta,
         rows=_squared_error_rows),
    _log_likelihood("cross_entropy", "softmax", binary=False),
    _log_likelihood("binary_cross_entropy", "sigmoid", binary=True),
    # scikit-learn's half Poisson deviance (MLPRegressor(loss="poisson")).
    Loss("poisson", "exp", classification=False, logs_output=True,
         logs_one_minus_output=False, total=_poisson_total, delta=_poisson_delta,
         sample_total=_sample_poisson, sample_delta=_sample_poisson_delta,
         rows=_poisson_rows, nonnegative_targets=True),
)

# The defaults of a network description (and of fastnn.MLP).
DEFAULT_ACTIVATION = "sigmoid"
DEFAULT_LOSS = "mse"


# --- by name, for the numpy backend ----------------------------------------------------

def loss_value(loss, output_activation, Z, Y, T):
    """Mean loss over the ``m`` rows.

    Parameters
    ----------
    loss : str
        A name of :data:`LOSSES`.
    output_activation : str
        A name of :data:`ACTIVATIONS`.
    Z, Y, T : ndarray, shape (m, n_out)
        Output pre-activation, output activation, targets.

    Returns
    -------
    float
    """
    total = LOSSES[loss].total(ACTIVATIONS[output_activation], Z, Y, T)
    return float(total / Y.shape[0])


def output_delta(loss, output_activation, Z, Y, T):
    """Per-sample gradient of the loss with respect to the output pre-activation.

    Returns ``m * dL/dZ``: the gradient of the summed (not mean) loss.

    Parameters
    ----------
    loss, output_activation : str
        Names of :data:`LOSSES` and :data:`ACTIVATIONS`.
    Z, Y, T : ndarray, shape (m, n_out)

    Returns
    -------
    ndarray, shape (m, n_out)
    """
    return LOSSES[loss].delta(ACTIVATIONS[output_activation], Z, Y, T)


def _log_output(activation, Z, Y):
    """``log(Y)`` elementwise, in the stable form for the output activation. Shape (m, k)."""
    if activation.stable_log is not None:
        return activation.stable_log.log(Z)
    return np.log(np.maximum(Y, LOG_FLOOR))


def _log_one_minus_output(activation, Z, Y):
    """``log(1 - Y)`` elementwise, in the stable form for the output activation. Shape (m, k)."""
    stable = activation.stable_log
    if stable is not None and stable.log_one_minus is not None:
        return stable.log_one_minus(Z)
    return np.log(np.maximum(1 - Y, LOG_FLOOR))


def _clipped_reciprocal(y):
    """``1 / y`` where ``y`` is above the log floor, 0 elsewhere (the clipped log's slope)."""
    out = np.zeros_like(y)
    np.divide(1, y, out=out, where=y > LOG_FLOOR)
    return out


def _clipped_log(y):
    return math.log(max(y, LOG_FLOOR))


def _sample_clipped_reciprocal(y):
    return 1.0 / y if y > LOG_FLOOR else 0.0
