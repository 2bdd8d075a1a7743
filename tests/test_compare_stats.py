"""Speedup intervals, rank tests, Holm, and `fastnn compare`'s evidence rule."""

import json

import numpy as np
import pandas as pd
import pytest

from fastnn.bench.measure.slowdown import injected_slowdown, maybe_slowed
from fastnn.bench.report.compare import compare_runs, machine_differences
from fastnn.commands import compare as cli_compare
from fastnn.reporting.noise import NoiseMonitor, noise_warnings
from fastnn.reporting.results import load_results, write_results
from fastnn.reporting.stats import (
    change_test,
    format_interval,
    holm,
    is_tie,
    median_interval,
    speedup_interval,
)


def test_median_interval_has_the_binomial_coverage():
    low, high, coverage = median_interval(np.arange(1.0, 8.0))  # 7 values: the range
    assert (low, high) == (1.0, 7.0)
    assert coverage == pytest.approx(1 - 2 / 128)
    low, high, coverage = median_interval(np.arange(1.0, 21.0))  # 20 values: k = 6
    assert (low, high) == (6.0, 15.0) and coverage >= 0.95


def test_speedup_interval_pairs_rounds_and_names_ties():
    base = np.array([2.0, 2.1, 1.9, 2.0, 2.2, 2.0, 2.05])
    clear = speedup_interval(base, base / 1.5)
    assert clear.value == pytest.approx(1.5) and not is_tie(clear)
    noisy = speedup_interval(base, base * np.array([0.9, 1.1, 0.95, 1.05, 1.0, 0.92, 1.08]))
    assert is_tie(noisy) and "no clear winner" in format_interval(noisy)
    with_gap = speedup_interval([1.0, None, 1.0], [0.5, 0.5, None])  # a round sat out
    assert with_gap.pairs == 1
    assert speedup_interval(None, [1.0]) is None


def test_holm_steps_down_and_ignores_nan():
    rejected, levels = holm([0.001, 0.06, np.nan, 0.012], alpha=0.05)
    assert list(rejected) == [True, False, False, True]
    assert levels[0] == pytest.approx(0.05 / 3) and np.isnan(levels[2])


def test_change_test_small_samples_cannot_be_significant():
    assert np.isnan(change_test([1.0], [2.0, 3.0]).p_value)
    three = change_test([1.0, 1.1, 1.2], [2.0, 2.1, 2.2])
    assert three.smallest_p == pytest.approx(0.1) and three.p_value >= 0.1


def _frame(medians, samples, backend="numpy"):
    rows = []
    for index, (median, rounds) in enumerate(zip(medians, samples)):
        rows.append({"backend": backend, "level": "mlp", "layer_sizes": "3-3-1",
                     "batch_size": index + 1, "op": "forward", "dtype": "float64",
                     "blas_threads": 1, "numba_threads": 1, "status": "ok",
                     "median_s": median, "unstable": False, "samples_s": rounds})
    return pd.DataFrame(rows)


def _rounds(center, n, rng, spread=0.02):
    return list(center * (1 + spread * rng.standard_normal(n)))


def test_compare_flags_only_significant_changes_beyond_the_threshold():
    rng = np.random.default_rng(0)
    old_samples = [_rounds(1.0, 9, rng) for _ in range(4)]
    factors = [1.0, 1.3, 1.05, 1.3]  # same, regressed, within threshold, too few rounds
    new_samples = [_rounds(f, 9, rng) for f in factors]
    new_samples[3] = new_samples[3][:1]
    old = _frame([np.median(s) for s in old_samples], old_samples)
    new = _frame([np.median(s) for s in new_samples], new_samples)
    table = compare_runs(old, new, threshold=0.10)
    assert list(table["verdict"]) == ["same", "regressed", "same", "inconclusive"]
    assert table.attrs["basis"] == "samples"
    # the same change on 3 rounds each cannot reach the corrected level: inconclusive
    few = compare_runs(_frame([1.0] * 4, [s[:3] for s in old_samples]),
                       _frame(factors, [s[:3] for s in new_samples]), threshold=0.10)
    assert "regressed" not in set(few["verdict"])


