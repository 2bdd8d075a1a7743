"""Model exchange with PyTorch (torch.nn.Sequential), both ways, every backend.

PyTorch is large and optional: these tests are skipped where it is not installed.
"""

import numpy as np
import pytest

import fastnn
from fastnn import MLP
from fastnn.interop.torch import BY_NAME, to_torch
from fastnn.spec import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS

from_torch = MLP.from_torch

torch = pytest.importorskip("torch")
nn = torch.nn

BACKENDS = fastnn.available_backends()
FLOAT32_BACKENDS = [name for name in BACKENDS if "float32" in fastnn.backends.get(name).dtypes]
TORCH_HIDDEN = [name for name in HIDDEN_ACTIVATIONS if name in BY_NAME]
TORCH_OUTPUT = [name for name in OUTPUT_ACTIVATIONS if name in BY_NAME]


def assert_same_outputs(actual, expected, dtype):
    """float64 to 1e-12 relative, float32 to 1e-5 (absolute floors for values near 0)."""
    rtol, atol = (1e-12, 1e-13) if dtype == "float64" else (1e-5, 1e-6)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def torch_output(module, X):
    with torch.no_grad():
        return module(torch.from_numpy(X)).numpy()


def inputs(dtype="float64", n_samples=6, n_features=4, seed=1):
    return np.random.default_rng(seed).standard_normal((n_samples, n_features)).astype(dtype)


def sequential(*modules, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(*modules).to(dtype)


def network(hidden, output, backend, dtype="float64", sizes=(4, 5, 3, 2)):
    return fastnn.MLP(list(sizes), activation=hidden, output_activation=output, loss="mse",
                      backend=backend, dtype=dtype, init="normal", seed=5)


# --- torch -> fastnn ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("hidden", TORCH_HIDDEN)
def test_from_torch_computes_what_the_module_computes(backend, hidden):
    module = to_torch(network(hidden, "identity", "numpy"))  # the module under test
    X = inputs()
    net = from_torch(module, backend=backend)
    assert net.backend == backend
    assert net.spec.activation == hidden
    assert_same_outputs(net.forward(X), torch_output(module, X), "float64")


@pytest.mark.parametrize("output", TORCH_OUTPUT)
def test_from_torch_reads_every_output_activation(output):
    module = to_torch(network("tanh", output, "numpy"))
    X = inputs()
    net = from_torch(module, backend="numpy")
    assert net.spec.output_activation == output
    assert_same_outputs(net.forward(X), torch_output(module, X), "float64")


@pytest.mark.parametrize("backend", FLOAT32_BACKENDS)
def test_from_torch_float32_module(backend):
    module = sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3), nn.Softmax(dim=1),
                        dtype=torch.float32)
    X = inputs("float32")
    net = from_torch(module, backend=backend)
    assert net.spec.dtype == "float32"
    assert net.spec.loss == "cross_entropy"  # softmax output: the loss it is trained with
    assert_same_outputs(net.forward(X), torch_output(module, X), "float32")


def test_from_torch_reads_modules_as_pytorch_writes_them():
    """Untrained (torch-initialised) layers, no bias, nested containers, Identity and
    default settings, Softplus with PyTorch's default threshold."""
    module = sequential(nn.Linear(4, 5, bias=False), nn.Identity(), nn.LeakyReLU(),
                        nn.Sequential(nn.Linear(5, 3), nn.LeakyReLU(0.01)), nn.Linear(3, 2),
                        nn.Sigmoid())
    X = inputs()
    net = from_torch(module, backend="numpy", loss="mse")
    assert (net.spec.activation, net.spec.output_activation, net.spec.loss) == \
        ("leaky_relu", "sigmoid", "mse")
    np.testing.assert_array_equal(net.biases[0], 0.0)
    assert_same_outputs(net.forward(X), torch_output(module, X), "float64")


def test_from_torch_without_hidden_activation_is_identity():
    module = sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    net = from_torch(module, backend="numpy")
    assert (net.spec.activation, net.spec.output_activation) == ("identity", "identity")
    assert_same_outputs(net.forward(inputs()), torch_output(module, inputs()), "float64")


