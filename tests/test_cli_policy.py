"""One exit-status policy for every subcommand (fastnn/cli.py; issue 20, item 3).

A user's error is one line on stderr and status 2; an internal error says so, asks for
a report and exits 1, with the traceback only under --debug; Ctrl-C is status 130 and
one line. Before this policy, KeyError, AttributeError, IsADirectoryError and
MemoryError surfaced as tracebacks with status 1.
"""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fastnn.cli import COMMANDS, main
from fastnn.commands import report as cli_report
from fastnn.commands import tune as cli_tune

TINY = ["bench", "--quick", "--backends", "numpy", "--batches", "1", "--ops", "forward",
        "--sizes", "3-2", "--rounds", "1", "--min-time", "0.001"]


def _raising(exc):
    def run(args):
        raise exc
    return run


def _one_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("exc, status, words", [
    (KeyError("layer_sizes"), 1, "internal error: KeyError"),
    (AttributeError("'int' object has no attribute 'split'"), 1, "internal error"),
    (IsADirectoryError(21, "Is a directory", "out.md"), 2, "error: [Errno 21] Is a directory"),
    (MemoryError(), 2, "not enough memory"),
    (ConnectionError("lost the Dask scheduler"), 2, "lost the Dask scheduler"),
    (ImportError('install it with: pip install "fastnn[distributed]"'), 2, "pip install"),
    (KeyboardInterrupt(), 130, "interrupted"),
])
def test_every_exception_maps_to_one_line_and_its_status(monkeypatch, capsys, exc, status,
                                                         words):
    monkeypatch.setattr(cli_report, "run_from_args", _raising(exc))
    assert main(["report", "x.json"]) == status
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("fastnn report: ") and words in line
    if status == 1:
        assert "bug in fastnn" in line and "--debug" in line


def _format_none(args):
    return f"{None:.3g}"  # the bug found in review: a TypeError from the interpreter


def _numpy_shape_error(args):
    import numpy as np

    return np.ones(3) @ np.ones(4)  # a ValueError raised by NumPy, not by a refusal


def _fastnn_refusal(args):
    from fastnn.bench.workload.cases import parse_layer_sizes

    return parse_layer_sizes("3-x")  # a ValueError raised by fastnn's validation


@pytest.mark.parametrize("run, status, words", [
    (_format_none, 1, "internal error: TypeError: unsupported format string"),
    (_numpy_shape_error, 1, "internal error: ValueError"),
    (_fastnn_refusal, 2, "error: "),
])
def test_only_fastnn_refusals_are_user_errors(monkeypatch, capsys, run, status, words):
    """Before, every TypeError and ValueError was status 2, bugs included."""
    monkeypatch.setattr(cli_report, "run_from_args", run)
    assert main(["report", "x.json"]) == status
    line = _one_line(capsys.readouterr().err)
    assert words in line
    assert ("bug in fastnn" in line) == (status == 1)


