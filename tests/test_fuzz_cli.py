"""Fuzzing the command line: bad arguments exit 2 with a message and write nothing.

Each case starts from a cheap, valid command and replaces one argument by a fuzzed
value. A run either succeeds (exit 0, a whole report) or fails with exit status 2,
a message on stderr, and no new files.
"""

import json
import subprocess
import sys

import pytest
from conftest import FUZZ_OUTCOMES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastnn.cli import main

TINY_BENCH = ["--backends", "numpy", "--batches", "1", "--ops", "forward", "--levels", "mlp",
              "--rounds", "1", "--min-time", "0.001", "--quick"]

BAD_VALUES = {
    "--sizes": ["100-abc", "0-5", "5", "", "-", "3--1", "3-3-", "1e3-2", "3.5-2", "-3-2"],
    "--batches": ["0", "-1", "abc", "1.5", "", "1,,2"],
    "--backends": ["nmba", "", "python,", "NUMPYY", "auto-"],
    "--ops": ["backward", "", "forward,,", "FORWARDS"],
    "--dtypes": ["float16", "int32", "", "f8x"],
    "--threads": ["0", "-2", "many", ""],
    "--rounds": ["0", "-1", "x"],
    "--min-time": ["-1", "0", "nan", "abc"],
}

size_text = st.text(alphabet="0123456789-,a ", min_size=0, max_size=8)


def _files(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*")) if folder.exists() else []


def _run(argv, capsys):
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse's own usage errors
        status = exit_.code
    return status, capsys.readouterr().err


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                  HealthCheck.too_slow])
@given(option=st.sampled_from(sorted(BAD_VALUES)), data=st.data())
def test_bench_with_one_bad_option_exits_2_and_writes_nothing(tmp_path_factory, capsys,
                                                              option, data):
    value = data.draw(st.one_of(st.sampled_from(BAD_VALUES[option]), size_text)
                      if option == "--sizes" else st.sampled_from(BAD_VALUES[option]))
    root = tmp_path_factory.mktemp("bench")
    out = root / "run"
    argv = ["bench", *TINY_BENCH, "--sizes", "3-2", "--out", str(out), option, value]
    status, err = _run(argv, capsys)
    if status == 0:  # the fuzzed value happened to be valid: a whole report
        assert json.loads((out / "results.json").read_text())
        assert (out / "report.md").stat().st_size > 0
        FUZZ_OUTCOMES["cli bench: valid, whole report"] += 1
        return
    assert status == 2, f"{argv} exited {status}: {err}"
    assert "error" in err
    assert _files(root) == [], f"{argv} left files behind: {_files(root)}"
    FUZZ_OUTCOMES["cli bench: usage error, nothing written"] += 1


BAD_FILES = {
    "missing": None,
    "empty": b"",
    "not json": b"\x89PNG\r\n\x1a\n binary",
    "truncated json": b'{"machine": {"cpu": "x"}, "results": [{"backend": "numpy", ',
    "foreign json": json.dumps({"hello": "world"}).encode(),
    "json list": b"[1, 2, 3]",
    "wrong types": json.dumps({"results": "many", "machine": 3}).encode(),
    "benchmarks not a list": json.dumps({"benchmarks": {"a": 1}}).encode(),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
@pytest.mark.parametrize("command", ["compare", "report"])
def test_bad_files_exit_2_and_write_nothing(tmp_path, capsys, command, kind):
    bad = tmp_path / "input.json"
    if BAD_FILES[kind] is not None:
        bad.write_bytes(BAD_FILES[kind])
    out = tmp_path / "out"
    argv = ["compare", str(bad), str(bad)] if command == "compare" else \
        ["report", str(bad), "--out", str(out)]
    before = _files(tmp_path)
    status, err = _run(argv, capsys)
    assert status == 2, f"{argv} exited {status}: {err}"
    assert "error" in err
    assert _files(tmp_path) == before
    FUZZ_OUTCOMES[f"cli {command}: bad file, exit 2"] += 1


@pytest.mark.parametrize("argv", [
    ["reproduce", "--seeds", "0"],
    ["reproduce", "--seeds", "-3"],
    ["reproduce", "--seeds", "two"],
    ["reproduce", "--seeds", "1.5"],
    ["reproduce", "--bogus"],
    ["bench", "--bogus"],
    ["nonsense"],
    [],
])
def test_bad_arguments_exit_2_with_usage(tmp_path, capsys, argv):
    status, err = _run([*argv, "--out", str(tmp_path / "out")] if argv[:1] == ["reproduce"]
                       else argv, capsys)
    assert status == 2
    assert "usage" in err or "error" in err
    assert not (tmp_path / "out").exists()
    FUZZ_OUTCOMES["cli: bad arguments, exit 2"] += 1


@pytest.mark.parametrize("command", ["bench", "reproduce"])
def test_unwritable_output_folder_exits_2(tmp_path, capsys, command):
    # A regular file as the parent folder: unwritable even for root, who ignores modes.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    options = TINY_BENCH + ["--sizes", "3-2"] if command == "bench" else ["--quick"]
    status, err = _run([command, *options, "--out", str(blocker / "run")], capsys)
    assert status == 2 and "error" in err
    assert [p.name for p in tmp_path.iterdir()] == ["not-a-folder"]


def test_two_runs_into_one_folder_do_not_corrupt_each_other(tmp_path):
    out = tmp_path / "shared"
    command = [sys.executable, "-m", "fastnn", "bench", *TINY_BENCH, "--sizes", "3-2",
               "--out", str(out)]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)]
    statuses = sorted(run.wait(timeout=300) for run in runs)
    assert statuses in ([0, 0], [0, 2]), statuses
    results = json.loads((out / "results.json").read_text())
    assert results
    assert (out / "report.md").stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir()] == ["shared"], "staging folders left behind"
