"""`fastnn reproduce`: the report, the command line, and the all-or-nothing output folder."""

import importlib.util
import json
import sys

import pytest

import fastnn
from fastnn import reproduce
from fastnn.cli import main
from fastnn.reporting import run_folder as output
from fastnn.reproduce import runner, settings

HAS_KERAS = importlib.util.find_spec("keras") is not None
REPORT_FILES = {"report.md", "results.json", "speedup.png", "loss_tutorial_a.png",
                "loss_tutorial_b.png", "loss_tutorial_c.png", "loss_tutorial_c_shortcuts.png"}


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    """One tiny run shared by the tests that read its report."""
    out = tmp_path_factory.mktemp("reproduce") / "report"
    status = reproduce.reproduce(settings.TINY, out, command="tiny test", progress=False)
    return status, out


def test_tiny_run_writes_every_file_and_the_checks_pass(tiny_report):
    status, out = tiny_report
    assert status == 0
    assert {path.name for path in out.iterdir()} == REPORT_FILES
    for name in REPORT_FILES - {"report.md", "results.json"}:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    leftovers = [path.name for path in out.parent.iterdir() if path.name != "report"]
    assert leftovers == []


def test_report_has_the_tables_and_says_it_is_reduced(tiny_report):
    _, out = tiny_report
    text = (out / "report.md").read_text()
    assert "TINY RUN" in text and "reduced run" in text
    for heading in ("## 1. Feed-forward speedup", "## 2. Training", "## 3. Literal checks",
                    "Tutorial C's gradient shortcuts"):
        assert heading in text
    for network in ("| 3-3-1 |", "| 3-3-3-1 |", "| 100-100-50-10 |"):
        assert network in text
    for backend in fastnn.available_backends():
        assert f"{backend} backend" in text
    assert "loop ÷ vectorised" in text and "86.0 %" in text and "97.0 %" in text
    assert "extrapolated" in text
    assert "**NO**" not in text


def test_results_json_holds_per_round_numbers_and_checks(tiny_report):
    _, out = tiny_report
    data = json.loads((out / "results.json").read_text())
    assert data["settings"]["label"] == "tiny"
    assert data["settings"]["seeds"] == list(settings.TINY.seeds)
    assert all(check["passed"] for check in data["literal_checks"])
    assert {check["computed_by"] for check in data["literal_checks"]} >= {
        f"{name} backend" for name in fastnn.available_backends()}
    first = data["speedup"][0]
    assert first["layer_sizes"] == [3, 3, 1]
    assert all(len(values) == settings.TINY.timing_rounds
               for values in first["seconds_per_call"].values())
    assert data["threads"]["blas_threads"] == 1
    assert abs(data["per_sample_vs_full_batch_relative_difference"]) < 1e-12
    curves = data["tutorial_c_loss_per_epoch"]
    assert len(curves["train"]) == len(curves["test"]) == settings.TINY.epochs_c


def test_report_has_tutorial_c_keras_row(tiny_report):
    _, out = tiny_report
    text = (out / "report.md").read_text()
    data = json.loads((out / "results.json").read_text())["keras_comparison"]
    assert "### Tutorial C's Keras model, side by side" in text
    assert f"{settings.TINY.epochs_keras} (reduced; the tutorial: 1000)" in text
    if not HAS_KERAS:
        assert 'pip install "fastnn[keras]"' in text and data["missing"]
        return
    assert data["missing"] is None and data["versions"]["keras_backend"]
    for side in ("keras", "fastnn"):
        assert [run["seed"] for run in data[side]] == list(settings.TINY.seeds)
        assert all(0 < run["accuracy"] <= 1 and run["train_seconds"] > 0
                   for run in data[side])
    assert "Keras ÷ fastnn (time)" in text and "**Reading:**" in text


def test_a_run_without_numba_says_so_and_drops_its_columns(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "keras", None)  # keras missing: the row says so
    monkeypatch.setattr(runner.fastnn, "available_backends", lambda: ["python", "numpy"])
    out = tmp_path / "report"
    assert reproduce.reproduce(settings.TINY, out, progress=False) == 0
    text = (out / "report.md").read_text()
    assert "numba backend was not available" in text
    assert "numba backend |" not in text and "loop ÷ numba" not in text
    data = json.loads((out / "results.json").read_text())
    assert data["backends"] == ["python", "numpy"]
    assert 'keras not installed: `pip install "fastnn[keras]"`' in text


