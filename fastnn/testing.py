"""Helpers for checking backends against each other and against finite differences.

Used by the test suite and by the benchmark harness's correctness gate.
"""

from __future__ import annotations

import numpy as np

from fastnn import backends
from fastnn.functions import ACTIVATIONS, LOSSES
from fastnn.params import parameter_count
from fastnn.spec import NetworkSpec

# Largest allowed relative difference between backends, by the dtype computed in.
TOLERANCE = {"float64": 1e-10, "float32": 1e-4}


def relative_difference(actual, expected, floor=0.0):
    """Norm-wise relative difference ``max|actual - expected| / max(max|expected|, floor)``.

    Norm-wise rather than elementwise so that entries that are tiny by cancellation
    (a gradient component near zero) do not dominate.

    Parameters
    ----------
    actual, expected : array-like of the same shape, or floats
    floor : float
        Smallest scale to divide by. With ``floor=1`` values whose magnitude is below 1
        (a gradient that saturation makes ~1e-16, a loss of 1e-300) are compared by
        absolute difference, as rounding of O(1) terms makes them only that accurate.

    Returns
    -------
    float
        0.0 when both are all zeros.
    """
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise ValueError(f"shapes differ: {actual.shape} vs {expected.shape}")
    if actual.size == 0:
        return 0.0
    scale = max(np.max(np.abs(expected)), floor)
    error = np.max(np.abs(actual - expected))
    if scale == 0:
        return float(error)
    return float(error / scale)


def near_log_clip(spec, Y, margin=1e-6):
    """Whether a log loss is evaluated where its clipped log is ill-conditioned.

    For output activations without a stable log form of a term the loss takes
    (``stable_log`` in :data:`fastnn.functions.ACTIVATIONS`) the loss uses
    ``log(max(y, LOG_FLOOR))``. Where ``y`` (or ``1 - y``) is within ``margin`` of 0,
    its slope ``1 / y`` magnifies rounding without bound and jumps to 0 at the clip,
    so backends that round differently legitimately disagree there.

    Parameters
    ----------
    spec : NetworkSpec
    Y : ndarray, shape (m, n_outputs)
        The network's output.

    Returns
    -------
    bool
    """
    loss, stable = LOSSES[spec.loss], ACTIVATIONS[spec.output_activation].stable_log
    clipped_log_y = loss.logs_output and stable is None
    clipped_log_1my = loss.logs_one_minus_output and (stable is None
                                                      or stable.log_one_minus is None)
    if not (clipped_log_y or clipped_log_1my):
        return False
    Y = np.asarray(Y, dtype=np.float64)
    return bool((clipped_log_y and np.any(np.abs(Y) < margin))
                or (clipped_log_1my and np.any(np.abs(1 - Y) < margin)))


def numerical_gradients(spec, params, X, T, backend="numpy", step=1e-6, sample_weight=None):
    """Central-difference gradient of the mean (or weighted mean) loss.

    Parameters
    ----------
    spec : NetworkSpec
    params : ndarray, shape (n_params,)
    X : ndarray, shape (m, n_inputs), or a CSR matrix for a backend that accepts it
    T : ndarray, shape (m, n_outputs)
    backend : str
        Backend whose ``loss`` is differentiated.
    step : float
    sample_weight : ndarray, shape (m,), or None

    Returns
    -------
    ndarray, shape (n_params,)
    """
    engine = backends.get(backend)
    weighting = {} if sample_weight is None else {"sample_weight": sample_weight}
    work = np.array(params, dtype=np.float64)
    grad = np.empty_like(work)
    for index in range(work.size):
        original = work[index]
        work[index] = original + step
        upper = engine.loss(spec, work, X, T, **weighting)
        work[index] = original - step
        lower = engine.loss(spec, work, X, T, **weighting)
        work[index] = original
        grad[index] = (upper - lower) / (2 * step)
    return grad


def random_case(rng, activation=NetworkSpec.activation,
                output_activation=NetworkSpec.output_activation, loss=NetworkSpec.loss,
                max_depth=4, max_width=40, max_batch=50):
    """A random architecture with parameters, inputs and targets.

    Parameters
    ----------
    rng : numpy.random.Generator
    activation, output_activation, loss : str
    max_depth, max_width, max_batch : int
        Upper bounds of the weight-layer count, layer width and batch size.

    Returns
    -------
    spec : NetworkSpec
    params : ndarray, shape (n_params,), float64
    X : ndarray, shape (m, layer_sizes[0]), standard normal
    T : ndarray, shape (m, layer_sizes[-1]), uniform in [0, 1)

    Notes
    -----
    A log loss on an output activation without a stable log form, whose range is not
    inside (0, 1) in general, is well-conditioned only well inside ``0 < y < 1``: near
    ``y = 0`` (or ``y = 1`` for ``log(1 - y)``) its gradient amplifies any rounding
    difference without bound. For those pairs (and for an elementwise output whose
    ``log(1 - y)`` is clipped although ``log(y)`` has a stable form: exp with the binary
    cross-entropy) the output layer starts with small weights and the biases for which
    the outputs are in [0.3, 0.7]; the clipped region is checked by its own tests.
    """
    depth = int(rng.integers(1, max_depth + 1))
    sizes = [int(size) for size in rng.integers(1, max_width + 1, size=depth + 1)]
    spec = NetworkSpec.create(sizes, activation, output_activation, loss)
    params = np.empty(parameter_count(spec.layer_sizes))
    start = 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params[start:start + n_in * n_out] = rng.normal(0, 1 / np.sqrt(n_in), n_in * n_out)
        start += n_in * n_out
        params[start:start + n_out] = rng.normal(0, 0.5, n_out)
        start += n_out
    if _clipped_logs_only(LOSSES[loss], ACTIVATIONS[output_activation]):
        n_out = sizes[-1]
        params[-n_out * (sizes[-2] + 1):-n_out] *= 0.05
        params[-n_out:] = _pre_activation(ACTIVATIONS[output_activation],
                                          rng.uniform(0.3, 0.7, n_out))
    batch = int(rng.integers(1, max_batch + 1))
    X = rng.standard_normal((batch, sizes[0]))
    T = rng.random((batch, sizes[-1]))
    return spec, params, X, T


def _clipped_logs_only(loss, activation):
    """Whether a random case of ``loss`` on the output ``activation`` must start its outputs
    inside (0, 1): every log the loss takes of them would be clipped otherwise."""
    stable = activation.stable_log
    if stable is None:
        return loss.logs_output
    # Row activations (softmax) have outputs in (0, 1) whatever the parameters.
    return (loss.logs_one_minus_output and stable.log_one_minus is None
            and activation.scalar is not None)


def _pre_activation(activation, outputs, bound=20.0):
    """Pre-activations ``z`` in ``[-bound, bound]`` with ``activation(z) == outputs``.

    By bisection, for outputs that the activation takes once on its increasing branch
    and exceeds nowhere below it (every elementwise activation of the table at outputs
    in (0, 1)).

    Parameters
    ----------
    activation : fastnn.functions.Activation
    outputs : ndarray, shape (k,)

    Returns
    -------
    ndarray, shape (k,)
    """
    low = np.full(outputs.shape, -bound)
    high = np.full(outputs.shape, bound)
    for _ in range(80):
        middle = 0.5 * (low + high)
        above = activation.function(middle.reshape(1, -1))[0] > outputs
        high = np.where(above, middle, high)
        low = np.where(above, low, middle)
    return 0.5 * (low + high)
