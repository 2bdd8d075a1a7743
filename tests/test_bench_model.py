"""``fastnn bench --model FILE``: a user's own network (.npz or .onnx) on every backend and
the peers asked for, and clear errors for bad files."""

import pandas as pd
import pytest

from fastnn.bench.workload.user_model import load_model, model_case
from fastnn.cli import main
from fastnn.model import MLP

FAST = ["bench", "--quick", "--batches", "1,3", "--backends", "numpy,python", "--rounds", "1",
        "--min-time", "0.0005"]


@pytest.fixture
def classifier(tmp_path):
    net = MLP([6, 5, 3], activation="relu", loss="cross_entropy", seed=0, backend="numpy")
    path = tmp_path / "classifier.npz"
    net.save(path)
    return net, path


def test_npz_model_is_timed_on_every_backend_and_the_peers(classifier, tmp_path, capsys):
    net, path = classifier
    out = tmp_path / "run"
    assert main([*FAST, "--model", str(path), "--peers", "torch", "--out", str(out)]) == 0
    table = pd.read_csv(out / "results.csv")
    assert set(table["layer_sizes"]) == {"6-5-3"} and set(table["batch_size"]) == {1, 3}
    assert set(table["activation"]) == {"relu"} and set(table["loss"]) == {"cross_entropy"}
    assert set(table["status"]) == {"ok"}
    assert set(table["backend"]) == {"numpy", "python", "torch"}
    # torch: forward, gradients and train_step of the softmax / cross-entropy network.
    assert len(table[table["backend"] == "torch"]) == 3 * 2
    report = (out / "report.md").read_text()
    assert f"--model {path}" in report and "of the network in" in report
    assert "Who wins where" in capsys.readouterr().out


def test_onnx_model_with_runtime_and_sklearn(tmp_path):
    net = MLP([4, 3, 2], activation="tanh", output_activation="softmax", seed=1,
              backend="numpy")
    path = tmp_path / "net.onnx"
    net.to_onnx(path)
    out = tmp_path / "run"
    assert main([*FAST, "--model", str(path), "--ops", "forward",
                 "--peers", "onnxruntime,sklearn", "--out", str(out)]) == 0
    table = pd.read_csv(out / "results.csv")
    assert set(table["status"]) == {"ok"}
    assert set(table["backend"]) == {"numpy", "python", "onnxruntime", "sklearn"}


def test_float64_elu_model_is_unsupported_by_onnx_runtime(tmp_path):
    path = tmp_path / "elu.npz"
    MLP([3, 4, 2], activation="elu", seed=0, backend="numpy").save(path)
    out = tmp_path / "run"
    assert main([*FAST, "--model", str(path), "--ops", "forward", "--peers", "onnxruntime",
                 "--out", str(out)]) == 0
    rows = pd.read_csv(out / "results.csv").query("backend == 'onnxruntime'")
    assert set(rows["status"]) == {"skipped"}
    assert rows["note"].str.contains("no float64 kernel for Elu").all()
    assert "Peer points not timed" in (out / "report.md").read_text()


def test_model_dtype_can_be_overridden(classifier, tmp_path):
    _, path = classifier
    case = model_case(path, 2, "float32")
    assert case.spec.dtype == "float32" and case.params.dtype.name == "float32"
    assert case.T.sum(axis=1).tolist() == [1.0, 1.0]  # one-hot targets for softmax


def _write(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("make, message", [
    (lambda folder: folder / "missing.npz", "does not exist"),
    (lambda folder: _write(folder / "net.txt", b"x"), "expected a .npz file"),
    (lambda folder: _write(folder / "corrupt.npz", b"not a zip"), "not a readable fastnn model"),
    (lambda folder: _write(folder / "truncated.onnx",
                           MLP([3, 2], seed=0, backend="numpy").to_onnx()[:40]),
     "ONNX model"),
    (lambda folder: folder, "expected a .npz file"),
])
def test_bad_model_files_exit_2_without_a_run_folder(tmp_path, capsys, make, message):
    bad = make(tmp_path)
    before = sorted(tmp_path.iterdir())
    assert main([*FAST, "--model", str(bad), "--out", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err
    assert sorted(tmp_path.iterdir()) == before


def test_model_and_sizes_exclude_each_other(classifier, tmp_path, capsys):
    _, path = classifier
    assert main([*FAST, "--model", str(path), "--sizes", "3-3-1",
                 "--out", str(tmp_path / "run")]) == 2
    assert "--model and --sizes exclude each other" in capsys.readouterr().err


def test_load_model_reads_both_formats(classifier, tmp_path):
    net, path = classifier
    onnx_path = tmp_path / "same.onnx"
    net.to_onnx(onnx_path)
    for loaded in (load_model(path), load_model(onnx_path)):
        assert loaded.spec.layer_sizes == net.spec.layer_sizes
        assert (loaded.flat_parameters == net.flat_parameters).all()