def test_from_torch_softplus_with_default_threshold():
    module = sequential(nn.Linear(4, 3), nn.Softplus(), nn.Linear(3, 2))
    net = from_torch(module, backend="numpy")
    assert net.spec.activation == "softplus"
    assert_same_outputs(net.forward(inputs()), torch_output(module, inputs()), "float64")


# --- fastnn -> torch ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_to_torch_computes_what_the_network_computes(backend, dtype):
    if dtype not in fastnn.backends.get(backend).dtypes:
        pytest.skip(f"backend {backend} has no {dtype}")
    net = network("tanh", "softmax", backend, dtype=dtype)
    module = to_torch(net)
    assert isinstance(module, nn.Sequential)
    assert not module.training
    assert all(p.dtype == getattr(torch, dtype) for p in module.parameters())
    X = inputs(dtype)
    assert_same_outputs(torch_output(module, X), net.forward(X), dtype)
    back = from_torch(module, backend=backend, loss=net.spec.loss)
    np.testing.assert_array_equal(back.flat_parameters, net.flat_parameters)
    assert back.spec == net.spec


def test_to_torch_leaves_the_global_torch_rng_alone():
    state = torch.random.get_rng_state()
    to_torch(network("relu", "identity", "numpy"))
    assert torch.equal(torch.random.get_rng_state(), state)


def test_to_torch_gives_independent_parameters():
    net = network("relu", "identity", "numpy")
    module = to_torch(net)
    with torch.no_grad():
        module[0].weight.zero_()
    assert np.abs(net.weights[0]).sum() > 0


def test_to_torch_refuses_activations_pytorch_lacks():
    net = fastnn.MLP([3, 2], output_activation="exp", loss="poisson", backend="numpy")
    with pytest.raises(ValueError, match="PyTorch has no torch.nn module for fastnn's 'exp'"):
        to_torch(net)


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("module, match", [
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.1), nn.Linear(4, 2)),
     "torch module 'Dropout' is not supported"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 2)),
     "torch module 'GELU' is not supported"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(0.2), nn.Linear(4, 2)),
     r"LeakyReLU\(negative_slope=0.2\) is not supported"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.ELU(alpha=0.5), nn.Linear(4, 2)),
     r"ELU\(alpha=0.5\) is not supported"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.Softplus(beta=2), nn.Linear(4, 2)),
     r"Softplus\(beta=2"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.Softplus(threshold=5), nn.Linear(4, 2)),
     r"Softplus\(threshold=5"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=0)),
     r"Softmax\(dim=0\) is not supported"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), nn.Tanh(),
                           nn.Linear(4, 2)),
     "hidden layers use different activations"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Tanh(), nn.Linear(4, 2)),
     "does not follow a Linear layer"),
    (lambda: nn.Sequential(nn.ReLU(), nn.Linear(3, 2)), "does not follow a Linear layer"),
    (lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(5, 2)),
     "layer 1 takes 5 inputs but the layer before it gives 4"),
    (lambda: nn.Sequential(nn.Linear(3, 4).half()), "float16 are not supported"),
    (lambda: nn.Sequential(), "has no dense layer"),
])
def test_from_torch_names_what_it_cannot_read(module, match):
    with pytest.raises(ValueError, match=match):
        from_torch(module(), backend="numpy")


def test_from_torch_refuses_subclassed_activations():
    class Shifted(nn.ReLU):
        def forward(self, x):
            return super().forward(x) + 1

    with pytest.raises(ValueError, match="'Shifted' is not supported"):
        from_torch(nn.Sequential(nn.Linear(3, 4), Shifted(), nn.Linear(4, 2)))


def test_from_torch_refuses_other_modules():
    with pytest.raises(TypeError, match="torch.nn.Sequential"):
        from_torch(nn.Linear(3, 2))


def test_from_torch_refuses_non_finite_parameters():
    module = nn.Sequential(nn.Linear(3, 2)).double()
    with torch.no_grad():
        module[0].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinity"):
        from_torch(module)
