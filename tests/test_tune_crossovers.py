"""The end-to-end crossover measurement of ``fastnn tune`` (fastnn.bench.measure.crossovers)."""

import math

import numpy as np
import pytest

from fastnn.backends import tuning
from fastnn.bench.measure import crossovers


def test_measured_crossovers_are_well_formed(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTNN_TUNE_FILE", str(tmp_path / "tune.json"))
    points = crossovers.measure(shapes=((4, 4), (16, 8)), rows=(1, 2), rounds=1, min_time=0.0)
    assert len(points) == 2 * 2 * len(tuning.PRODUCTS)
    assert all(math.isfinite(point.loops_s) and point.loops_s > 0 and point.blas_s > 0
               for point in points)
    rule = crossovers.fit_rule(points)
    assert set(rule) == set(tuning.PRODUCTS)
    for triple in rule.values():
        assert len(triple) == 3 and all(type(value) is int and value >= 0 for value in triple)
    tuning.save(crossovers=rule)  # refuses anything malformed or out of range
    assert tuning.load().crossovers == rule
    tuning.reload()


@pytest.mark.parametrize("product", tuning.PRODUCTS)
def test_forcing_a_product_either_way_gives_the_same_numbers(product):
    """The timed calls compute the same results on both paths (to rounding), so the two
    timings are of the same work."""
    calls = crossovers._product_calls(np.random.default_rng(0), 3, 16, 8)
    results = []
    for blas in (True, False):
        value = calls[product](blas)
        net = calls[product].__defaults__[0]
        results.append((value, net["Y"].copy(), net["grad"].copy()))
    (value_blas, Y_blas, grad_blas), (value_loops, Y_loops, grad_loops) = results
    if product == "forward_layer":
        assert value_blas and value_loops
        np.testing.assert_allclose(Y_blas, Y_loops, rtol=1e-12)
    else:
        assert value_blas == pytest.approx(value_loops, rel=1e-12)
        np.testing.assert_allclose(grad_blas, grad_loops, rtol=1e-10, atol=1e-14)


def test_a_noisy_point_does_not_move_a_shipped_crossover():
    shipped = {name: (4096, 2, 8192) for name in tuning.PRODUCTS}
    points = []
    for n_in, n_out in ((8, 8), (32, 32), (64, 64), (128, 128)):
        work = n_in * n_out
        # One row: BLAS wins by far from 4096 multiply-adds on; at 1024 it wins by 5 %,
        # the noise of a busy machine.
        blas_s = 0.5 if work >= 4096 else (0.95 if work == 1024 else 2.0)
        points.append(crossovers.Point("forward_layer", 1, n_in, n_out, 1.0, blas_s))
    assert crossovers.fit_rule(points, shipped)["forward_layer"][0] == 4096
    points[1] = crossovers.Point("forward_layer", 1, 32, 32, 1.0, 0.5)  # a real win
    assert crossovers.fit_rule(points, shipped)["forward_layer"][0] == 1024


def test_the_tuned_kernels_are_those_a_backend_declares(monkeypatch):
    """``fastnn tune`` reads the ``crossover_kernels`` capability, not a backend's name."""
    from fastnn import backends
    from fastnn.backends.numba_backend import NumbaBackend

    assert crossovers.tuned_backend() == "numba"
    assert backends.get("numba").crossover_kernels == "fastnn.backends._numba_kernels"
    assert backends.get("numpy").crossover_kernels is None
    monkeypatch.setattr(NumbaBackend, "crossover_kernels", None)
    assert crossovers.tuned_backend() is None
    with pytest.raises(ValueError, match="no available backend has kernels"):
        crossovers._product_calls(np.random.default_rng(0), 1, 2, 2)
