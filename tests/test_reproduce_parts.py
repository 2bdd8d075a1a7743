"""The pieces of `fastnn reproduce`: the tutorials' code, training loops, timing, shortcuts."""

import numpy as np
import pytest
from conftest import BACKENDS

from fastnn import MLP, backends
from fastnn.functions import output_delta
from fastnn.params import init_params
from fastnn.reporting import machine, timing
from fastnn.reproduce import training_timing, tutorial_code
from fastnn.reproduce.settings import TINY
from fastnn.reproduce.training import experiments, per_sample_pass, train
from fastnn.spec import NetworkSpec
from fastnn.testing import numerical_gradients, relative_difference


@pytest.mark.parametrize("backend", BACKENDS)
def test_tutorials_looped_and_vectorised_forward_match_the_backends(backend, rng):
    net = MLP([4, 6, 5, 3], activation="sigmoid", loss="mse", backend=backend, seed=1)
    x = rng.standard_normal(4)
    w = [np.ascontiguousarray(W.T) for W in net.weights]
    b = [np.array(bias) for bias in net.biases]
    looped = tutorial_code.looped_forward(4, x, w, b)
    assert looped.shape == (3,)
    np.testing.assert_allclose(tutorial_code.vectorised_forward(4, x, w, b), looped, rtol=1e-12)
    np.testing.assert_allclose(net.forward(x), looped, rtol=1e-12)


def test_one_dimensional_gradient_descents_land_where_the_tutorials_say():
    minimum, steps = tutorial_code.descend_quartic()
    assert f"{minimum:.6f}" == "2.249965"
    assert steps > 1
    point, value = tutorial_code.descend_sum_of_squares()
    assert point.shape == (2, 1)
    assert 2.25e-18 < value < 2.35e-18


@pytest.mark.parametrize("backend", BACKENDS)
def test_per_sample_accumulation_is_one_full_batch_step(backend, rng):
    spec = NetworkSpec.create([5, 4, 3], "sigmoid", "sigmoid", "mse")
    start = init_params(spec, "uniform01", 2)
    X, T = rng.standard_normal((9, 5)), rng.random((9, 3))
    engine = backends.get(backend)
    per_sample, full_batch = start.copy(), start.copy()
    per_sample_pass(engine, spec, per_sample, X, T, 0.25)
    engine.train_step(spec, full_batch, X, T, 0.25)
    assert not np.array_equal(per_sample, start)
    assert relative_difference(per_sample, full_batch) < 1e-12


@pytest.mark.parametrize("loss", ["mse", "binary_cross_entropy"])
def test_tutorial_c_shortcut_is_the_true_delta_with_the_sigmoid_derivative_left_out(loss, rng):
    Y = rng.uniform(0.05, 0.95, (6, 4))
    T = (rng.random((6, 4)) > 0.5).astype(float)
    Z = np.log(Y / (1 - Y))
    true = output_delta(loss, "sigmoid", Z, Y, T)
    shortcut = tutorial_code.shortcut_output_delta(loss, Y, T)
    np.testing.assert_allclose(shortcut * Y * (1 - Y), true, rtol=1e-12)


def test_tutorial_c_shortcut_gradient_is_far_from_finite_differences(rng):
    spec = NetworkSpec.create([4, 5, 3], "sigmoid", "sigmoid", "mse")
    params = init_params(spec, "xavier", 0)
    X, T = rng.random((7, 4)), (rng.random((7, 3)) > 0.5).astype(float)
    numerical = numerical_gradients(spec, params, X, T)
    shortcut = tutorial_code.shortcut_gradients(spec, params, X, T)
    _, true = backends.get("numpy").gradients(spec, params, X, T)
    assert relative_difference(true, numerical) < 1e-6
    assert relative_difference(shortcut, numerical) > 0.5
    with pytest.raises(ValueError, match="shortcut"):
        tutorial_code.shortcut_output_delta("cross_entropy", X, X)


