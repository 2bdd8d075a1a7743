"""The benchmark harness's parts: cases, FLOPs, calibration, statistics, the gate, run folders."""

import sys
import textwrap
import timeit

import numpy as np
import pytest

from fastnn import backends
from fastnn.bench.measure.sweep import SweepConfig, run_sweep
from fastnn.bench.workload.cases import flop_count, parse_layer_sizes, parse_positive_ints
from fastnn.ops import OP_TABLE, OPS, PEER_OPS, SELECTED_OPS, SWEPT_OPS
from fastnn.params import parameter_count
from fastnn.reporting.formatting import format_ratio
from fastnn.reporting.run_folder import RunFolder
from fastnn.reporting.timing import calibrate, summarise

TINY = {"layer_sizes": ((3, 3, 1),), "batch_sizes": (2,), "rounds": 2, "min_time": 0.0,
        "peak_size": 64, "levels": ("mlp", "backend")}


@pytest.mark.parametrize("text, sizes", [("100-100-50-10", (100, 100, 50, 10)),
                                         (" 3-3-1 ", (3, 3, 1)), ("784-10", (784, 10))])
def test_parse_layer_sizes(text, sizes):
    assert parse_layer_sizes(text) == sizes


@pytest.mark.parametrize("text", ["100-abc", "0-5", "5", "", "3--1", "3-3.5-1", "-3-1"])
def test_parse_layer_sizes_rejects_malformed(text):
    with pytest.raises(ValueError, match="malformed layer sizes"):
        parse_layer_sizes(text)


def test_parse_positive_ints_splits_commas_and_repeats():
    assert parse_positive_ints(["1,32", "256", "32"], "batch sizes") == (1, 32, 256)
    with pytest.raises(ValueError, match="positive"):
        parse_positive_ints(["1,0"], "batch sizes")
    with pytest.raises(ValueError, match="empty item"):
        parse_positive_ints(["1,,2"], "batch sizes")


def test_flop_count_of_the_3_3_1_network_by_hand():
    # forward: 2 * (3*3 + 3*1) = 24 per sample; backward: dW of both layers (24) plus
    # delta @ W.T of the second layer (2*3*1 = 6); the update: 2 per parameter (16).
    assert parameter_count((3, 3, 1)) == 16
    assert flop_count((3, 3, 1), 1, "forward") == 24
    assert flop_count((3, 3, 1), 1, "gradients") == 24 + 24 + 6
    assert flop_count((3, 3, 1), 1, "train_step") == 54 + 32
    assert flop_count((3, 3, 1), 10, "forward") == 240
    assert flop_count((3, 3, 1), 1, "loss") == 24  # the forward's products


def test_calibrate_follows_the_autorange_ladder():
    timer = timeit.Timer("pass")
    assert calibrate(timer, min_time=0.0) == 1
    number = calibrate(timer, min_time=1e-4)
    digits = str(number).rstrip("0")
    assert digits in ("1", "2", "5") and number > 1


def test_summarise_statistics_and_unstable_flag():
    summary = summarise([1.0, 2.0, 3.0, 4.0, 5.0], number=10)
    assert (summary.min, summary.median, summary.q1, summary.q3) == (1.0, 3.0, 2.0, 4.0)
    assert summary.iqr == 2.0 and summary.rounds == 5 and summary.number == 10
    assert summary.unstable
    steady = summarise([1.0, 1.01, 1.0, 1.02], number=1)
    assert not steady.unstable


def test_sweep_rows_cover_every_backend_level_and_op():
    config = SweepConfig(backends=("numpy", "python"), **TINY)
    result = run_sweep(config)
    assert len(result.rows) == 2 * 2 * 3
    for row in result.rows:
        assert row["status"] == "ok"
        assert row["max_rel_diff"] <= 1e-10
        assert 0 < row["min_s"] <= row["median_s"] <= row["q3_s"]
        assert row["blas_threads"] == 1
        assert row["gflops"] == pytest.approx(row["flops"] / row["median_s"] / 1e9)
    assert result.peaks[0]["gflops"] > 0


