"""The OpenVINO peer (``tox -e peers``; skipped where OpenVINO is not installed).

It runs the ONNX graph fastnn writes, in float32 only: its CPU plugin has no float64
inference precision, and float64 points must say so rather than run in float32.
"""

import contextlib
import sys

import numpy as np
import pandas as pd
import pytest

from fastnn.bench.measure.gate import reference_result
from fastnn.bench.measure.sweep import case_row
from fastnn.bench.peers import PEERS, gated_call, get
from fastnn.bench.peers.measure import measure_peers
from fastnn.bench.peers.openvino_peer import (
    FLOAT64_NOTE,
    compile_settings,
    compiled_settings,
    import_openvino,
)
from fastnn.cli import main
from fastnn.model import MLP

if not PEERS["openvino"].installed():
    pytest.skip("OpenVINO is not installed", allow_module_level=True)
pytest.importorskip("onnx")

THREADS = {"blas_threads": 1, "numba_threads": 1}


def _case(activation, output, dtype="float32"):
    net = MLP([5, 4, 3], activation=activation, output_activation=output, seed=2,
              dtype=dtype, backend="numpy")
    from fastnn.bench.workload.cases import Case
    X = np.random.default_rng(0).random((6, 5)).astype(dtype)
    T = np.zeros((6, 3), dtype=dtype)
    return Case(net.spec, net.flat_parameters.copy(), X, T)


def _rows(case, op="forward"):
    with contextlib.ExitStack() as pins:
        return measure_peers(["openvino"], case, op, THREADS, "python",
                             reference_result("python", case, op), [], pins,
                             lambda name: case_row(name, "mlp", case, op, THREADS, "python"))


@pytest.mark.parametrize("activation, output", [
    ("sigmoid", "sigmoid"), ("tanh", "softmax"), ("relu", "identity"),
    ("leaky_relu", "sigmoid"), ("elu", "softmax"), ("softplus", "exp"), ("silu", "tanh"),
])
def test_openvino_passes_the_float32_gate(activation, output):
    case = _case(activation, output)
    prepared = PEERS["openvino"].prepare(MLP.from_spec(case.spec, case.params), case,
                                         "forward", 1)
    result = prepared.call()
    assert isinstance(result, np.ndarray) and result.dtype == np.float32
    checked = gated_call(prepared, "float32", "python",
                         reference_result("python", case, "forward"))
    assert checked.passed, checked.note


def test_float64_points_are_reported_unsupported_not_run():
    (row,) = _rows(_case("sigmoid", "sigmoid", dtype="float64"))
    assert row.status == "skipped" and "does not support float64" in row.note
    assert FLOAT64_NOTE in row.note


def test_openvino_is_forward_only():
    assert _rows(_case("sigmoid", "sigmoid"), "gradients") == []


def test_compiled_model_holds_one_thread_and_float32():
    core = import_openvino().Core()
    net = MLP([5, 4, 3], dtype="float32", backend="numpy", seed=0)
    compiled = core.compile_model(core.read_model(net.to_onnx()), "CPU",
                                  compile_settings(1, "float32"))
    settings = compiled_settings(compiled)
    assert settings["INFERENCE_NUM_THREADS"] == "1"
    assert settings["INFERENCE_PRECISION_HINT"] == "f32"
    assert settings["NUM_STREAMS"] == "1"


def test_row_records_pinning_and_passes(monkeypatch):
    (row,) = _rows(_case("tanh", "sigmoid"))
    assert row.status == "" and row.max_rel_diff <= 1e-4  # gated, waiting to be timed
    assert row.extra["peer_threads"] == 1
    assert "INFERENCE_NUM_THREADS=1" in row.extra["peer_pinning"]


def test_missing_openvino_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino raises
    case = _case("sigmoid", "sigmoid")
    with pytest.raises(ImportError, match=r'fastnn\[peers\]'):
        PEERS["openvino"].prepare(MLP.from_spec(case.spec, case.params), case, "forward", 1)


def test_alias_and_metadata():
    assert get("ov").name == "openvino"
    assert PEERS["openvino"].dtypes == ("float32",)


def test_a_two_dtype_race_times_float32_and_says_float64_is_unsupported(tmp_path):
    out = tmp_path / "run"
    assert main(["bench", "--quick", "--sizes", "3-3-1", "--batches", "2", "--backends",
                 "numpy", "--ops", "forward", "--rounds", "1", "--min-time", "0.0005",
                 "--dtypes", "float32,float64", "--peers", "openvino",
                 "--out", str(out)]) == 0
    table = pd.read_csv(out / "results.csv")
    rows = table[table["backend"] == "openvino"].set_index("dtype")
    assert rows.loc["float32", "status"] == "ok" and rows.loc["float32", "median_s"] > 0
    assert rows.loc["float64", "status"] == "skipped"
    assert "does not support float64" in rows.loc["float64", "note"]
    report = (out / "report.md").read_text()
    assert "openvino / fastnn" in report and "does not support float64" in report


def test_importing_openvino_starts_no_telemetry_process_and_restores_the_environment():
    import os
    import subprocess

    script = """
import os, multiprocessing.popen_fork as popen_fork
forks = []
popen_fork.Popen._launch = lambda self, obj: forks.append(obj)
from fastnn.bench.peers.openvino_peer import import_openvino
import_openvino()
print(len(forks), os.environ.get("CI"))
"""
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                               env=env, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["0", "None"]