def test_training_runs_record_losses_and_accuracy():
    experiment = {exp.key: exp for exp in experiments(TINY)}["C"]
    result = train(experiment, seed=0, backend_name="numpy", epochs=4)
    assert result.train_loss.shape == (4,) and result.test_loss.shape == (4,)
    assert result.final_train_loss < result.train_loss[0]
    assert 0 <= result.accuracy <= 1
    again = train(experiment, seed=0, backend_name="numpy", epochs=4)
    np.testing.assert_array_equal(again.train_loss, result.train_loss)


def test_tutorial_b_learning_rate_is_the_summed_rate_times_the_batch():
    experiment = {exp.key: exp for exp in experiments(TINY)}["B"]
    assert experiment.learning_rate == pytest.approx(1e-5 * 1500)
    assert experiment.epochs == TINY.epochs_b


def test_timing_summary_statistics():
    summary = timing.Timing((1.0, 2.0, 3.0, 4.0, 100.0), 10)
    assert summary.median == 3.0
    assert summary.q1 == 2.0 and summary.q3 == 4.0
    assert summary.relative_iqr == pytest.approx(2 / 3)


def test_interleaved_times_every_case_for_every_round():
    calls = {"a": 0, "b": 0}

    def case(name):
        def run():
            calls[name] += 1
        return run

    timings = timing.interleaved({"a": case("a"), "b": case("b")}, rounds=3, min_time=1e-4)
    assert set(timings) == {"a", "b"}
    for name, result in timings.items():
        assert len(result.per_call) == 3 and result.number >= 1
        assert all(value > 0 for value in result.per_call)
        assert calls[name] >= 3 * result.number


def test_single_threaded_pins_and_restores_numba_threads():
    import numba  # a required dependency

    before = numba.get_num_threads()
    with machine.single_threaded() as settings:
        assert settings["blas_threads"] == 1
        assert settings["blas_libraries"]
        assert all(entry.endswith(": 1") for entry in settings["blas_libraries"])
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before


def test_extrapolated_totals_say_how_much_was_measured():
    experiment = {exp.key: exp for exp in experiments(TINY)}["A"]
    timings = training_timing.time_tutorial_a(TINY, experiment, ["numpy"])
    by_form = {t.form: t for t in timings}
    per_sample = by_form[training_timing.PER_SAMPLE]
    assert per_sample.samples_timed == TINY.per_sample_subset
    assert per_sample.extrapolated
    assert per_sample.total == pytest.approx(per_sample.per_pass.median * TINY.passes_a)
    full = by_form[training_timing.FULL_BATCH]
    assert full.passes_timed == TINY.full_batch_steps["numpy"]
    assert len(full.per_pass.per_call) == TINY.full_batch_rounds


def test_ratio_reason_explains_the_tutorials_ratio_by_the_two_gains():
    from fastnn.reproduce.report import _ratio_reason
    from fastnn.reproduce.speedup import LOOP, VECTORISED, SpeedupRow

    # Loop 10x faster than the tutorial's 41 ms, vectorised only 2x faster than its 84 us:
    # our ratio is 4.1 ms / 42 us = 97.6 = 488 * (2 / 10), so it moves by 0.2.
    row = SpeedupRow((100, 100, 50, 10), 15500,
                     {LOOP: timing.Timing((4.1e-3,), 1), VECTORISED: timing.Timing((42e-6,), 1)},
                     {"loop": 41e-3, "vectorised": 84e-6})
    assert row.speedup(VECTORISED) == pytest.approx(41e-3 / 84e-6 * 0.2)
    text = _ratio_reason(row)
    assert "10× faster" in text and "2× faster" in text and "0.2×" in text


@pytest.mark.parametrize(("value", "expected"), [
    (None, "-"), (4.2e-8, "42 ns"), (40e-6, "40 µs"), (0.0411, "41.1 ms"), (2.46, "2.46 s"),
    (275.4, "4.59 min"), (3 * 3600, "3 h")])
def test_seconds_picks_a_unit_with_three_digits(value, expected):
    from fastnn.reproduce.tables import seconds

    assert seconds(value) == expected
