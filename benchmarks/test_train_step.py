"""pytest-benchmark: `train_step` of the public MLP call, per backend x layer sizes x batch.

The point is validated against the reference backend and warmed up (Numba compiles)
outside the timed region; the pure-Python backend is skipped where one call would take
too long (the skip reason says so).
"""

import pytest

from fastnn.bench.cases import sizes_label
from fastnn.bench.suite import BACKENDS, BATCH_SIZES, LAYER_SIZES, prepare_point

OP = "train_step"


@pytest.mark.parametrize("batch_size", BATCH_SIZES, ids=lambda batch: f"x{batch}")
@pytest.mark.parametrize("layer_sizes", LAYER_SIZES, ids=sizes_label)
@pytest.mark.parametrize("backend", BACKENDS)
def test_train_step(benchmark, bench_threads, backend, layer_sizes, batch_size):
    call, info = prepare_point(backend, layer_sizes, batch_size, OP)
    if call is None:
        pytest.skip(info)
    benchmark.group = f"{OP} {sizes_label(layer_sizes)} x{batch_size}"
    benchmark.extra_info.update(info, **bench_threads)
    benchmark(call)