def test_a_change_just_past_the_threshold_is_not_a_verdict():
    # Two processes can differ by a steady few percent that no round of either shows
    # (the A/A experiment met +10.2 % at a 10 % threshold, every round of one run above
    # every round of the other): the rank test asks whether the change is beyond the
    # threshold, not whether there is one. A clear 30 % slowdown is still flagged.
    rng = np.random.default_rng(1)
    old_samples = [_rounds(1.0, 9, rng, spread=0.002) for _ in range(2)]
    new_samples = [_rounds(1.102, 9, rng, spread=0.002), _rounds(1.3, 9, rng, spread=0.002)]
    old = _frame([np.median(s) for s in old_samples], old_samples)
    new = _frame([np.median(s) for s in new_samples], new_samples)
    table = compare_runs(old, new, threshold=0.10)
    assert table["change"].iloc[0] > 0.10
    assert list(table["verdict"]) == ["inconclusive", "regressed"]
    faster = compare_runs(new, old, threshold=0.10)
    assert list(faster["verdict"]) == ["inconclusive", "improved"]


def test_compare_old_format_falls_back_to_medians():
    old = _frame([1.0, 1.0], [None, None]).drop(columns="samples_s")
    new = _frame([1.3, 1.0], [None, None]).drop(columns="samples_s")
    table = compare_runs(old, new, threshold=0.10)
    assert table.attrs["basis"] == "medians"
    assert list(table["verdict"]) == ["regressed", "same"]


def test_noisy_runs_make_moderate_changes_inconclusive():
    rng = np.random.default_rng(1)
    old_samples = [_rounds(1.0, 9, rng)]
    new_samples = [_rounds(1.3, 9, rng)]
    old, new = _frame([1.0], old_samples), _frame([1.3], new_samples)
    quiet = {"calibration_s": {"start": 1.0, "end": 1.0}, "calibration_drift": 0.0,
             "other_cpu_fraction": 0.0}
    busy = {"calibration_s": {"start": 1.0, "end": 1.4}, "calibration_drift": 0.4,
            "other_cpu_fraction": 0.9}
    assert compare_runs(old, new, 0.1, old_noise=quiet, new_noise=quiet)["verdict"][0] \
        == "regressed"
    assert compare_runs(old, new, 0.1, old_noise=quiet, new_noise=busy)["verdict"][0] \
        == "inconclusive"


def test_machine_differences_are_named():
    machine = {"cpu_model": "A", "numpy": "2.0", "blas": [{"internal_api": "openblas",
                                                          "version": "1", "num_threads": 1}]}
    other = dict(machine, cpu_model="B", blas=[{"internal_api": "openblas", "version": "1",
                                               "num_threads": 2}])
    found = machine_differences({"machine": machine}, {"machine": other})
    assert any("CPU: A -> B" in text for text in found)
    assert any("BLAS" in text for text in found)
    assert machine_differences({"machine": machine}, {"machine": machine}) == []


def test_cli_compare_exit_status_and_old_runs(tmp_path, capsys):
    rng = np.random.default_rng(2)
    old_samples = [_rounds(1.0, 9, rng) for _ in range(2)]
    new_samples = [_rounds(1.0, 9, rng), _rounds(1.5, 9, rng)]
    metadata = {"machine": {"cpu_model": "A"}, "config": {"rounds": 9}}
    for name in "abc":
        (tmp_path / name).mkdir()
    write_results(tmp_path / "a", _frame([1.0, 1.0], old_samples), metadata)
    write_results(tmp_path / "b", _frame([1.0, 1.5], new_samples), metadata)
    assert "samples_s" not in (tmp_path / "a" / "results.csv").read_text()
    frame, _ = load_results(tmp_path / "a")
    assert len(frame["samples_s"][0]) == 9

    def run(*paths):
        return cli_compare.run(str(paths[0]), str(paths[1]), threshold=0.10, alpha=0.05)

    assert run(tmp_path / "a", tmp_path / "b") == 1
    assert "1 regressed" in capsys.readouterr().out
    assert run(tmp_path / "a", tmp_path / "a") == 0
    # an old run (no samples) still reads, and says which rule it used
    document = json.loads((tmp_path / "b" / "results.json").read_text())
    for row in document["rows"]:
        del row["samples_s"]
    (tmp_path / "c" / "results.json").write_text(json.dumps(document))
    assert run(tmp_path / "a", tmp_path / "c") == 1
    assert "Older format" in capsys.readouterr().out


def test_noise_monitor_records_and_warns():
    monitor = NoiseMonitor().start()
    monitor.middle()
    record = monitor.stop()
    assert set(record["calibration_s"]) == {"start", "middle", "end"}
    assert all(value > 0 for value in record["calibration_s"].values())
    assert noise_warnings({"other_cpu_fraction": 0.5})
    assert noise_warnings({"other_cpu_fraction": 0.01, "calibration_drift": 0.01}) == []


