"""The model's per-call fast path (bound kernels, plain arrays) and what importing costs."""

import subprocess
import sys

import numpy as np
import pytest

from fastnn import MLP
from fastnn.backends import _numba_kernels, numba_backend
from fastnn.spec import NetworkSpec
from fastnn.validation import PlainArrays


def test_import_fastnn_imports_neither_scipy_nor_numba():
    heavy = ("scipy", "sklearn", "pandas", "matplotlib", "numba", "torch")
    code = ("import sys, fastnn; print(sorted({name.split('.')[0] for name in sys.modules} "
            f"& set({heavy!r})))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("loss", ["mse", "poisson"])
def test_plain_arrays_take_only_what_needs_no_conversion(loss):
    spec = NetworkSpec.create([3, 2], loss=loss)
    plain = PlainArrays(spec)
    x, t = np.ones(3), np.ones(2)
    X, T = np.ones((4, 3)), np.ones((4, 2))
    takes_targets = loss == "mse"  # poisson's targets are checked for their sign
    assert (plain.batch(x, t)[0] is not None) == takes_targets
    assert (plain.batch(X, T)[0] is not None) == takes_targets
    for bad_x, bad_t in [(x.astype(np.float32), t), (X[:, :2], T), (X.T.copy().T, T),
                         (X, T[:3]), (x, T), (X, t), (list(x), t), (np.ones((0, 3)), T[:0]),
                         (np.ones((1, 1, 3)), T[:1])]:
        assert plain.batch(bad_x, bad_t) == (None, None)
    read_only = X.copy()
    read_only.flags.writeable = False
    assert plain.batch(read_only, T) == (None, None)


def test_bound_kernels_follow_a_change_of_tuning(monkeypatch):
    from fastnn.backends import tuning

    seen = []

    class Recording(numba_backend.NumbaBackend):
        @staticmethod
        def _forward_into(params, layer_sizes, codes, X, Y):
            seen.append(codes.shape[0])
            return _numba_kernels.forward_into(params, layer_sizes, codes, X, Y)

    net = MLP([4, 3, 2], backend="numba", seed=0)
    net._backend = Recording()
    x = np.linspace(-1, 1, 4)
    before = net.forward(x)
    monkeypatch.setattr(tuning, "crossovers", lambda: ((0, 0, 0),) * 3)
    tuning.reload()
    try:
        assert np.array_equal(net.forward(x), before)
    finally:
        monkeypatch.undo()
        tuning.reload()
    net.forward(x)
    assert seen == [2, 2 + 14, 2]  # 9 crossovers, the row block, the two oneDNN rules


def test_the_fast_path_survives_pickling_and_copies():
    import pickle

    net = MLP([4, 3, 2], backend="numba", seed=0)
    x, t = np.linspace(-1, 1, 4), np.array([0.2, 0.7])
    net.train_step(x, t, 0.1)
    clone = pickle.loads(pickle.dumps(net))
    copy = net.copy()
    losses = [each.train_step(x, t, 0.1) for each in (net, clone, copy)]
    assert losses[0] == losses[1] == losses[2]
    for other in (clone, copy):
        assert np.array_equal(other.flat_parameters, net.flat_parameters)
        assert other.flat_parameters.base is not net.flat_parameters.base


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_read_only_memory_mapped_network_trains_and_keeps_its_file(tmp_path, backend):
    import joblib
    rng = np.random.default_rng(0)
    net = MLP([4, 3, 2], backend=backend, seed=0)
    X, T = rng.random((5, 4)), rng.random((5, 2))
    joblib.dump(net, tmp_path / "net.joblib")
    mapped = joblib.load(tmp_path / "net.joblib", mmap_mode="r")
    np.testing.assert_array_equal(mapped.forward(X), net.forward(X))
    assert mapped.train_step(X, T, 0.1) == net.train_step(X, T, 0.1)
    np.testing.assert_array_equal(mapped.flat_parameters, net.flat_parameters)
    untouched = joblib.load(tmp_path / "net.joblib")
    assert not np.array_equal(untouched.flat_parameters, net.flat_parameters)


def test_a_big_train_step_does_not_keep_its_workspace():
    import tracemalloc

    rng = np.random.default_rng(0)
    net = MLP([100, 100, 50, 10], backend="numba", seed=0)
    X, T = rng.random((20000, 100)), rng.random((20000, 10))
    net.train_step(X[:1], T[:1], 0.01)
    tracemalloc.start()
    net.train_step(X, T, 0.01)
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak > 50e6  # the workspace of 20000 rows was made...
    assert held < 1e6   # ...and not kept
