"""TEST-ONLY: inject a known slowdown into one op of one backend, to test ``fastnn compare``.

Set ``FASTNN_TEST_SLOWDOWN=BACKEND:OP:FRACTION`` (e.g. ``numpy:forward:0.15``) and the
sweep of ``fastnn bench`` makes every timed call of that backend's op take
``1 + FRACTION`` times as long (a busy wait after the call, proportional to the call's
own time). Never set it for a real measurement: it exists so that the A/B experiment
(``benchmarks/compare_experiments.py``) has a change of known size to find.
"""

from __future__ import annotations

import os
import time

ENVIRONMENT_VARIABLE = "FASTNN_TEST_SLOWDOWN"


def injected_slowdown(environ=None):
    """The (backend, op, fraction) of :data:`ENVIRONMENT_VARIABLE`, or None when unset.

    Raises
    ------
    ValueError
        If the variable is set but malformed.
    """
    text = (os.environ if environ is None else environ).get(ENVIRONMENT_VARIABLE, "")
    if not text:
        return None
    parts = text.split(":")
    try:
        backend, op, fraction = parts[0], parts[1], float(parts[2])
        if len(parts) != 3 or not 0 <= fraction < 10:
            raise ValueError
    except (IndexError, ValueError):
        raise ValueError(f"{ENVIRONMENT_VARIABLE}={text!r}: give BACKEND:OP:FRACTION, "
                         f"e.g. numpy:forward:0.15") from None
    return backend, op, fraction


def slowed(call, fraction):
    """``call`` made ``1 + fraction`` times as long, by busy-waiting after it."""
    def slow_call():
        start = time.perf_counter()
        result = call()
        until = start + (time.perf_counter() - start) * (1 + fraction)
        while time.perf_counter() < until:
            pass
        return result
    return slow_call


def maybe_slowed(call, backend, op, environ=None):
    """``call``, slowed if :data:`ENVIRONMENT_VARIABLE` names this backend and op."""
    injected = injected_slowdown(environ)
    if injected is None or injected[:2] != (backend, op):
        return call
    return slowed(call, injected[2])
