"""``fastnn bench``, ``compare`` and ``info`` end to end on a tiny sweep, and their bad input."""

import json
import shutil

import pandas as pd
import pytest

from fastnn.cli import UsageError, main
from fastnn.commands import bench as cli_bench

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TINY = ["bench", "--quick", "--sizes", "3-3-1", "--batches", "1", "--backends", "numpy,python",
        "--levels", "mlp,backend", "--rounds", "2", "--min-time", "0.0005"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "tiny"
    assert main([*TINY, "--out", str(folder)]) == 0
    return folder


def test_tiny_sweep_writes_tables_and_plots(tiny_run):
    names = sorted(path.name for path in tiny_run.iterdir())
    assert names == ["batch_scaling.png", "report.md", "results.csv", "results.json",
                     "speedup.png", "time_vs_size.png"]
    for name in ("batch_scaling.png", "speedup.png", "time_vs_size.png"):
        data = (tiny_run / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5000
    table = pd.read_csv(tiny_run / "results.csv")
    assert len(table) == 2 * 2 * 3  # backends x levels x ops
    assert set(table["status"]) == {"ok"}
    assert (table["median_s"] > 0).all() and (table["blas_threads"] == 1).all()
    document = json.loads((tiny_run / "results.json").read_text())
    assert document["format"] == "fastnn-bench-results"
    assert document["machine"]["cpu_model"] and document["machine"]["numpy"]
    assert document["peaks"][0]["gflops"] > 0
    assert len(document["rows"]) == len(table)


def test_report_has_the_pivot_tables_and_the_machine(tiny_run):
    report = (tiny_run / "report.md").read_text()
    for heading in ("## Headline", "## Median time per call, MLP level",
                    "## Median time per call, backend level", "## Speedup against numpy",
                    "## Speedup against python", "## GFLOP/s", "**Machine:**",
                    "![speedup.png](speedup.png)", "To reproduce: `fastnn bench",
                    "## Summary", "MLP level: `numpy` vs `python`: geometric mean",
                    "more per call than the backend method"):
        assert heading in report
    headline = report.split("## Headline", 1)[1].split("\n\n")[1]
    assert "| layer_sizes | batch_size | python | numpy | numpy vs python |" in headline
    assert "| 3-3-1 | 1 |" in headline


def test_compare_identical_runs_passes(tiny_run, capsys):
    assert main(["compare", str(tiny_run), str(tiny_run / "results.json")]) == 0
    assert "0 regressed" in capsys.readouterr().out


def test_compare_flags_an_injected_regression(tiny_run, tmp_path, capsys):
    slower = tmp_path / "slower"
    shutil.copytree(tiny_run, slower)
    document = json.loads((slower / "results.json").read_text())
    victim = document["rows"][0]
    victim["median_s"] *= 2
    victim["samples_s"] = [2 * value for value in victim["samples_s"]]
    (slower / "results.json").write_text(json.dumps(document))
    # 2 rounds each: no rank test can be significant, so the change is inconclusive
    assert main(["compare", str(tiny_run), str(slower), "--threshold", "10%"]) == 0
    assert "1 inconclusive" in capsys.readouterr().out
    for row in document["rows"]:  # an older run without samples: the median rule
        del row["samples_s"]
    (slower / "results.json").write_text(json.dumps(document))
    assert main(["compare", str(tiny_run), str(slower), "--threshold", "10%"]) == 1
    out = capsys.readouterr().out
    assert "1 regressed" in out and "+100.0%" in out and victim["backend"] in out
    # The same slowdown within a generous threshold passes; read the other way, it improved.
    assert main(["compare", str(tiny_run), str(slower), "--threshold", "150%"]) == 0
    assert main(["compare", str(slower), str(tiny_run)]) == 0
    assert "1 improved" in capsys.readouterr().out


def test_compare_writes_markdown_when_asked(tiny_run, tmp_path):
    target = tmp_path / "comparison.md"
    assert main(["compare", str(tiny_run), str(tiny_run), "--markdown", str(target)]) == 0
    assert "| backend | level |" in target.read_text()


@pytest.mark.parametrize("make_file, message", [
    (lambda folder: folder / "missing.json", "does not exist"),
    (lambda folder: _write(folder / "corrupt.json", "{not json"), "not valid JSON"),
    (lambda folder: _write(folder / "foreign.json", '{"benchmarks": []}'),
     "not a fastnn results file"),
    (lambda folder: _write(folder / "rows.json", '{"format": "fastnn-bench-results", '
                           '"version": 1, "rows": [{"backend": "numpy"}]}'), "lack the columns"),
])
def test_compare_bad_files_exit_2(tiny_run, tmp_path, capsys, make_file, message):
    bad = make_file(tmp_path)
    assert main(["compare", str(tiny_run), str(bad)]) == 2
    assert message in capsys.readouterr().err


def test_compare_bad_threshold_exits_2(tiny_run, capsys):
    assert main(["compare", str(tiny_run), str(tiny_run), "--threshold", "ten"]) == 2
    assert "malformed threshold" in capsys.readouterr().err


@pytest.mark.parametrize("options, message", [
    (["--sizes", "100-abc"], "malformed layer sizes '100-abc'"),
    (["--sizes", "0-5"], "malformed layer sizes '0-5'"),
    (["--backends", "numpy,nope"], "unknown backend 'nope'"),
    (["--ops", "backward"], "unknown op 'backward'"),
    (["--dtypes", "float16"], "unsupported dtype"),
    (["--batches", "0"], "batch sizes must be positive"),
    (["--threads", "two"], "thread counts must be positive"),
    (["--levels", "kernel"], "unknown level 'kernel'"),
    (["--rounds", "0"], "--rounds must be at least 1"),
    (["--threads", "1000"], "exceeds Numba's thread pool"),
])
def test_bench_bad_input_exits_2_without_files(tmp_path, capsys, options, message):
    out = tmp_path / "reports" / "run"
    assert main([*TINY, *options, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_bench_refuses_to_overwrite_a_baseline(tmp_path, capsys):
    baseline = tmp_path / "baseline"
    baseline.mkdir()
    (baseline / "results.json").write_text("saved")
    assert main([*TINY, "--out", str(baseline)]) == 2
    assert "--force" in capsys.readouterr().err
    assert [path.name for path in baseline.iterdir()] == ["results.json"]


def test_bench_unwritable_output_folder_exits_2(tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    assert main([*TINY, "--out", str(blocker / "run")]) == 2
    assert "cannot write the output folder" in capsys.readouterr().err
    assert [path.name for path in tmp_path.iterdir()] == ["file.txt"]


# A ValueError not raised by fastnn's validation is an internal error (status 1).
@pytest.mark.parametrize("failure, status", [(KeyboardInterrupt, 130), (ValueError, 1),
                                             (UsageError, 2)])
def test_a_failed_run_leaves_no_partial_files(tmp_path, monkeypatch, failure, status):
    def broken_sweep(config, progress=None):
        progress("first point")
        raise failure("stopped half way")

    monkeypatch.setattr(cli_bench, "run_sweep", broken_sweep)
    assert main([*TINY, "--out", str(tmp_path / "new" / "run")]) == status
    assert list(tmp_path.iterdir()) == []


def test_a_failure_while_writing_the_report_leaves_no_partial_files(tmp_path, monkeypatch):
    from fastnn.bench.report import document as report

    def broken_plot(data, order):
        raise ValueError("the plot broke")

    monkeypatch.setitem(report.PLOTS, "speedup.png", broken_plot)
    # A plot that breaks is a bug (status 1), not the user's error.
    assert main([*TINY, "--out", str(tmp_path / "run")]) == 1
    assert list(tmp_path.iterdir()) == []


def test_default_run_folder_is_new_and_timestamped():
    folder = cli_bench.default_run_folder()
    assert folder.parent.name == "reports" and folder.name.startswith("bench-")


def test_info_lists_versions_cpu_and_backends(capsys):
    import fastnn

    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for name in ("fastnn", "numpy", "cpu", "blas", "backends"):
        assert any(line.startswith(name) for line in out.splitlines())
    assert ", ".join(fastnn.available_backends()) in out


def _write(path, text):
    path.write_text(text)
    return path


# --- the presets: plain `fastnn bench`, --full, --quick --------------------------------------

def _config(*options):
    from fastnn.cli import build_parser

    return cli_bench.config_from_args(build_parser().parse_args(["bench", *options]))


def test_plain_bench_is_the_overview_and_full_is_the_thorough_sweep():
    from fastnn.bench.measure.sweep import SweepConfig
    from fastnn.bench.workload.cases import OVERVIEW_BATCH_SIZES, OVERVIEW_LAYER_SIZES

    overview = _config()
    assert overview.layer_sizes == OVERVIEW_LAYER_SIZES == (
        (64, 30, 10), (100, 100, 50, 10), (784, 256, 128, 10))
    assert overview.batch_sizes == OVERVIEW_BATCH_SIZES == (1, 256)
    assert overview.ops == ("forward", "gradients", "train_step")
    assert overview.levels == ("mlp",)
    # --full is exactly the sweep that made reports/baseline (SweepConfig's defaults).
    assert _config("--full") == SweepConfig()
    assert _config("--full", "--batches", "1").batch_sizes == (1,)
    assert overview.n_points() < SweepConfig().n_points()
    assert _config("--quick").min_time < overview.min_time < SweepConfig().min_time


def test_full_reproduces_the_committed_baseline_command(tmp_path):
    from pathlib import Path

    from fastnn.reporting.results import load_results

    _, metadata = load_results(Path(__file__).resolve().parent.parent / "reports" / "baseline")
    command = cli_bench.reproduce_command(_config("--full"), Path("reports/baseline"))
    assert command == metadata["command"]


def test_quick_and_full_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--quick", "--full"])
    assert "not allowed with" in capsys.readouterr().err


def test_progress_lines_give_elapsed_and_time_left():
    import io

    ticks = iter([0.0, 30.0, 32.0, 34.0, 36.0])  # start, then after each point
    stream = io.StringIO()
    progress = cli_bench.ProgressLines(4, stream, clock=lambda: next(ticks))
    for label in ("a", "b", "c", "d"):
        progress(label)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "fastnn bench: 1/4 points, a; elapsed 0:30, time left unknown"
    # The first point carried the compile: the rate comes from the ones after it.
    assert lines[1] == "fastnn bench: 2/4 points, b; elapsed 0:32, about 0:04 left"
    assert lines[3] == "fastnn bench: 4/4 points, d; elapsed 0:36, done"


def test_progress_lines_thin_out_on_long_sweeps():
    import io

    stream = io.StringIO()
    progress = cli_bench.ProgressLines(200, stream, clock=lambda: 0.0)
    for index in range(200):
        progress(str(index))
    assert len(stream.getvalue().splitlines()) == 50


def test_a_log_gets_progress_lines(tiny_run_log):
    assert "1/3 points" in tiny_run_log and "3/3 points" in tiny_run_log and "done" in tiny_run_log


@pytest.fixture(scope="module")
def tiny_run_log(tmp_path_factory):
    import contextlib
    import io

    stream = io.StringIO()
    with contextlib.redirect_stderr(stream):
        assert main([*TINY, "--levels", "mlp", "--out",
                     str(tmp_path_factory.mktemp("runs") / "log")]) == 0
    return stream.getvalue()