def test_every_op_of_the_table_is_swept_on_request_and_gated():
    from fastnn.bench.report.document import loss_cost_markdown
    from fastnn.reporting.rows import results_frame

    config = SweepConfig(backends=("numpy", "python"), ops=OPS, **TINY)
    rows = run_sweep(config).rows
    assert {row["op"] for row in rows} == set(OPS) and "loss" in OPS
    assert all(row["status"] == "ok" and row["max_rel_diff"] <= 1e-10 for row in rows)
    # the report's section on the loss's cost: loss / forward of each backend (mlp level)
    frame = results_frame(rows)
    text = loss_cost_markdown(frame)
    median = {(row["backend"], row["op"]): row["median_s"] for row in rows
              if row["level"] == "mlp"}
    ratio = median[("numpy", "loss")] / median[("numpy", "forward")]
    assert text.startswith("## The loss over the forward pass")
    assert text.splitlines()[-1].startswith("| 3-3-1 | 2 | ")
    assert format_ratio(ratio) in text.splitlines()[-1].split("|")[-2]
    assert loss_cost_markdown(frame[frame["op"] != "loss"]) == ""


def test_the_lists_of_ops_are_read_from_the_one_table():
    import pandas as pd
    from matplotlib.figure import Figure

    from fastnn.backends import selection
    from fastnn.bench.peers import PEERS
    from fastnn.bench.report import plots

    assert SweepConfig().ops == SWEPT_OPS == ("forward", "gradients", "train_step")
    assert selection.OPS == SELECTED_OPS and "loss" not in SELECTED_OPS + PEER_OPS
    assert PEERS["torch"].ops == PEERS["jax"].ops == PEER_OPS
    # no op drops out of the batch-scaling figure: each has its line and style
    ax = Figure().subplots()
    plots.plot_batch_scaling(ax, pd.DataFrame({"backend": "numpy", "op": list(OPS),
                                               "batch_size": 1, "median_s": 1e-5}), ["numpy"])
    assert [line.get_label() for line in ax.lines] == [f"numpy {op}" for op in OPS]
    assert [line.get_linestyle() for line in ax.lines] == \
        [OP_TABLE[op].plot_style for op in OPS]


def test_python_is_skipped_where_too_slow_and_the_row_says_why():
    config = SweepConfig(backends=("numpy", "python"), python_limit=1e-12,
                         **{**TINY, "levels": ("mlp",)})
    rows = run_sweep(config).rows
    python_rows = [row for row in rows if row["backend"] == "python"]
    assert python_rows and all(row["status"] == "skipped" for row in python_rows)
    assert all("--python-limit" in row["note"] and row["median_s"] is None
               for row in python_rows)
    # NumPy is then the reference, and is still timed.
    assert all(row["status"] == "ok" and row["reference"] == "numpy"
               for row in rows if row["backend"] == "numpy")


