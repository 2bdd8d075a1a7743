"""Kernels compiled per configuration (``specialised`` in fastnn/backends/numba_backend.py)
against the plain kernels, which read the activations, loss and optimizer at run time:
the same numbers bit for bit on every kind of call, only the configuration's paths
compiled, and one on-disk cache entry per configuration, reloaded in a fresh process.

The rest of the suite runs the plain kernels (tests/conftest.py), so these few
configurations are chosen to reach every family of paths between them; ``-m slow``
adds two more and every (output, loss) pair, the hidden activations taking turns."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
from conftest import COMBINATIONS

from fastnn import MLP, config
from fastnn.backends import numba_backend

ROOT = Path(__file__).resolve().parent.parent

# (hidden, output, loss, optimizer): softmax's log-softmax and jacobian, the exp output
# with poisson, a hidden activation whose derivative needs Z (silu), the sigmoid's
# stable logs with the binary cross-entropy, and the three optimizers' steps.
# The first is the estimators' classifier; the others (a compile of half a minute each)
# run under -m slow.
CONFIGURATIONS = [("relu", "softmax", "cross_entropy", "adam"),
                  pytest.param(("silu", "exp", "poisson", "momentum"), marks=pytest.mark.slow),
                  pytest.param(("tanh", "sigmoid", "binary_cross_entropy", "sgd"),
                               marks=pytest.mark.slow)]


@pytest.fixture
def specialising(monkeypatch):
    """Networks made inside get kernels of their own configuration."""
    monkeypatch.setattr(config, "SPECIALISED_KERNELS", True)
    numba_backend.clear_argument_cache()
    yield
    monkeypatch.undo()
    numba_backend.clear_argument_cache()


def _case(hidden, output, loss, seed, sizes=(5, 4, 3)):
    rng = np.random.default_rng(seed)
    net = MLP(list(sizes), activation=hidden, output_activation=output, loss=loss,
              backend="numba", init="xavier", seed=seed)
    X = rng.standard_normal((7, sizes[0]))
    T = rng.uniform(0.05, 0.95, (7, sizes[-1]))
    if output == "softmax":
        T /= T.sum(axis=1, keepdims=True)
    weights = rng.uniform(0.5, 2.0, 7)
    return net, X, T, weights


def _results(net, X, T, weights, optimizer):
    """Every kind of call the backend makes, as named arrays."""
    sparse = scipy.sparse.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0))
    results = {"forward": net.forward(X), "forward one row": net.forward(X[0]),
               "forward sparse": net.forward(sparse), "loss": net.loss(X, T),
               "loss weighted": net.loss(X, T, sample_weight=weights)}
    for name, inputs, extra in (("gradients", X, {}), ("gradients sparse", sparse, {}),
                                ("gradients weighted", X, {"sample_weight": weights})):
        loss, dweights, dbiases = net.gradients(inputs, T, **extra)
        results[name] = np.concatenate([[loss]] + [d.ravel() for d in dweights + dbiases])
    stepped = net.copy()
    stepped.train_step(X, T, 0.1)
    results["train_step"] = stepped.flat_parameters
    for name, inputs, extra in (("fit", X, {}), ("fit sparse", sparse, {}),
                                ("fit weighted", X, {"sample_weight": weights})):
        trained = net.copy()
        trained.fit(inputs, T, epochs=2, batch_size=3, optimizer=optimizer, seed=0,
                    learning_rate=0.01, alpha=1e-3, **extra)
        results[name] = trained.flat_parameters
    return results


@pytest.mark.parametrize("configuration", CONFIGURATIONS,
                         ids=["relu-softmax-cross_entropy-adam", "silu-exp-poisson-momentum",
                              "tanh-sigmoid-binary_cross_entropy-sgd"])
def test_specialised_kernels_give_the_plain_kernels_numbers_bit_for_bit(configuration,
                                                                         monkeypatch):
    hidden, output, loss, optimizer = configuration
    plain = _results(*_case(hidden, output, loss, seed=1), optimizer)
    monkeypatch.setattr(config, "SPECIALISED_KERNELS", True)
    numba_backend.clear_argument_cache()
    try:
        net, X, T, weights = _case(hidden, output, loss, seed=1)
        module = numba_backend.network_kernels(net.spec)
        assert module.CONFIGURATION == numba_backend.KernelConfiguration(hidden, output, loss)
        specialised = _results(net, X, T, weights, optimizer)
    finally:
        monkeypatch.undo()
        numba_backend.clear_argument_cache()
    assert specialised.keys() == plain.keys()
    for name, expected in plain.items():
        np.testing.assert_array_equal(specialised[name], expected, err_msg=name)
    # Only the configuration's paths were compiled: none of the run-time-code forms.
    for by_code in ("_activate_in_place", "_times_derivative", "_mean_loss_by_code",
                    "_output_deltas_by_code"):
        assert not _compiled(module, by_code), by_code
    # The configuration's own loss forms were (the dispatches above them are inlined).
    total, deltas = LOSS_FORMS[loss]
    assert _compiled(module, total) and _compiled(module, deltas)
    others = {form for name, forms in LOSS_FORMS.items() if forms != LOSS_FORMS[loss]
              for form in forms}
    assert not any(_compiled(module, form) for form in others)
    epochs = numba_backend.specialised(
        numba_backend.EPOCH_KERNELS,
        numba_backend.KernelConfiguration(hidden, output, loss, optimizer))
    assert not _compiled(epochs, "_finish_batch_by_code")
    steps = {"sgd": "_sgd_step", "momentum": "_momentum_step", "adam": "_adam_step"}
    assert [name for name, step in steps.items() if _compiled(epochs, step)] == [optimizer]


# Per loss: the kernels' functions of its total and of its output deltas.
LOSS_FORMS = {"mse": ("_squared_error_total", "_squared_error_deltas"),
              "poisson": ("_poisson_total", "_poisson_deltas"),
              "cross_entropy": ("_log_likelihood_total", "_log_likelihood_deltas"),
              "binary_cross_entropy": ("_log_likelihood_total", "_log_likelihood_deltas")}


def _compiled(module, name):
    """Whether the kernel ``name`` of ``module`` was compiled, here or by an earlier run
    into the on-disk cache (a kernel loaded from there lists no signatures).

    A helper linked into its callers only (fastnn/_numba_linking.py) has no cache
    entry of its own: compiled by an earlier run, its name is in the cached kernels that
    link it (in its functions' mangled names)."""
    dispatcher = getattr(module, name)
    if dispatcher.signatures:
        return True
    qualname = dispatcher.py_func.__qualname__
    stem = Path(module.__file__).stem
    cache_path = getattr(dispatcher._cache, "_cache_path", None)
    if cache_path is None:  # a deferred helper
        directory = next(Path(kernel._cache._cache_path) for kernel in vars(module).values()
                         if hasattr(getattr(kernel, "_cache", None), "_cache_path"))
        symbol = f"{len(qualname)}{qualname}".encode()  # as mangled in a symbol name
        return any(symbol in path.read_bytes()
                   for path in directory.glob(f"{stem}.*.nbc"))
    prefix = f"{stem}.{qualname}-"
    return any(path.name.startswith(prefix) and path.suffix == ".nbi"
               for path in Path(cache_path).iterdir())


def test_configurations_that_differ_get_kernels_of_their_own(specialising):
    first, second = (MLP([3, 2, 2], activation=hidden, loss="mse", backend="numba", seed=0)
                     for hidden in ("tanh", "relu"))
    kernels_of = numba_backend.network_kernels
    assert kernels_of(first.spec) is not kernels_of(second.spec)
    same = MLP([4, 6, 5, 2], activation="tanh", loss="mse", backend="numba", seed=3)
    assert numba_backend.network_kernels(same.spec) is numba_backend.network_kernels(first.spec)
    x = np.array([0.3, -0.2, 0.5])
    for net in (first, second):
        np.testing.assert_allclose(net.forward(x), net.with_backend("numpy").forward(x),
                                   rtol=1e-12)
    module = numba_backend.network_kernels(first.spec)
    assert module._squared_error_deltas.signatures == []  # no gradient asked for


def test_a_network_without_hidden_layers_shares_the_identity_configuration(specialising):
    net = MLP([3, 2], output_activation="softmax", loss="cross_entropy", backend="numba",
              activation="tanh", seed=0)
    assert numba_backend.kernel_configuration(net.spec).hidden == "identity"
    x = np.array([[0.3, -0.2, 0.5]])
    np.testing.assert_allclose(net.forward(x), net.with_backend("numpy").forward(x),
                               rtol=1e-12)


def test_the_switch_off_gives_every_network_the_plain_kernels(monkeypatch):
    monkeypatch.setattr(config, "SPECIALISED_KERNELS", False)
    numba_backend.clear_argument_cache()
    net = MLP([3, 2, 2], activation="tanh", backend="numba", seed=0)
    assert numba_backend.kernel_configuration(net.spec) is None
    assert numba_backend.network_kernels(net.spec).__name__ == numba_backend.NETWORK_KERNELS


CACHED = textwrap.dedent("""
    import json, sys
    import numpy as np
    import fastnn
    from fastnn.backends import numba_backend
    x = np.linspace(-1, 1, 3)
    record = {}
    for hidden in ("tanh", "relu"):
        net = fastnn.MLP([3, 4, 2], activation=hidden, backend="numba", seed=0)
        kernel = numba_backend.network_kernels(net.spec).forward_into
        record[hidden] = [net.forward(x).tolist(), sum(kernel.stats.cache_hits.values()),
                          sum(kernel.stats.cache_misses.values())]
    print(json.dumps(record))
""")


def test_each_configuration_is_cached_on_disk_and_reloaded_in_a_fresh_process(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"), PYTHONPATH=str(ROOT),
               FASTNN_SPECIALISED_KERNELS="1", FASTNN_CACHE_DIR=str(tmp_path / "fastnn"))

    def run():
        out = subprocess.run([sys.executable, "-c", CACHED], env=env, capture_output=True,
                             text=True, timeout=900, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    cold, warm = run(), run()
    for hidden in ("tanh", "relu"):
        assert cold[hidden][1:] == [0, 1] and warm[hidden][1:] == [1, 0], (cold, warm)
        assert warm[hidden][0] == cold[hidden][0]
    # Two configurations, two outputs: neither loaded the other's code.
    assert cold["tanh"][0] != cold["relu"][0]
    for hidden in ("tanh", "relu"):
        expected = MLP([3, 4, 2], activation=hidden, backend="numpy", seed=0).forward(
            np.linspace(-1, 1, 3))
        np.testing.assert_allclose(cold[hidden][0], expected, rtol=1e-12)
    names = [path.name for path in (tmp_path / "numba").rglob("*forward_into*.nbi")]
    assert any("__tanh__" in name for name in names) and any("__relu__" in name
                                                              for name in names), names


# Every (output, loss) pair once, the hidden activations taking turns: every line of the
# activation and loss tables compiled specialised, at a compile per triple.
_PAIRS = sorted({(output, loss) for _, output, loss in COMBINATIONS})
_HIDDEN = sorted({hidden for hidden, _, _ in COMBINATIONS})
TRIPLES = [(_HIDDEN[index % len(_HIDDEN)], output, loss)
           for index, (output, loss) in enumerate(_PAIRS)]


@pytest.mark.slow
@pytest.mark.parametrize("loss", sorted({loss for _, _, loss in COMBINATIONS}))
def test_every_output_and_loss_specialised_matches_the_plain_kernels(loss, monkeypatch):
    """Forward and gradients of every (output, loss) pair, specialised against plain
    (minutes: a compile per triple)."""
    triples = [triple for triple in TRIPLES if triple[2] == loss]
    plain = {}
    for index, triple in enumerate(triples):
        net, X, T, _ = _case(*triple, seed=index)
        plain[triple] = (net.forward(X), net.gradients(X, T))
    monkeypatch.setattr(config, "SPECIALISED_KERNELS", True)
    numba_backend.clear_argument_cache()
    try:
        for index, triple in enumerate(triples):
            net, X, T, _ = _case(*triple, seed=index)
            assert numba_backend.network_kernels(net.spec).CONFIGURATION.output == triple[1]
            forward, (loss_value, dweights, dbiases) = plain[triple]
            np.testing.assert_array_equal(net.forward(X), forward, err_msg=str(triple))
            actual = net.gradients(X, T)
            np.testing.assert_array_equal(actual[0], loss_value, err_msg=str(triple))
            for got, expected in zip(actual[1] + actual[2], dweights + dbiases):
                np.testing.assert_array_equal(got, expected, err_msg=str(triple))
    finally:
        monkeypatch.undo()
        numba_backend.clear_argument_cache()
