"""The sweep memory estimate (fastnn/bench/workload/memory.py) against figures it does not compute.

Review finding: the test of ``point_bytes`` recomputed it with the module's own constants,
so it could not fail for a wrong estimate. Here the estimate is held to what its
docstring promises, a lower bound of what the harness holds at one point, measured with
``tracemalloc`` (NumPy reports its allocations to it) on a real one-point sweep, and to a
figure counted by hand.
"""

import tracemalloc

import pytest

from fastnn.bench.measure.sweep import SweepConfig, run_sweep
from fastnn.bench.workload.memory import check_sweep_memory, point_bytes


def test_the_estimate_of_a_small_point_counted_by_hand():
    # 400-400-10: 400*400 + 400 + 400*10 + 10 = 164,410 parameters; 810 units. Held at
    # least: the case's parameters, the network's, the gradients, the reference's (4
    # copies) and, per row of the batch, the inputs, the activations and the deltas of
    # every layer (3 copies of 810 values): 8 bytes each in float64.
    by_hand = 8 * (4 * 164_410 + 3 * 256 * 810)
    assert by_hand == 10_237_760
    assert point_bytes((400, 400, 10), 256, "float64") == by_hand
    assert point_bytes((400, 400, 10), 256, "float32") == by_hand // 2


@pytest.mark.slow
@pytest.mark.parametrize("op", ["forward", "gradients", "train_step"])
def test_the_estimate_is_a_lower_bound_of_a_measured_point(op):
    """About 10 s per op (the sweep calibrates and measures its reference rates)."""
    sizes, batch = (400, 400, 10), 256
    config = SweepConfig(layer_sizes=(sizes,), batch_sizes=(batch,), backends=("numpy",),
                         ops=(op,), rounds=1, min_time=0.001, peak_size=8)
    tracemalloc.start()
    try:
        run_sweep(config)
        _, measured = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    estimate = point_bytes(sizes, batch, "float64")
    assert estimate <= measured, (estimate, measured)
    # So a machine with the measured peak available (at the usable fraction) is accepted.
    check_sweep_memory(config, available=int(measured / 0.8) + 1)
