"""The sweep's measurement fixes: raw samples, fixed state, the step gate, the stand-in."""

import numpy as np

from fastnn import backends
from fastnn.bench.measure.gate import (
    checked_call,
    make_call,
    reduced_check,
    reference_result,
    step_difference,
    step_origin,
)
from fastnn.bench.measure.sweep import SweepConfig, measure_point, run_sweep
from fastnn.bench.workload.cases import make_case


def test_train_step_reset_restores_the_gated_state():
    case = make_case((5, 4, 2), 3)
    for level in ("mlp", "backend"):
        call, extract, reset = make_call("numpy", level, case, "train_step")
        first = extract(call())
        call()
        call()
        reset()
        again = extract(call())
        np.testing.assert_array_equal(first, again)


def test_float32_step_gate_catches_a_wrong_update_that_parameters_hide():
    case = make_case((20, 10, 3), 8, "float32")
    expected = reference_result("python", case, "train_step")
    origin = step_origin(case, "train_step")
    good = checked_call("numpy", "backend", case, "train_step", "python", expected)
    assert good.passed
    # the same step 20 % too large: parameters after it differ little, the step does
    wrong = expected.copy()
    wrong[1:] = origin[1:] + 1.2 * (expected[1:] - origin[1:])
    wrong32 = wrong.astype(np.float32).astype(np.float64)
    assert step_difference(wrong32, expected, origin, "float32") > 1e-2
    relative_after = np.max(np.abs(wrong32[1:] - expected[1:])) / np.max(np.abs(expected[1:]))
    assert relative_after < step_difference(wrong32, expected, origin, "float32")


def test_a_stand_in_reference_is_checked_against_the_declared_one(monkeypatch):
    case = make_case((6, 5, 2), 40)
    assert reduced_check("numpy", case, "gradients", "python").passed
    engine = backends.get("numpy")
    right = engine.forward
    monkeypatch.setattr(engine, "forward", lambda *args: right(*args) * 1.001)
    config = SweepConfig(backends=("numpy",), ops=("forward",), levels=("backend",), rounds=2,
                         min_time=0.0005)
    threads = {"blas_threads": 1, "numba_threads": 1}
    # python far over its time limit: numpy is the point's reference, and is wrong
    rows = measure_point(config, ("numpy",), case, "forward", threads, {"gflops": 1.0},
                         {"python": 1e-3})
    (row,) = rows
    assert row.reference == "numpy" and row.status == "failed"
    assert "first rows" in row.note


def test_sweep_keeps_paired_samples_and_noise():
    config = SweepConfig(layer_sizes=((3, 3, 1),), batch_sizes=(2,), backends=("numpy",),
                         ops=("forward", "train_step"), levels=("mlp", "backend"), rounds=4,
                         min_time=0.0005, peak_size=32)
    result = run_sweep(config)
    timed = [row for row in result.rows if row.status == "ok"]
    assert len(timed) == 4
    assert all(len(row.samples_s) == 4 and min(row.samples_s) > 0 for row in timed)
    assert all(row.median_s == np.median(row.samples_s) for row in timed)
    assert set(result.noise["calibration_s"]) == {"start", "middle", "end"}
