"""The correctness gate: a backend is timed only once its result matches the reference.

Used by the sweep of ``fastnn bench`` and by the pytest-benchmark suite
(:mod:`fastnn.bench.suite`), and meant for the peer adapters too: a call is prepared
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
from fastnn.bench.ops import OP_TABLE
from fastnn.model import MLP
from fastnn.testing import TOLERANCE, relative_difference


@dataclass(frozen=True)
class CheckedCall:
    """A warmed-up call that passed (or failed) the gate.

    Attributes
    ----------
    call : callable with no arguments
        What to time.
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


def make_call(name, level, case, op):
    """The timed call of ``op`` on ``case``, and the function flattening its result.

    Parameters
    ----------
    name : str
        A backend's registry name.
    level : {"mlp", "backend"}
    case : fastnn.bench.cases.Case
    op : str
        A key of :data:`fastnn.bench.ops.OP_TABLE`.

    Returns
    -------
    call : callable with no arguments
    extract : callable, return value of ``call`` -> ndarray, shape (k,)
    """
    entry, X, T = OP_TABLE[op], case.X, case.T
    if level == "mlp":
        net = MLP.from_spec(case.spec, case.params, backend=name)
        return (lambda: entry.mlp_call(net, X, T)), (lambda result: entry.mlp_result(result, net))
    engine, spec = backends.get(name), case.spec
    params = case.params.copy()  # train_step updates it in place
    return ((lambda: entry.backend_call(engine, spec, params, X, T)),
            (lambda result: entry.backend_result(result, params)))


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
    call, extract = make_call(name, level, case, op)
    if expected is None:
        expected = reference_result(reference, case, op)
    return gate(call, extract, case.spec.dtype, reference, expected)


def gate(call, extract, dtype, reference, expected):
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

    Returns
    -------
    CheckedCall
    """
    start = time.perf_counter()
    result = call()
    first_call_s = time.perf_counter() - start
    difference = relative_difference(extract(result), expected)
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