def test_cli_runs_the_quick_path_and_prints_the_headline(tmp_path, monkeypatch, capsys):
    # The real --quick settings take tens of seconds; the wiring is the same with TINY.
    monkeypatch.setattr(settings, "QUICK", settings.TINY)
    monkeypatch.setitem(sys.modules, "keras", None)  # keras is the tiny_report's test
    out = tmp_path / "quick"
    assert main(["reproduce", "--quick", "--out", str(out), "--seeds", "2"]) == 0
    printed = capsys.readouterr().out
    assert "## 1. Feed-forward speedup" in printed and "## 2. Training" in printed
    assert "Literal checks:" in printed
    assert 'pip install "fastnn[keras]"' in printed
    data = json.loads((out / "results.json").read_text())
    assert data["settings"]["seeds"] == [0, 1]
    assert data["command"] == f"fastnn reproduce --quick --out {out} --seeds 2"


@pytest.mark.parametrize("seeds", ["0", "-3", "1.5", "many"])
def test_bad_seed_counts_exit_2_without_writing(seeds, tmp_path, capsys):
    out = tmp_path / "report"
    with pytest.raises(SystemExit) as raised:
        main(["reproduce", "--quick", "--out", str(out), "--seeds", seeds])
    assert raised.value.code == 2
    assert "--seeds" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_out_under_a_file_exits_2_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "run_all", _must_not_run)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert main(["reproduce", "--quick", "--out", str(blocker / "report")]) == 2
    assert "is a file" in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a_file"]


def test_an_out_that_is_not_a_report_is_not_replaced(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "run_all", _must_not_run)
    (tmp_path / "notes.txt").write_text("precious")
    assert main(["reproduce", "--out", str(tmp_path)]) == 2
    assert "refusing to replace" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "precious"


def test_an_unwritable_out_exits_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "run_all", _must_not_run)
    # A permission check rather than chmod: the tests may run as root, who can write anyway.
    monkeypatch.setattr(output.os, "access", lambda path, mode: False)
    assert main(["reproduce", "--out", str(tmp_path / "report")]) == 2
    assert "not writable" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_failed_run_leaves_the_previous_report_untouched(tmp_path, monkeypatch):
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.md").write_text("previous report")
    monkeypatch.setattr(runner, "run_all", _fail_half_way)
    with pytest.raises(RuntimeError, match="half way"):
        reproduce.reproduce(settings.TINY, out, progress=False)
    assert [path.name for path in out.iterdir()] == ["report.md"]
    assert (out / "report.md").read_text() == "previous report"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["report"]


def test_report_folder_replaces_the_old_report_as_a_whole(tmp_path):
    out = tmp_path / "nested" / "report"
    with output.RunFolder(out, replaces=output.REPORT_SUFFIXES) as folder:
        folder.write_text("report.md", "first")
        folder.write_text("old.png", "stale")
    with output.RunFolder(out, replaces=output.REPORT_SUFFIXES) as folder:
        folder.write_text("report.md", "second")
        assert (out / "report.md").read_text() == "first"  # not yet replaced
    assert sorted(path.name for path in out.iterdir()) == ["report.md"]
    assert (out / "report.md").read_text() == "second"
    assert oct(out.stat().st_mode & 0o777) == oct(output.FOLDER_MODE)
    assert sorted(path.name for path in out.parent.iterdir()) == ["report"]


def _must_not_run(*args, **kwargs):
    raise AssertionError("the experiments ran although --out was unusable")


def _fail_half_way(settings_, progress=None):
    raise RuntimeError("failed half way through the experiments")


@pytest.mark.slow
def test_the_real_quick_run(tmp_path, capsys):
    out = tmp_path / "quick"
    assert main(["reproduce", "--quick", "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "QUICK RUN" in text
    assert f"{settings.QUICK.epochs_keras} (reduced; the tutorial: 1000)" in text
    assert {path.name for path in out.iterdir()} == REPORT_FILES
    assert "Literal checks:" in capsys.readouterr().out