def test_logging_works_after_main_returns_from_an_interrupt(monkeypatch, capsys):
    """main() is a library function too: an interrupt must not disable logging for the
    rest of the process (it is silenced only at interpreter shutdown)."""
    monkeypatch.setattr(cli_report, "run_from_args", _raising(KeyboardInterrupt()))
    assert main(["report", "x.json"]) == 130
    assert logging.root.manager.disable == logging.NOTSET
    assert logging.getLogger("fastnn.test").isEnabledFor(logging.ERROR)


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_prints_the_traceback(monkeypatch, capsys, where):
    monkeypatch.setattr(cli_report, "run_from_args", _raising(KeyError("layer_sizes")))
    argv = ["--debug", "report", "x.json"] if where == "before" else ["report", "x.json",
                                                                       "--debug"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError: 'layer_sizes'" in err


@pytest.mark.parametrize("option", [["--sizes", "1000000000-10"], ["--batches", "1000000000"]])
def test_a_sweep_too_large_for_memory_is_refused_before_anything_is_written(
        tmp_path, capsys, option):
    out = tmp_path / "run"
    argv = ["bench", "--backends", "numpy", "--ops", "forward", *option, "--out", str(out)]
    assert main(argv) == 2
    line = _one_line(capsys.readouterr().err)
    assert "needs at least" in line and "available" in line
    assert list(tmp_path.iterdir()) == []


def test_the_memory_estimate_grows_with_sizes_and_batches():
    from fastnn.bench.measure.sweep import SweepConfig
    from fastnn.bench.workload.memory import check_sweep_memory, point_bytes

    assert point_bytes((3, 2), 1, "float64") == 8 * (4 * 8 + 3 * 1 * 5)
    assert point_bytes((3, 2), 1, "float32") * 2 == point_bytes((3, 2), 1, "float64")
    config = SweepConfig(layer_sizes=((100, 10),), batch_sizes=(1, 1000))
    check_sweep_memory(config, available=10**9)
    with pytest.raises(MemoryError, match="100-10 x batch 1000"):
        check_sweep_memory(config, available=10**5)


def _bad_stats_file(path, change):
    stats = {"min": 1e-5, "max": 3e-5, "mean": 2e-5, "stddev": 1e-6, "rounds": 5,
             "median": 2e-5, "iqr": 2e-6, "q1": 1.9e-5, "q3": 2.1e-5, "iterations": 10}
    info = {"backend": "numpy", "layer_sizes": "3-3-1", "batch_size": 1, "op": "forward",
            "dtype": "float64"}
    change(stats, info)
    path.write_text(json.dumps({"machine_info": {}, "benchmarks": [
        {"name": "test_forward", "extra_info": info, "stats": stats}]}))
    return path


@pytest.mark.parametrize("change, field", [
    (lambda stats, info: stats.update(median="2e-5"), "benchmarks[0].stats.median"),
    (lambda stats, info: stats.update(min=-1.0), "benchmarks[0].stats.min"),
    (lambda stats, info: stats.pop("q3"), "benchmarks[0].stats.q3"),
    (lambda stats, info: stats.update(rounds=0), "benchmarks[0].stats.rounds"),
    (lambda stats, info: stats.update(rounds=2.5), "benchmarks[0].stats.rounds"),
    (lambda stats, info: stats.update(median=1.0), "benchmarks[0].stats.median"),
    (lambda stats, info: stats.update(iqr=5.0), "benchmarks[0].stats.iqr"),
    (lambda stats, info: info.update(batch_size="many"), "benchmarks[0].extra_info.batch_size"),
    (lambda stats, info: info.update(layer_sizes="3-x"), "benchmarks[0].extra_info.layer_sizes"),
    # Found in review: these wrote a report and exited 0.
    (lambda stats, info: stats.update({key: 0 for key in ("min", "max", "mean", "median", "iqr",
                                                           "q1", "q3")}),
     "benchmarks[0].stats.median"),
    (lambda stats, info: stats.update(min=1.95e-5), "benchmarks[0].stats.q1"),
    (lambda stats, info: stats.update(max=2.05e-5), "benchmarks[0].stats.max"),
    (lambda stats, info: info.update(dtype="banana"), "benchmarks[0].extra_info.dtype"),
], ids=["string", "negative", "missing", "zero-rounds", "float-rounds", "median-above-q3",
        "iqr", "batch", "sizes", "all-zero", "min-above-q1", "q3-above-max", "dtype"])
def test_report_on_nonsense_statistics_is_a_clean_error_and_no_report(tmp_path, capsys, change,
                                                                      field):
    source = _bad_stats_file(tmp_path / "bench.json", change)
    out = tmp_path / "report"
    assert main(["report", str(source), "--out", str(out)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"field '{field}'" in line
    assert not out.exists()


@pytest.mark.parametrize("fastnn_entry", [["machine"], "machine"], ids=["list", "string"])
def test_report_refuses_a_machine_info_fastnn_that_is_not_an_object(tmp_path, capsys,
                                                                    fastnn_entry):
    source = _bad_stats_file(tmp_path / "bench.json", lambda stats, info: None)
    document = json.loads(source.read_text())
    document["machine_info"]["fastnn"] = fastnn_entry
    source.write_text(json.dumps(document))
    out = tmp_path / "report"
    assert main(["report", str(source), "--out", str(out)]) == 2
    assert "field 'machine_info.fastnn' must be an object" in _one_line(capsys.readouterr().err)
    assert not out.exists()


@pytest.fixture(scope="module")
def sound_report(tmp_path_factory):
    """A report from sound statistics (the same file, unchanged, passes every check)."""
    folder = tmp_path_factory.mktemp("sound")
    source = _bad_stats_file(folder / "bench.json", lambda stats, info: None)
    assert main(["report", str(source), "--out", str(folder / "run")]) == 0
    return folder / "run"


def test_report_on_sound_statistics_is_written(sound_report):
    assert (sound_report / "report.md").stat().st_size > 0


@pytest.mark.parametrize("config_change, field", [
    ({"layer_sizes": [5]}, "config.layer_sizes"),
    ({"batch_sizes": "1,2"}, "config.batch_sizes"),
    ({"rounds": "7"}, "config.rounds"),
    ({"surprise": 1}, "config.surprise"),
])
def test_resume_on_a_malformed_run_json_is_a_clean_error(tmp_path, capsys, config_change,
                                                         field):
    from fastnn.bench.distributed.resume import RunPlan, write_plan
    from fastnn.bench.measure.sweep import SweepConfig

    write_plan(tmp_path, RunPlan(SweepConfig(layer_sizes=((3, 2),)), ["a"], "local:1"))
    document = json.loads((tmp_path / "run.json").read_text())
    document["config"].update(config_change)
    (tmp_path / "run.json").write_text(json.dumps(document))
    before = sorted(path.name for path in tmp_path.iterdir())
    assert main(["bench", "--resume", str(tmp_path)]) == 2
    assert f"field '{field}'" in _one_line(capsys.readouterr().err)
    assert sorted(path.name for path in tmp_path.iterdir()) == before


@pytest.mark.parametrize("action", [[], ["--forget"]])
def test_tune_file_env_pointing_at_a_directory_fails_before_measuring(
        tmp_path, monkeypatch, capsys, action):
    monkeypatch.setenv("FASTNN_TUNE_FILE", str(tmp_path))
    monkeypatch.setattr(cli_tune, "measure", _raising(AssertionError("measured")))
    assert main(["tune", *action]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "is a directory" in line and "$FASTNN_TUNE_FILE" in line


def test_tune_refuses_a_destination_under_a_file(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("FASTNN_TUNE_FILE", str(blocker / "deeper" / "tune.json"))
    monkeypatch.setattr(cli_tune, "measure", _raising(AssertionError("measured")))
    assert main(["tune"]) == 2
    assert "is not a directory" in _one_line(capsys.readouterr().err)


@pytest.mark.slow
def test_ctrl_c_during_a_local_dask_sweep_prints_no_traceback(tmp_path):
    """Ctrl-C reaches the whole process group, as a terminal sends it (about 40 s: run by
    ``tox -e slow``, ``pytest -m slow``)."""
    pytest.importorskip("distributed")
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    command = [sys.executable, "-m", "fastnn", "bench", "--backends", "numpy", "--batches",
               "1,8,32,64", "--rounds", "5", "--min-time", "0.2", "--scheduler", "local:2",
               "--out", str(out)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    # Interrupted while cases are being measured (the timing locks held).
    while not list(out.glob("cases/*.json")) and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "ERROR" not in err, err
    assert "finish with: fastnn bench --resume" in err


def test_compare_with_markdown_pointing_at_a_directory_is_one_line(tmp_path, capsys,
                                                                    sound_report):
    folder = tmp_path / "notes"
    folder.mkdir()
    run = str(sound_report)
    assert main(["compare", run, run, "--markdown", str(folder)]) == 2
    assert "Is a directory" in _one_line(capsys.readouterr().err)
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("module_name", sorted(set(COMMANDS.values())))
def test_every_command_parses_apart_from_running(module_name):
    """asv's protocol (fastnn/commands/__init__.py): argparse in add_arguments, the parsed
    options read in run_from_args, and a run that takes plain values."""
    import importlib
    import inspect

    module = importlib.import_module(module_name)
    assert callable(module.add_arguments) and callable(module.run_from_args)
    assert "args" not in inspect.signature(module.run).parameters


def test_warmup_runs_from_plain_values(monkeypatch, capsys):
    from fastnn import warmup
    from fastnn.commands import warmup as cli_warmup

    warmed = []
    monkeypatch.setattr(warmup, "warm", lambda config, target, progress, wait:
                        warmed.append((config, target)))
    config = cli_warmup.default_configuration()
    assert cli_warmup.run([config], target="numba", progress=False) == 0
    assert warmed == [(config, "numba")]
    assert "compiled" in capsys.readouterr().out