def test_slowdown_switch_is_parsed_and_scoped():
    assert injected_slowdown({}) is None
    assert injected_slowdown({"FASTNN_TEST_SLOWDOWN": "numpy:forward:0.15"}) == \
        ("numpy", "forward", 0.15)
    with pytest.raises(ValueError, match="BACKEND:OP:FRACTION"):
        injected_slowdown({"FASTNN_TEST_SLOWDOWN": "numpy:forward"})
    call = lambda: 7  # noqa: E731
    environ = {"FASTNN_TEST_SLOWDOWN": "numpy:forward:0.15"}
    assert maybe_slowed(call, "numba", "forward", environ) is call
    slowed = maybe_slowed(call, "numpy", "forward", environ)
    assert slowed is not call and slowed() == 7


def test_tune_ties_follow_the_interval_rule():
    from fastnn.bench.measure.backend_table import winner

    medians = {"numpy": 1.2, "numba": 1.0}
    overlapping = {"numpy": [1.2, 0.9, 1.3, 0.95, 1.2, 1.25, 0.9],
                   "numba": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]}
    assert winner(medians, overlapping) == "numpy"  # no clear winner: the first listed
    clear = {"numpy": [1.2] * 7, "numba": [1.0] * 7}
    assert winner(medians, clear) == "numba"
    assert winner(medians) == "numba"  # no samples: the margin rule alone


def test_report_speedups_carry_intervals():
    from fastnn.bench.report.tables import ratio_with_interval

    tie = speedup_interval([1.0, 1.1, 0.9, 1.0, 1.0, 1.05, 0.95], [1.0] * 7)
    assert ratio_with_interval(1.0, tie).endswith("no clear winner")
    clear = speedup_interval([2.0] * 7, [1.0, 1.01, 0.99, 1.0, 1.0, 1.02, 0.98])
    assert "(" in ratio_with_interval(2.0, clear) and "winner" not in \
        ratio_with_interval(2.0, clear)
    assert ratio_with_interval(2.0, None) == "2×"


def test_batched_change_tests_match_one_by_one():
    from fastnn.reporting.stats import change_tests

    rng = np.random.default_rng(3)
    pairs = [(rng.random(7), rng.random(7) + shift) for shift in (0, 0.5, 2)] + \
        [(rng.random(5), rng.random(9)), ([1.0], [2.0, 3.0]), (None, [1.0, 2.0])]
    batched = change_tests(pairs)
    for (old, new), test in zip(pairs, batched):
        single = change_test(old, new)
        assert (single.n_old, single.n_new) == (test.n_old, test.n_new)
        assert single.p_value == pytest.approx(test.p_value, nan_ok=True)


def test_a_run_on_shared_cores_gives_no_verdict():
    from fastnn.reporting.noise import contention

    rng = np.random.default_rng(5)
    old, new = _frame([1.0], [_rounds(1.0, 9, rng)]), _frame([3.0], [_rounds(3.0, 9, rng)])
    shared = {"other_cpu_fraction": 0.9, "cpus": 2, "threads": 1}
    one_job = {"other_cpu_fraction": 0.52, "cpus": 2, "threads": 1}
    assert contention(shared) and not contention(one_job)
    table = compare_runs(old, new, 0.1, new_noise=shared)
    assert table["verdict"][0] == "inconclusive" and "noisy run" in table["reason"][0]
    assert compare_runs(old, new, 0.1)["verdict"][0] == "regressed"


def test_peer_versions_are_compared_where_both_runs_have_them():
    old = {"machine": {"cpu_model": "A", "peers": {"torch": "2.1"}}}
    assert machine_differences(old, {"machine": {"cpu_model": "A", "peers": {}}}) == []
    changed = machine_differences(old, {"machine": {"cpu_model": "A",
                                                    "peers": {"torch": "2.2"}}})
    assert changed == ["torch: 2.1 -> 2.2"]


def test_report_shows_the_noise_and_warns():
    from fastnn.bench.report.document import noise_markdown

    quiet = {"other_cpu_fraction": 0.02, "steal_fraction": 0.0, "cpus": 2,
             "calibration_s": {"start": 0.01, "middle": 0.0101, "end": 0.01},
             "calibration_drift": 0.01}
    text = noise_markdown({"noise": quiet})
    assert "2% of the 2 CPUs" in text and "Warning" not in text
    busy = dict(quiet, other_cpu_fraction=0.6)
    assert "Warning - noisy machine" in noise_markdown({"noise": busy})
    assert noise_markdown({}) == ""
