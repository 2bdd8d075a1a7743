"""Session setup of the pytest-benchmark suite (``pytest benchmarks/``), shared by every file.

- BLAS and Numba threads are pinned for the whole session to ``FASTNN_BENCH_THREADS``
  (default 1), and every benchmark should record them (the ``bench_threads`` fixture).
- The JSON file's ``machine_info`` gains a ``fastnn`` entry: CPU model, versions, BLAS
  libraries, and this machine's matmul peak in each dtype (sgemm, dgemm) at the pinned
  thread count, which ``fastnn report FILE.json`` uses for its GFLOP/s-versus-peak table
  (each row against its own dtype's peak; ``matmul_peak``, the float64 one, is kept for
  readers of older files).
"""

import os

import pytest

from fastnn.bench.measure.suite import benchmark_group, prepare_point
from fastnn.reporting import machine


def _threads_from_environment():
    text = os.environ.get("FASTNN_BENCH_THREADS", "1")
    if not text.isdigit() or int(text) < 1:
        raise pytest.UsageError(f"FASTNN_BENCH_THREADS must be a positive integer; got {text!r}")
    return int(text)


THREADS = _threads_from_environment()


@pytest.fixture(scope="session", autouse=True)
def bench_threads():
    """The BLAS and Numba thread counts in force: ``{"blas_threads": .., "numba_threads": ..}``."""
    with machine.pinned_threads(THREADS) as in_force:
        yield in_force


@pytest.fixture
def time_point(benchmark, bench_threads):
    """Time one op of the public MLP call on one case with pytest-benchmark.

    The point is validated against the reference backend and warmed up (Numba
    compiles) outside the timed region; the pure-Python backend is skipped where one
    call would take too long, or in float32, which it does not compute (the skip reason
    says so). A float32 point's group names its dtype; a float64 one's does not.
    """

    def run(op, backend, layer_sizes, batch_size, dtype="float64"):
        call, info = prepare_point(backend, layer_sizes, batch_size, op, dtype=dtype)
        if call is None:
            pytest.skip(info)
        benchmark.group = benchmark_group(op, layer_sizes, batch_size, dtype)
        benchmark.extra_info.update(info, **bench_threads)
        benchmark(call)

    return run


def pytest_benchmark_update_machine_info(config, machine_info):
    """Add fastnn's machine description and the matmul peaks to the JSON file."""
    with machine.pinned_threads(THREADS) as in_force:
        peaks = [dict(machine.matmul_peak(dtype=dtype), threads=THREADS, **in_force)
                 for dtype in ("float64", "float32")]
        machine_info["fastnn"] = {"machine": machine.machine_info(), "matmul_peak": peaks[0],
                                  "matmul_peaks": peaks}
