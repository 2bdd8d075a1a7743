"""The correctness gate: a backend is timed only once its result matches the reference.

Used by the sweep of ``fastnn bench`` and by the pytest-benchmark suite
(:mod:`fastnn.bench.measure.suite`), and meant for the peer adapters too: a call is prepared
(compiled), called once, and its flat result compared with the reference backend's,
computed in float64 from the same values, within :data:`fastnn.testing.TOLERANCE`.

Which backend is the reference is declared by the backends (``is_reference``); where
the reference is time-limited and the case too big for it, the registry names the
stand-in (:func:`fastnn.backends.reference_backend`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from fastnn import backends
from fastnn.model import MLP
from fastnn.ops import OP_TABLE
from fastnn.testing import TOLERANCE, relative_difference


@dataclass(frozen=True)
class CheckedCall:
    """A warmed-up call that passed (or failed) the gate.

    Attributes
    ----------
    call : callable with no arguments
        What to time.
    reset : callable with no arguments or None
        Puts the state back where the gated call started (``train_step`` updates the
        parameters in place): the sweep calls it before every timed round, so that
        what is timed starts from the state that was gated.
    first_call_s : float
        Seconds of the first (checked) call.
    max_rel_diff : float
        Of its result against the reference's.
    passed : bool
        ``max_rel_diff`` within the dtype's tolerance.
    note : str
        Why it failed; empty when it passed.
    """

    call: object
    first_call_s: float
    max_rel_diff: float
    passed: bool
    note: str
    reset: object = None


def make_call(name, level, case, op):
    """The timed call of ``op`` on ``case``, and the function flattening its result.

    Parameters
    ----------
    name : str
        A backend's registry name.
    level : {"mlp", "backend"}
    case : fastnn.bench.workload.cases.Case
    op : str
        A key of :data:`fastnn.ops.OP_TABLE`.

    Returns
    -------
    call : callable with no arguments
    extract : callable, return value of ``call`` -> ndarray, shape (k,)
    reset : callable with no arguments
        Restores the parameters the call starts from (they change under ``train_step``).
    """
    entry, X, T = OP_TABLE[op], case.X, case.T
    if level == "mlp":
        net = MLP.from_spec(case.spec, case.params, backend=name)
        weights = [layer.copy() for layer in net.weights]
        biases = [layer.copy() for layer in net.biases]
        return ((lambda: entry.mlp_call(net, X, T)),
                (lambda result: entry.mlp_result(result, net)),
                (lambda: net.set_params(weights, biases)))
    engine, spec = backends.get(name), case.spec
    params = case.params.copy()  # train_step updates it in place
    return ((lambda: entry.backend_call(engine, spec, params, X, T)),
            (lambda result: entry.backend_result(result, params)),
            (lambda: np.copyto(params, case.params)))


def step_origin(case, op):
    """What a flat ``train_step`` result is measured from: the loss 0, the parameters
    before the step (None for the other ops).

    The gate of a training step compares the step (the parameter change), not the
    parameters after it: a float32 step's parameters are dominated by their starting
    values, so a wrong update could hide in their rounding.

    Returns
    -------
    ndarray, shape (1 + n_params,) or None
    """
    if not OP_TABLE[op].updates_parameters:
        return None
    return np.concatenate([[0.0], case.params.astype(np.float64)])


def step_difference(actual, expected, origin, dtype):
    """Relative difference of a training step's loss and of its parameter change.

    The change is compared norm-wise (as :func:`fastnn.testing.relative_difference`)
    after allowing each parameter the rounding of its stored value (half a unit in the
    last place of ``dtype``, both sides): the rest is an error in the update itself.

    Parameters
    ----------
    actual, expected, origin : ndarray, shape (1 + n_params,)
        ``[loss, parameters]`` after the step, and ``[0, parameters]`` before it.
    dtype : str

    Returns
    -------
    float
    """
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    loss = relative_difference(actual[:1], expected[:1])
    step_actual, step_expected = actual[1:] - origin[1:], expected[1:] - origin[1:]
    scale = np.max(np.abs(step_expected)) if step_expected.size else 0.0
    rounding = np.finfo(dtype).eps * np.abs(expected[1:])
    excess = np.maximum(np.abs(step_actual - step_expected) - rounding, 0.0)
    if scale == 0.0:
        return max(loss, float(np.max(excess, initial=0.0)))
    return max(loss, float(np.max(excess, initial=0.0) / scale))


def reference_result(reference, case, op):
    """The reference backend's flat result, computed in float64 from the case's values.

    Returns
    -------
    ndarray, shape (k,)
        As the ``extract`` of :func:`make_call` returns it.
    """
    spec = dataclasses.replace(case.spec, dtype="float64")
    params = case.params.astype(np.float64)
    X, T = case.X.astype(np.float64), case.T.astype(np.float64)
    entry = OP_TABLE[op]
    return entry.backend_result(entry.backend_call(backends.get(reference), spec, params, X, T),
                                params)


def checked_call(name, level, case, op, reference, expected=None):
    """Call ``op`` once, time that first call, and pass it through the gate.

    Parameters
    ----------
    name, level, case, op
        As :func:`make_call`.
    reference : str
        The reference backend's name.
    expected : ndarray or None
        The reference result, if already computed (the sweep shares it across backends).

    Returns
    -------
    CheckedCall

    Raises
    ------
    Exception
        Whatever the backend raises: the caller decides whether that is fatal.
    """
    call, extract, reset = make_call(name, level, case, op)
    if expected is None:
        expected = reference_result(reference, case, op)
    checked = gate(call, extract, case.spec.dtype, reference, expected,
                   origin=step_origin(case, op))
    return dataclasses.replace(checked, reset=reset)


def reduced_check(name, case, op, reference, rows=2):
    """Check backend ``name`` against ``reference`` on the case's first ``rows`` rows.

    Where the reference is too slow for the whole case, the stand-in that replaces it
    must not be gated against itself: this compares it with the reference on a reduced
    case with the same weights.

    Returns
    -------
    CheckedCall
    """
    reduced = dataclasses.replace(case, X=case.X[:rows], T=case.T[:rows])
    return checked_call(name, "backend", reduced, op, reference)


def gate(call, extract, dtype, reference, expected, origin=None):
    """Call once, time that first call, and compare its flat result with the reference's.

    The one test every timed call passes first, backends' and peers' alike.

    Parameters
    ----------
    call : callable with no arguments
    extract : callable, return value of ``call`` -> ndarray, shape (k,)
    dtype : str
        The case's dtype (chooses the tolerance, :data:`fastnn.testing.TOLERANCE`).
    reference : str
        The reference backend's name, for the note.
    expected : ndarray, shape (k,)
        The reference's flat result.
    origin : ndarray, shape (k,) or None
        For a training step, :func:`step_origin`: the step is compared
        (:func:`step_difference`), not the parameters after it.

    Returns
    -------
    CheckedCall
    """
    start = time.perf_counter()
    result = call()
    first_call_s = time.perf_counter() - start
    if origin is None:
        difference = relative_difference(extract(result), expected)
    else:
        difference = step_difference(extract(result), expected, origin, dtype)
    tolerance = TOLERANCE[dtype]
    passed = bool(difference <= tolerance)
    note = "" if passed else (f"differs from the {reference} reference by {difference:.2e} "
                              f"> {tolerance:.0e}")
    return CheckedCall(call, first_call_s, difference, passed, note)


class Warmups:
    """``backend.prepare(spec)`` timed once per backend and spec (compilation for Numba)."""

    def __init__(self):
        self._seconds = {}

    def prepare(self, name, spec):
        """Seconds ``prepare`` took for this backend and spec (measured the first time)."""
        key = (name, spec)
        if key not in self._seconds:
            start = time.perf_counter()
            backends.get(name).prepare(spec)
            self._seconds[key] = time.perf_counter() - start
        return self._seconds[key]
