"""pytest-benchmark: fastnn's backends and the peer libraries on the issue's cases, in
float64 and float32.

Each case and dtype is one pytest-benchmark group (``"forward 100-100-50-10 x1"``, and
``"... float32"``), so that its table lists fastnn's backends and the peers (PyTorch,
JAX, ONNX Runtime, OpenVINO, scikit-learn) side by side with their ratios to the
fastest, every one computing in the group's dtype. Every call passes the correctness
gate first (the peers' as in ``fastnn bench --peers``, within the dtype's tolerance); a
peer that is not installed, lacks the op or the dtype, is skipped with the reason
(OpenVINO in float64: its CPU plugin has no float64), and so is a backend without the
dtype (the pure-Python one in float32). In float32 the compiling backends race only where
``backend="auto"`` picks them (fastnn's side of the race), so that the suite compiles one
set of float32 kernels, not one per backend. Peers are pinned to the session's thread count
(FASTNN_BENCH_THREADS). The whole grid is ``fastnn bench --peers ... --dtypes
float32,float64`` and benchmarks/peer_race_analysis.py.

    pytest benchmarks/test_peers.py --benchmark-group-by=group
"""

import contextlib

import pytest

from fastnn import backends
from fastnn.bench.measure.gate import reference_result
from fastnn.bench.measure.suite import BACKENDS, benchmark_group
from fastnn.bench.measure.sweep import case_row
from fastnn.bench.peers import PEERS
from fastnn.bench.peers.measure import PEER_LEVEL, gated_peer_call
from fastnn.bench.workload.cases import flop_count, make_case, sizes_label
from fastnn.model import MLP

# (op, layer sizes, batch): 1-row inference, a large batch, and a full-batch training
# step on the digits network (1797 rows).
CASES = [("forward", (100, 100, 50, 10), 1), ("forward", (784, 256, 128, 10), 256),
         ("train_step", (64, 30, 10), 1797)]
DTYPES = ("float64", "float32")


def _case_id(case):
    op, sizes, batch = case
    return f"{op}-{sizes_label(sizes)}-x{batch}"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_fastnn(time_point, case, dtype, backend):
    op, sizes, batch = case
    if dtype != "float64":
        reason = _left_out(backend, sizes, batch, op, dtype)
        if reason:
            pytest.skip(reason)
    time_point(op, backend, sizes, batch, dtype)


def _left_out(backend, sizes, batch, op, dtype):
    """Why a compiling backend other than ``backend="auto"``'s pick is not raced in
    ``dtype`` here, or ``""``: its kernels would compile once more per dtype for a time
    the race does not compare (its side is auto's pick)."""
    pick = backends.fastest_backend(sizes, batch, op, dtype)
    if not backends.get(backend).compiles or backend == pick:
        return ""
    return (f"{backend} in {dtype}: only backend=\"auto\"'s pick ({pick}) among the "
            f"compiling backends races in {dtype} here, to spare the compile; "
            f"fastnn bench --dtypes {dtype} times every backend")


@pytest.mark.parametrize("peer", list(PEERS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_peer(benchmark, bench_threads, case, dtype, peer):
    op, sizes, batch = case
    point = make_case(sizes, batch, dtype)
    reference = backends.reference_backend(time_limited_ok=False)  # big cases: the fast one
    row = case_row(peer, PEER_LEVEL, point, op, bench_threads, reference)
    count = bench_threads.get("blas_threads") or 1
    with contextlib.ExitStack() as pins:
        checked = gated_peer_call(PEERS[peer], row, MLP.from_spec(point.spec, point.params),
                                  point, op, count, reference,
                                  reference_result(reference, point, op), pins)
        if checked is None:
            if row.status == "failed":
                pytest.fail(f"{peer} {op} {dtype} on {point.sizes_label}: {row.note}")
            pytest.skip(row.note or f"{peer} does not time {op}")
        benchmark.group = benchmark_group(op, sizes, batch, dtype)
        benchmark.extra_info.update(
            backend=peer, level=PEER_LEVEL, layer_sizes=point.sizes_label, batch_size=batch,
            op=op, dtype=dtype, flops=flop_count(sizes, batch, op), reference=reference,
            max_rel_diff=checked.max_rel_diff, compile_s=row.compile_s,
            first_call_s=checked.first_call_s, **bench_threads, **row.extra)
        benchmark(checked.call)
