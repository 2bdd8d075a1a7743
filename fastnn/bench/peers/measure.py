"""The peers' part of one sweep point: build, gate, and hand the timers to the sweep.

:func:`measure_peers` is called by :func:`fastnn.bench.measure.sweep.measure_point` with the
point's reference result and its list of timers, so that the peers are timed in the
same interleaved rounds as the backends. Every peer asked for gives a row for each op
it declares: timed, or skipped (not installed, or an activation or dtype it lacks),
failed (the gate), or an error, with the reason.
"""

from __future__ import annotations

import timeit

from fastnn import backends
from fastnn.backends.selection import table_source
from fastnn.bench.measure.gate import step_origin
from fastnn.bench.peers import get
from fastnn.bench.peers.base import Unsupported, gated_call
from fastnn.model import MLP
from fastnn.ops import OP_TABLE

# The level of a peer row: its library's public call, as the MLP level is fastnn's.
PEER_LEVEL = "mlp"


def measure_peers(names, case, op, threads, reference, expected, timed, pins, new_row):
    """Gate the peers on one point and append the ones that pass to ``timed``.

    Parameters
    ----------
    names : sequence of str
        Peer names.
    case : fastnn.bench.workload.cases.Case
    op : str
    threads : dict
        The counts in force (``blas_threads``, ``numba_threads``); the peers are pinned
        to the same count.
    reference : str
        The reference backend of the point.
    expected : ndarray, shape (k,)
        Its flat result.
    timed : list of (Row, timeit.Timer)
        The point's timers; the peers' are appended.
    pins : contextlib.ExitStack
        Holds the peers' thread settings until the point is timed.
    new_row : callable, peer name -> Row
        A blank row of this point.

    Returns
    -------
    list of Row
    """
    if not names or not OP_TABLE[op].peers:  # no peer times this op (fastnn/ops.py)
        return []
    count = threads.get("blas_threads") or threads.get("numba_threads") or 1
    net = peer_source(case, reference)
    auto = auto_choice(case, op)
    rows = []
    for name in names:
        peer = get(name)
        if op not in peer.ops:
            continue
        row = new_row(peer.name)
        row.extra.update(auto)
        rows.append(row)
        checked = gated_peer_call(peer, row, net, case, op, count, reference, expected, pins)
        if checked is not None:
            timed.append((row, timeit.Timer(checked.call, setup=checked.reset or "pass")))
    return rows


def peer_source(case, reference):
    """The case's network, which the peers are built from (weights, ONNX, PyTorch...).

    On the reference backend where it computes in the case's dtype, else on NumPy (the
    pure-Python reference computes in float64 only; the peers never run fastnn's
    backend, they read the network's parameters).
    """
    backend = reference if case.spec.dtype in backends.get(reference).dtypes else "numpy"
    return MLP.from_spec(case.spec, case.params, backend=backend)


def auto_choice(case, op):
    """The backend ``backend="auto"``'s table picks for this point, and where it came from.

    fastnn's side of a peer's ratio is this one backend (:func:`fastnn.fastest_backend`
    for the point's layer sizes, batch size, op and dtype), not the fastest of the
    backends timed: a minimum over several medians favours fastnn (a selection bias).

    Returns
    -------
    dict
        ``auto_backend`` (a backend name) and ``auto_table`` (``"shipped"`` or the path
        of this machine's ``fastnn tune`` file).
    """
    spec = case.spec
    return {"auto_backend": backends.fastest_backend(spec.layer_sizes, case.batch_size, op,
                                                     spec.dtype),
            "auto_table": table_source()}


def gated_peer_call(peer, row, net, case, op, count, reference, expected, pins):
    """The call of a peer that passed the gate; None (and ``row`` says why) otherwise.

    Parameters
    ----------
    peer : fastnn.bench.peers.base.Peer
    row : Row
        Filled in: threads, setup and first-call seconds, the difference, or the reason.
    net : fastnn.MLP
        The case's network.
    case, op, reference, expected, pins
        As :func:`measure_peers`.
    count : int
        The thread count to pin the peer to.

    Returns
    -------
    fastnn.bench.measure.gate.CheckedCall or None
    """
    if not peer.installed():
        row.not_timed("skipped", peer.missing_note())
        return None
    reason = peer.skip_reason(case.spec, op)
    if reason:
        row.not_timed("skipped", f"unsupported: {reason}")
        return None
    row.extra["peer_version"] = peer.version()
    try:
        peer_threads = pins.enter_context(peer.pinned(count))
        row.extra.update(peer_threads.columns())
        prepared = peer.prepare(net, case, op, count)
        row.compile_s = prepared.setup_s
        checked = gated_call(prepared, case.spec.dtype, reference, expected,
                             origin=step_origin(case, op))
    except Unsupported as exc:
        row.not_timed("skipped", f"unsupported: {exc}")
        return None
    except Exception as exc:  # a broken peer is reported, not fatal to the run
        row.not_timed("error", f"{type(exc).__name__}: {exc}")
        return None
    row.first_call_s, row.max_rel_diff = checked.first_call_s, checked.max_rel_diff
    if not checked.passed:
        row.not_timed("failed", f"{checked.note}; not timed")
        return None
    return checked