def test_correctness_gate_refuses_to_time_a_wrong_backend(tmp_path, monkeypatch):
    module = tmp_path / "off_by_a_little.py"
    module.write_text(textwrap.dedent("""
        from fastnn.backends.numpy_backend import NumpyBackend

        class OffByALittle(NumpyBackend):
            name = "off_by_a_little"

            def forward(self, spec, params, X):
                return super().forward(spec, params, X) * (1 + 1e-6)

        BACKEND = OffByALittle()
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(backends._MODULES, "off_by_a_little", "off_by_a_little")
    config = SweepConfig(backends=("numpy", "off_by_a_little"), ops=("forward", "gradients"),
                         **TINY)
    rows = run_sweep(config).rows
    wrong = [row for row in rows if row["backend"] == "off_by_a_little"]
    forward = [row for row in wrong if row["op"] == "forward"]
    assert forward and all(row["status"] == "failed" and row["median_s"] is None
                           and "reference" in row["note"] for row in forward)
    # Its gradients come from NumPy's code and are right: those are timed.
    assert all(row["status"] == "ok" for row in wrong if row["op"] == "gradients")
    sys.modules.pop("off_by_a_little", None)


def test_backend_aliases_and_repeats_collapse():
    assert SweepConfig(backends=("np", "numpy", "py")).backend_names() == ("numpy", "python")


def test_unknown_backend_is_refused_before_the_sweep():
    with pytest.raises(ValueError, match="unknown backend 'nope'"):
        SweepConfig(backends=("nope",)).backend_names()


def test_run_folder_commits_only_on_success(tmp_path):
    target = tmp_path / "reports" / "run"
    with RunFolder(target) as staging:
        (staging / "a.txt").write_text("a")
    assert (target / "a.txt").read_text() == "a"
    assert sorted(path.name for path in target.parent.iterdir()) == ["run"]

    failed = tmp_path / "new" / "deeper" / "run"
    with pytest.raises(RuntimeError), RunFolder(failed) as staging:
        (staging / "a.txt").write_text("a")
        raise RuntimeError("the sweep broke")
    assert list(tmp_path.iterdir()) == [tmp_path / "reports"]


def test_run_folder_never_replaces_a_baseline_without_force(tmp_path):
    target = tmp_path / "baseline"
    target.mkdir()
    (target / "results.json").write_text("saved")
    with pytest.raises(FileExistsError, match="--force"):
        RunFolder(target)
    assert (target / "results.json").read_text() == "saved"
    with RunFolder(target, force=True) as staging:
        (staging / "results.json").write_text("new")
    assert (target / "results.json").read_text() == "new"
    assert [path.name for path in tmp_path.iterdir()] == ["baseline"]


def test_run_folder_under_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="cannot write the output folder"):
        with RunFolder(blocker / "run"):
            pass
    assert [path.name for path in tmp_path.iterdir()] == ["file.txt"]


def test_matmul_peak_is_positive_and_consistent():
    from fastnn.reporting.machine import matmul_peak

    peak = matmul_peak(n=64, min_time=0.0, rounds=2)
    assert peak["gflops"] == pytest.approx(2 * 64 ** 3 / peak["seconds"] / 1e9)
    assert np.isfinite(peak["gflops"]) and peak["gflops"] > 0
    assert peak["dtype"] == "float64"
    assert matmul_peak(n=64, min_time=0.0, rounds=2, dtype="float32")["dtype"] == "float32"


def test_each_row_is_a_fraction_of_its_own_dtypes_peak():
    config = SweepConfig(backends=("numpy",), ops=("forward",), dtypes=("float64", "float32"),
                         **dict(TINY, levels=("backend",)))
    result = run_sweep(config)
    peaks = {peak["dtype"]: peak for peak in result.peaks}
    assert sorted(peaks) == ["float32", "float64"]
    assert all(peak["threads"] == 1 and peak["gflops"] > 0 for peak in peaks.values())
    for row in result.rows:
        peak = peaks[row["dtype"]]["gflops"]
        assert row["peak_gflops"] == peak
        assert row["peak_fraction"] == pytest.approx(row["gflops"] / peak)


def test_old_peaks_read_as_float64_and_name_their_dtype():
    from fastnn.reporting.machine import peak_dtype, peak_label

    assert peak_dtype({"n": 1024, "gflops": 40.0, "threads": 1}) == "float64"  # older files
    assert peak_dtype({"n": 1024, "gflops": 80.0, "dtype": "float32"}) == "float32"
    assert (peak_label("float32"), peak_label("float64")) == ("fp32", "fp64")


def test_pinned_threads_reach_every_blas_and_are_restored():
    from fastnn.reporting.machine import blas_libraries, pinned_threads

    before = [library["num_threads"] for library in blas_libraries()]
    with pinned_threads(1) as in_force:
        libraries = blas_libraries()
        assert libraries and all(library["num_threads"] == 1 for library in libraries)
        assert in_force["blas_threads"] == 1 and in_force["numba_threads"] == 1
    assert [library["num_threads"] for library in blas_libraries()][:len(before)] == before


def test_results_json_keeps_full_precision_and_missing_values(tmp_path):
    import pandas as pd

    from fastnn.reporting.results import load_results, write_results

    frame = pd.DataFrame([{"backend": "numpy", "level": "mlp", "layer_sizes": "3-3-1",
                           "batch_size": 1, "op": "forward", "dtype": "float64",
                           "blas_threads": 1, "numba_threads": None, "status": "ok",
                           "median_s": 1.234567890123e-06, "max_rel_diff": 1.2e-15,
                           "unstable": np.bool_(True), "note": ""}])
    write_results(tmp_path, frame, {"machine": {}})
    loaded, _ = load_results(tmp_path)
    row = loaded.iloc[0]
    assert row["median_s"] == 1.234567890123e-06 and row["max_rel_diff"] == 1.2e-15
    assert bool(row["unstable"])
    assert pd.isna(row["numba_threads"])
