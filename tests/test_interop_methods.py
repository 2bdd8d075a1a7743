"""The MLP methods of model exchange delegate to fastnn.interop (the public names of the
README and docs/guide/exchange.rst)."""

import numpy as np
import pytest

import fastnn


@pytest.mark.parametrize("backend", fastnn.available_backends())
@pytest.mark.parametrize("name", ["sklearn", "onnx", "torch"])
def test_mlp_methods_round_trip(name, backend):
    if name == "torch":
        pytest.importorskip("torch")  # optional, and large
    net = fastnn.MLP([3, 4, 2], activation="tanh", loss="cross_entropy", backend=backend, seed=0)
    net.classes_ = np.array([10, 20])
    exported = getattr(net, f"to_{name}")()
    back = getattr(fastnn.MLP, f"from_{name}")(exported, backend=backend)
    assert back.spec == net.spec and back.backend == backend
    np.testing.assert_array_equal(back.flat_parameters, net.flat_parameters)
    X = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_allclose(back.forward(X), net.forward(X), rtol=1e-12, atol=1e-13)
    if name != "torch":  # a Sequential has no class labels
        np.testing.assert_array_equal(back.classes_, net.classes_)
