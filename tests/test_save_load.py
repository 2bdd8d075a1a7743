"""Model files: .npz round trip without pickle, clear errors for bad files, atomic writes."""

import json

import numpy as np
import pytest
from conftest import BACKENDS

from fastnn import MLP


@pytest.mark.parametrize("backend", BACKENDS)
def test_round_trip_keeps_spec_and_parameters(tmp_path, backend):
    net = MLP([5, 4, 3], activation="elu", loss="binary_cross_entropy", backend=backend, seed=3)
    path = tmp_path / "model.npz"
    net.save(path)
    loaded = MLP.load(path, backend=backend)
    assert loaded.spec == net.spec
    np.testing.assert_array_equal(loaded.flat_parameters, net.flat_parameters)
    X = np.random.default_rng(0).standard_normal((3, 5))
    np.testing.assert_array_equal(loaded.forward(X), net.forward(X))


def test_file_loads_with_numpy_without_pickle(tmp_path):
    path = tmp_path / "model.npz"
    MLP([2, 2], dtype="float32", backend="numpy", seed=0).save(path)
    with np.load(path, allow_pickle=False) as data:
        assert json.loads(str(data["spec"]))["dtype"] == "float32"
        assert data["params"].dtype == np.float32


def test_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        MLP.load(tmp_path / "absent.npz")


def test_truncated_file_is_a_clear_error(tmp_path):
    path = tmp_path / "model.npz"
    MLP([3, 2], backend="numpy").save(path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ValueError, match="not a readable fastnn model file"):
        MLP.load(path)


def test_foreign_npz_is_a_clear_error(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.ones(3))
    with pytest.raises(ValueError, match="not a fastnn model file"):
        MLP.load(path)


def test_parameters_that_do_not_match_the_spec_are_an_error(tmp_path):
    path = tmp_path / "model.npz"
    spec = {"layer_sizes": [3, 2], "activation": "sigmoid", "output_activation": "sigmoid",
            "loss": "mse", "dtype": "float64"}
    np.savez(path, format=np.array("fastnn-mlp"), version=np.array(1),
             spec=np.array(json.dumps(spec)), params=np.ones(5))
    with pytest.raises(ValueError, match="do not match the spec"):
        MLP.load(path)


def test_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    MLP([3, 2], backend="numpy", seed=1).save(path)
    original = path.read_bytes()

    def write_half_then_crash(handle, **arrays):
        handle.write(b"PK\x03\x04 half a zip file")
        raise KeyboardInterrupt("interrupted mid-write")

    monkeypatch.setattr(np, "savez", write_half_then_crash)
    with pytest.raises(KeyboardInterrupt):
        MLP([3, 2], backend="numpy", seed=2).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_values_beyond_float32_are_refused_not_loaded_as_infinity(tmp_path):
    path = tmp_path / "net.npz"
    MLP([2, 3, 1], dtype="float32", seed=0).save(path)
    contents = dict(np.load(path))
    contents["params"] = np.full(13, 1e39)
    np.savez(path, **contents)
    with pytest.raises(ValueError, match="too large for float32"):
        MLP.load(path)


@pytest.mark.parametrize("version", ["abc", [1, 2]])
def test_a_malformed_version_is_a_clear_error(tmp_path, version):
    path = tmp_path / "net.npz"
    MLP([2, 3, 1], seed=0).save(path)
    contents = dict(np.load(path))
    contents["version"] = np.array(version)
    np.savez(path, **contents)
    with pytest.raises(ValueError, match="model file version"):
        MLP.load(path)
