"""Model files of trained networks, and the bad-file cases tests/test_save_load.py leaves out."""

import json
import pickle

import numpy as np
import pytest

from fastnn import MLP
from fastnn.estimator import MLPClassifier

SPEC = {"layer_sizes": [3, 2], "activation": "sigmoid", "output_activation": "sigmoid",
        "loss": "mse", "dtype": "float64"}


def _write(path, **overrides):
    contents = {"format": np.array("fastnn-mlp"), "version": np.array(1),
                "spec": np.array(json.dumps(SPEC)), "params": np.ones(8)}
    contents.update(overrides)
    np.savez(path, **contents)
    return path


def test_a_trained_network_round_trips_and_predicts_output_indices(tmp_path, rng):
    X = rng.standard_normal((12, 3))
    net = MLP([3, 4, 2], loss="cross_entropy", backend="numpy", seed=0)
    net.fit(X, np.where(X[:, 0] > 0, "pos", "neg"), epochs=3)
    net.save(tmp_path / "trained.npz")
    loaded = MLP.load(tmp_path / "trained.npz", backend="numpy")
    np.testing.assert_array_equal(loaded.forward(X), net.forward(X))
    # The file holds spec and parameters only: labels come back as output indices.
    np.testing.assert_array_equal(net.classes_[loaded.predict(X)], net.predict(X))


@pytest.mark.parametrize("overrides,message", [
    ({"spec": np.array("{not json")}, "invalid network spec"),
    ({"spec": np.array(json.dumps({**SPEC, "activation": "swish"}))}, "invalid network spec"),
    ({"spec": np.array(json.dumps({"layer_sizes": [3, 2]}))}, "invalid network spec"),
    ({"version": np.array(99)}, "version 99"),
    ({"params": np.full(8, np.nan)}, "NaN or infinity"),
    ({"params": np.ones(8, dtype=np.int64)}, "do not match the spec"),
    ({"params": np.ones((2, 4))}, "do not match the spec"),
    ({"format": np.array("something-else")}, "not a fastnn model file"),
], ids=["bad-json", "unknown-activation", "missing-keys", "version", "nan", "int-params",
        "2-d-params", "format"])
def test_mismatched_contents_are_clear_errors(tmp_path, overrides, message):
    path = _write(tmp_path / "model.npz", **overrides)
    with pytest.raises(ValueError, match=message):
        MLP.load(path)


def test_a_pickled_array_inside_the_file_is_refused(tmp_path):
    path = _write(tmp_path / "model.npz", spec=np.array([SPEC], dtype=object))
    with pytest.raises(ValueError, match="not a readable fastnn model file"):
        MLP.load(path)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04" + b"\x00" * 30, b"plain text"],
                         ids=["empty", "zip-header-only", "text"])
def test_corrupt_bytes_are_clear_errors(tmp_path, content):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a readable fastnn model file"):
        MLP.load(path)


def test_a_fitted_estimator_pickles_with_its_labels(rng):
    X = rng.standard_normal((20, 3))
    y = np.where(X[:, 0] > 0, "pos", "neg")
    clf = MLPClassifier((4,), max_iter=5, random_state=0, backend="numpy")
    with pytest.warns(Warning):
        clf.fit(X, y)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict(X), clf.predict(X))
    assert set(copy.predict(X)) <= {"pos", "neg"}
