"""Tiered execution (fastnn.backends.tiered): NumPy first, the compiled tier after a
background compile; the lock, the marker, and the faults (failing, killed, unwritable).

The background compile here is a stand-in worker (the real worker's lock and marker
protocol, :func:`fastnn.warmup.main`, around a compile that writes a
line, sleeps, fails or kills itself) and the target tier is the ``python`` backend, so
that no test waits for Numba.
"""

import json
import os
import pickle
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fastnn
from fastnn import backends
from fastnn.backends import tiered

STANDIN = textwrap.dedent("""
    import os, signal, sys, time
    from fastnn import warmup as worker

    def compile_configuration(config, target, progress=None):
        with open(os.environ["STANDIN_LOG"], "a") as log:
            log.write(f"{os.getpid()}\\n")
        mode = os.environ.get("STANDIN_MODE", "ok")
        if mode == "partial":
            progress(worker.STAGES[0])  # the plain calls' kernels are ready
        time.sleep(float(os.environ.get("STANDIN_SLEEP", "0")))
        if mode == "fail":
            raise RuntimeError("stand-in compile failure")
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)

    worker.compile_configuration = compile_configuration
    sys.exit(worker.main(sys.argv[1:]))
""")


@pytest.fixture
def standin(tmp_path, monkeypatch):
    """A cache directory of its own and the stand-in worker; returns its call log."""
    (tmp_path / "standin_worker.py").write_text(STANDIN)
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", path)
    monkeypatch.setenv("FASTNN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("STANDIN_LOG", str(tmp_path / "calls.log"))
    monkeypatch.setattr(tiered, "WORKER_MODULE", "standin_worker")
    monkeypatch.setattr(tiered, "POLL_INTERVAL", 0.0)
    monkeypatch.setattr(tiered, "_WARNED", set())
    return tmp_path / "calls.log"


def tiered_net(sizes=(3, 4, 2)):
    net = fastnn.MLP(list(sizes), backend="numpy", seed=0)
    net._backend = tiered.TieredBackend("python", net.spec)
    net._kernels = None
    return net


def wait_for(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def calls(log):
    return log.read_text().split() if log.exists() else []


def test_serves_numpy_until_compiled_then_switches_at_a_call(standin, caplog):
    caplog.set_level("DEBUG", logger="fastnn.tiered")
    net = tiered_net()
    X = np.array([[0.1, 0.2, 0.3]])
    first = net.forward(X)
    assert net.backend == "numpy"
    assert wait_for(lambda: tiered.is_ready(net._backend.config))
    assert wait_for(lambda: net.forward(X) is not None and net.backend == "python")
    np.testing.assert_allclose(net.forward(X), first, rtol=1e-12)
    assert "moves from numpy to python" in caplog.text
    assert len(calls(standin)) == 1
    assert net._backend.config in [record["configuration"]
                                   for record in tiered.compiled_configurations()]


def test_weighted_and_sparse_calls_stay_on_numpy_until_everything_is_compiled(standin,
                                                                             monkeypatch):
    import scipy.sparse

    monkeypatch.setenv("STANDIN_MODE", "partial")
    monkeypatch.setenv("STANDIN_SLEEP", "30")
    net = tiered_net()
    backend = net._backend
    X, T, w = np.array([[0.1, 0.2, 0.3]]), np.array([[1.0, 0.0]]), np.array([2.0])
    assert wait_for(lambda: net.forward(X) is not None and net.backend == "python")
    assert backend.pending and not tiered.is_ready(backend.config, complete=True)
    assert backend._for(X, None).name == "python"
    # Only the network's own calls are compiled: backend-level batches (and the other
    # optimizers' epochs) wait for the next stage.
    assert backend._for(X, None, tiered._BATCHES).name == "numpy"
    assert backend._for(X, w).name == "numpy"
    assert backend._for(scipy.sparse.csr_matrix(X), None).name == "numpy"
    numpy_net = net.with_backend("numpy")
    assert net.loss(X, T, sample_weight=w) == numpy_net.loss(X, T, sample_weight=w)
    backend._worker.kill()
    backend._worker.wait()
    with pytest.warns(RuntimeWarning, match="numpy for weighted and sparse calls"):
        assert wait_for(lambda: net.forward(X) is not None and not backend.pending)
    assert net.backend == "python"


def test_gradients_and_steps_never_switch_tiers(standin):
    net = tiered_net()
    backend = net._backend
    assert wait_for(lambda: tiered.is_ready(backend.config))
    X, T = np.array([[0.1, 0.2, 0.3]]), np.array([[1.0, 0.0]])
    # what training calls inside an epoch (the model's own calls are boundaries)
    backend.gradients(net.spec, net._params, X, T)
    backend.train_step(net.spec, net._params.copy(), X, T, 0.1)
    assert backend.name == "numpy"
    assert backend.runs_epochs is False  # the epoch boundary: switches now
    assert backend.name == "python"


def test_one_compile_is_shared_by_networks_and_processes(standin, monkeypatch):
    monkeypatch.setenv("STANDIN_SLEEP", "0.3")
    nets = [tiered_net(), tiered_net()]
    X = np.array([0.1, 0.2, 0.3])
    assert wait_for(lambda: all(net.forward(X) is not None and net.backend == "python"
                                for net in nets))
    assert len(calls(standin)) == 1


def test_a_failing_compile_warns_once_with_its_cause_and_stays_on_numpy(standin,
                                                                         monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "fail")
    X = np.array([0.1, 0.2, 0.3])
    with pytest.warns(RuntimeWarning, match="stand-in compile failure") as record:
        nets = [tiered_net(), tiered_net()]
        assert wait_for(lambda: not any(net._backend.pending
                                        for net in nets if net.forward(X) is not None))
    assert len([w for w in record if "did not finish" in str(w.message)]) == 1
    assert [net.backend for net in nets] == ["numpy", "numpy"]
    assert not tiered.is_ready(nets[0]._backend.config)


def test_a_killed_compile_warns_and_stays_on_numpy(standin, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "kill")
    net = tiered_net()
    with pytest.warns(RuntimeWarning, match="killed by signal 9"):
        assert wait_for(lambda: net.forward(np.zeros(3)) is not None
                        and not net._backend.pending)
    assert net.backend == "numpy"
    assert not tiered.is_ready(net._backend.config)


def test_a_compile_killed_mid_way_leaves_no_entry_and_the_next_one_completes(standin,
                                                                          monkeypatch):
    config = {"dtype": "float64"}
    command = [sys.executable, "-m", "standin_worker", json.dumps(config), "python"]
    monkeypatch.setenv("STANDIN_SLEEP", "30")
    first = subprocess.Popen(command, env=tiered._worker_environment())
    assert wait_for(lambda: calls(standin))  # inside its compile, holding the lock
    assert tiered._lock_held(config)
    monkeypatch.setenv("STANDIN_SLEEP", "0")
    busy = subprocess.run(command, env=tiered._worker_environment(), check=False)
    assert busy.returncode == tiered.BUSY
    first.kill()
    first.wait()
    assert not tiered.is_ready(config) and not tiered._lock_held(config)
    done = subprocess.run(command, env=tiered._worker_environment(), check=False)
    assert done.returncode == 0 and tiered.is_ready(config)
    assert len(calls(standin)) == 2


def test_an_unwritable_cache_directory_warns_and_stays_on_numpy(standin, tmp_path,
                                                                monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv("FASTNN_CACHE_DIR", str(blocker / "cache"))
    with pytest.warns(RuntimeWarning, match="not writable"):
        net = tiered_net()
    assert net.forward(np.zeros(3)) is not None
    assert net.backend == "numpy" and not net._backend.pending
    assert calls(standin) == []


def test_a_corrupt_marker_is_not_trusted_and_is_recompiled(standin):
    config = {"dtype": "float64"}
    tiered.cache_root().mkdir(parents=True)
    tiered.marker_path(config).write_text("{not json")
    assert not tiered.is_ready(config)
    net = tiered_net()
    assert wait_for(lambda: net.forward(np.zeros(3)) is not None and net.backend == "python")
    assert len(calls(standin)) == 1


def test_a_marker_of_another_install_or_without_its_numba_index_is_stale(standin, tmp_path):
    config = {"dtype": "float64"}
    tiered.cache_root().mkdir(parents=True)
    index = tmp_path / "kernels.nbi"
    index.write_text("")
    record = {"configuration": config, "sources": tiered.sources_state(),
              "numba_index": str(index), "complete": True}
    tiered.marker_path(config).write_text(json.dumps(record))
    assert tiered.is_ready(config, complete=True)
    index.unlink()  # the cache went with a reinstall (a __pycache__ cache directory)
    assert not tiered.is_ready(config)
    record["sources"], record["numba_index"] = "another install", None
    tiered.marker_path(config).write_text(json.dumps(record))
    assert not tiered.is_ready(config)


def test_the_numba_index_path_is_found_where_numba_writes_it():
    # Numba internals (one place: warmup.numba_index_path): an upgrade that
    # moves them fails here.
    from fastnn import warmup
    from fastnn.backends import _numba_kernels

    fastnn.MLP([3, 2], backend="numba", seed=0).forward(np.zeros(3))
    if type(_numba_kernels.forward_into._cache).__name__ == "NullCache":
        pytest.skip("Numba's on-disk cache is off in this run (FASTNN_NUMBA_CACHE=0)")
    path = warmup.numba_index_path()
    assert path is not None and path.endswith(".nbi") and os.path.exists(path)


def test_a_forked_child_inherits_no_compile_handle(standin, monkeypatch):
    monkeypatch.setenv("STANDIN_SLEEP", "5")
    net = tiered_net()
    assert net._backend._worker is not None
    pid = os.fork()
    if pid == 0:  # the child: no handle on the parent's worker, serves NumPy
        ok = net._backend._worker is None and net.forward(np.zeros(3)) is not None
        os._exit(0 if ok and net.backend == "numpy" else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    net._backend._worker.kill()


def test_a_tiered_network_pickles_as_auto(standin, monkeypatch):
    monkeypatch.setenv("FASTNN_TIERED", "0")
    net = tiered_net()
    copy = pickle.loads(pickle.dumps(net))
    assert copy._backend is not net._backend
    assert copy.backend in backends.available_backends()
    np.testing.assert_array_equal(copy.flat_parameters, net.flat_parameters)


def test_tiering_off_resolves_auto_in_the_foreground(monkeypatch):
    monkeypatch.setenv("FASTNN_TIERED", "0")
    net = fastnn.MLP([3, 2], seed=0)
    assert not isinstance(net._backend, tiered.TieredBackend)


def test_auto_answers_from_numpy_without_importing_numba_or_scipy(standin, tmp_path):
    code = textwrap.dedent("""
        import sys
        import fastnn.backends.tiered as tiered
        tiered.WORKER_MODULE = "standin_worker"
        import fastnn
        net = fastnn.MLP([3, 4, 2], seed=0)
        net.forward([0.1, 0.2, 0.3])
        print(net.backend, "numba" in sys.modules, "scipy" in sys.modules)
    """)
    env = dict(os.environ, FASTNN_TIERED="1", STANDIN_SLEEP="5")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["numpy", "False", "False"]


def test_an_auto_estimator_fits_on_numpy_while_numba_compiles(standin, monkeypatch):
    from fastnn.estimator import MLPClassifier

    monkeypatch.setenv("FASTNN_TIERED", "1")
    monkeypatch.setenv("STANDIN_SLEEP", "30")
    rng = np.random.default_rng(0)
    X = rng.random((40, 4))
    y = (X[:, 0] > 0.5).astype(int)
    estimator = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    with pytest.warns(Warning):  # not converged in 3 iterations
        estimator.fit(X, y)
    assert estimator.backend_ == "numpy"
    assert estimator.predict(X).shape == (40,)
    assert wait_for(lambda: calls(standin))  # the compile it started in the background
    for backend in list(tiered._ALIVE):
        if backend._worker is not None:
            backend._worker.kill()
            backend._worker.wait()


def test_warmup_compiles_every_configuration_and_info_lists_them(standin, monkeypatch,
                                                                  capsys):
    from fastnn import cli, warmup
    from fastnn.commands import info as cli_info

    compiled = []

    def compile_configuration(config, target, progress=None):
        compiled.append((config["dtype"], target))
        for stage in warmup.STAGES:
            progress(stage)

    monkeypatch.setattr(warmup, "compile_configuration", compile_configuration)
    assert "none yet" in cli_info.compiled_lines()[0]
    assert cli.main(["warmup", "--all", "--no-progress"]) == 0
    assert compiled == [("float64", "numba"), ("float32", "numba")]
    assert tiered.is_ready({"dtype": "float32"}) and tiered.is_ready({"dtype": "float64"})
    lines = cli_info.compiled_lines()
    assert any("numba dtype=float32" in line for line in lines)
    assert cli.main(["warmup", "--no-progress"]) == 0  # already compiled: nothing to do
    assert len(compiled) == 2
    assert "already compiled" in capsys.readouterr().out


def test_warmup_names_a_bad_configuration(standin, capsys):
    from fastnn import cli

    assert cli.main(["warmup", "--config", "dtype=float16"]) == 2
    assert "dtype must be one of float64, float32; got 'float16'" in capsys.readouterr().err
    assert cli.main(["warmup", "--config", "loss=mse"]) == 2
    assert "unknown configuration key 'loss'" in capsys.readouterr().err


def test_the_configuration_names_what_decides_the_compiled_code(monkeypatch):
    from fastnn import config
    from fastnn.spec import NetworkSpec

    monkeypatch.setattr(config, "SPECIALISED_KERNELS", True)
    spec = NetworkSpec.create([3, 4, 2], "relu", None, "cross_entropy", "float32")
    assert tiered.configuration(spec) == {"dtype": "float32", "hidden": "relu",
                                          "output": "softmax", "loss": "cross_entropy",
                                          "optimizer": "adam"}
    assert tiered.configuration(spec, "sgd")["optimizer"] == "sgd"
    # Without hidden layers every hidden activation compiles the same kernels.
    assert tiered.configuration(NetworkSpec.create([3, 2], "tanh"))["hidden"] == "identity"
    monkeypatch.setattr(config, "SPECIALISED_KERNELS", False)
    assert tiered.configuration(spec) == {"dtype": "float32"}


def test_a_stage_marker_moves_the_calls_of_that_stage(standin):
    from fastnn import warmup

    net = fastnn.MLP([3, 4, 2], backend="numpy", seed=0)
    backend = tiered.TieredBackend("python", net.spec, start=False)
    record = {"configuration": backend.config, "complete": False,
              "stages": {warmup.STAGES[0]: 1.0, warmup.STAGES[1]: 2.0}}
    backend._stages = tiered._stages_done(record)
    backend._switch()
    X = np.array([[0.1, 0.2, 0.3]])
    assert backend._for(X, None).name == "python"
    assert backend._for(X, None, tiered._BATCHES).name == "python"
    assert backend._for(X, np.ones(1)).name == "numpy"  # the weighted stage is not done
    assert tiered._stages_done({"stages": {}}) == {tiered._NETWORK}


def test_warmup_configurations_name_every_key_when_kernels_are_specialised(monkeypatch):
    from fastnn import config
    from fastnn.commands import warmup as cli_warmup

    monkeypatch.setattr(config, "SPECIALISED_KERNELS", True)
    assert cli_warmup.parse_configuration("dtype=float32,loss=cross_entropy") == {
        "dtype": "float32", "hidden": "sigmoid", "output": "softmax",
        "loss": "cross_entropy", "optimizer": "adam"}
    assert cli_warmup.default_configuration()["loss"] == "mse"
    common = cli_warmup.common_configurations()
    assert len(common) == 2 * len(cli_warmup.COMMON)
    assert {"dtype": "float64", "hidden": "relu", "output": "softmax",
            "loss": "cross_entropy", "optimizer": "adam"} in common
    with pytest.raises(ValueError, match="hidden must be one of"):
        cli_warmup.parse_configuration("hidden=softmax")


# --- a compiled configuration: Numba loads in a thread while NumPy answers -----------------

@pytest.fixture
def loading(standin, monkeypatch):
    """No Numba in this process as far as the loaders know, no loaders yet, and a stand-in
    load (it waits for ``release``, then fails with ``failure`` if set); returns the
    controls."""
    import threading

    controls = {"release": threading.Event(), "failure": None, "loads": []}

    def load_kernels(config, target):
        controls["loads"].append((config, target))
        assert controls["release"].wait(60)
        if controls["failure"]:
            raise RuntimeError(controls["failure"])

    monkeypatch.setattr(tiered, "load_kernels", load_kernels)
    monkeypatch.setattr(tiered, "_numba_imported", lambda: False)
    monkeypatch.setattr(tiered, "_LOADERS", {})
    return controls


def loading_net(sizes=(3, 4, 2)):
    net = fastnn.MLP(list(sizes), backend="numpy", seed=0)
    loader = tiered.loader_for(tiered.configuration(net.spec), "python")
    net._backend = tiered.TieredBackend("python", net.spec, loader=loader)
    net._kernels = None
    return net


def test_a_compiled_configuration_answers_from_numpy_while_it_loads_then_switches(
        loading, standin, caplog):
    caplog.set_level("DEBUG", logger="fastnn.tiered")
    net, other = loading_net(), loading_net()
    X = np.array([[0.1, 0.2, 0.3]])
    first = net.forward(X)
    assert net.backend == "numpy" and net._backend.pending
    loading["release"].set()
    assert wait_for(lambda: net.forward(X) is not None and net.backend == "python")
    np.testing.assert_allclose(net.forward(X), first, rtol=1e-12)
    assert "loaded from the cache" in caplog.text and "moves from numpy to python" in caplog.text
    assert not net._backend.pending and net._backend._for(X, np.ones(1)).name == "python"
    assert wait_for(lambda: other.forward(X) is not None and other.backend == "python")
    assert len(loading["loads"]) == 1  # one load per configuration and process
    assert calls(standin) == []  # and no compile process
    # Loaded: the next network of the configuration goes to its backend at once.
    assert tiered.loader_for(net._backend.config, "python") is None


def test_a_failed_load_warns_once_with_its_cause_and_stays_on_numpy(loading):
    loading["failure"] = "stand-in load failure"
    loading["release"].set()
    X = np.array([0.1, 0.2, 0.3])
    with pytest.warns(RuntimeWarning, match="loading its compiled Numba kernels .* "
                      "stand-in load failure") as record:
        nets = [loading_net(), loading_net()]
        assert wait_for(lambda: not any(net._backend.pending
                                        for net in nets if net.forward(X) is not None))
    assert len([w for w in record if "did not finish" in str(w.message)]) == 1
    assert [net.backend for net in nets] == ["numpy", "numpy"]
    assert len(loading["loads"]) == 1


def test_after_a_background_compile_the_kernels_load_in_a_thread_before_the_switch(
        loading, standin):
    net = tiered_net()
    X = np.array([[0.1, 0.2, 0.3]])
    assert wait_for(lambda: tiered.is_ready(net._backend.config, complete=True))
    # Compiled, not loaded: no call of the network waits for the load.
    assert net.forward(X) is not None and net.backend == "numpy" and net._backend.pending
    assert loading["loads"] == [(net._backend.config, "python")]
    loading["release"].set()
    assert wait_for(lambda: net.forward(X) is not None and net.backend == "python")
    assert not net._backend.pending and len(calls(standin)) == 1


def test_auto_loads_in_a_thread_only_while_numba_is_not_imported(loading, monkeypatch):
    from fastnn.backends import selection
    from fastnn.spec import NetworkSpec

    monkeypatch.setenv("FASTNN_TIERED", "1")
    monkeypatch.setattr(selection, "choose_backend", lambda *args: "numba")
    spec = NetworkSpec.create([3, 4, 2])
    config = tiered.configuration(spec)
    tiered.cache_root().mkdir(parents=True)
    tiered.marker_path(config).write_text(json.dumps(
        {"configuration": config, "sources": tiered.sources_state(), "complete": True}))
    backend = backends.resolve_auto(spec)
    assert isinstance(backend, tiered.TieredBackend) and backend._loader is not None
    assert backend.name == "numpy" and loading["loads"] == [(config, "numba")]
    loading["release"].set()
    backend._loader.join(60)
    # Numba imported by something else (here: the test run): as before loading threads,
    # the compiled backend at once.
    monkeypatch.setattr(tiered, "_LOADERS", {})
    monkeypatch.setattr(tiered, "_numba_imported", lambda: True)
    assert backends.resolve_auto(spec) is backends.get("numba")


def test_a_fork_waits_for_the_load_and_the_child_inherits_it_whole(loading):
    net = loading_net()
    X = np.array([0.1, 0.2, 0.3])
    assert net.forward(X) is not None and net.backend == "numpy"
    import threading

    threading.Timer(0.2, loading["release"].set).start()
    pid = os.fork()  # waits for the loader (tiered.FORK_WAIT)
    if pid == 0:
        loader = net._backend._loader
        ok = loader.finished and loader.error is None and net.forward(X) is not None
        os._exit(0 if ok and net.backend == "python" else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert wait_for(lambda: net.forward(X) is not None and net.backend == "python")


def test_a_child_forked_amid_a_load_keeps_to_numpy_and_warns(loading, monkeypatch):
    monkeypatch.setattr(tiered, "FORK_WAIT", 0.05)
    net = loading_net()
    X = np.array([0.1, 0.2, 0.3])
    assert net.forward(X) is not None
    pid = os.fork()  # the loader is still waiting: the child gets half a load
    if pid == 0:
        import warnings

        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            net.forward(X)
            other = loading_net((2, 2))  # another configuration: not loaded either
            other.forward(np.zeros(2))
        ok = (net.backend == other.backend == "numpy" and not net._backend.pending
              and not other._backend.pending and len(loading["loads"]) == 1
              and any("forked while" in str(w.message) for w in record))
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    loading["release"].set()
    assert wait_for(lambda: net.forward(X) is not None and net.backend == "python")


def test_a_compiled_configuration_loads_from_numbas_cache_in_a_fresh_process(tmp_path):
    # The real load (Numba's on-disk cache of the plain kernels, which the test run shares):
    # compiled here first if this test runs alone.
    from fastnn.backends import _numba_kernels

    net = fastnn.MLP([3, 4, 2], backend="numba", seed=0)
    X, T = np.array([[0.1, 0.2, 0.3]]), np.array([[1.0, 0.0]])
    net.forward(X)
    net.loss(X, T)
    net.gradients(X, T)
    net.copy().fit(np.vstack([X, X]), np.vstack([T, T]), epochs=1, batch_size=2)
    if type(_numba_kernels.forward_into._cache).__name__ == "NullCache":
        pytest.skip("Numba's on-disk cache is off in this run (FASTNN_NUMBA_CACHE=0)")
    code = textwrap.dedent("""
        import sys, time
        import numpy as np
        from fastnn.backends import selection, tiered
        from fastnn.spec import NetworkSpec
        selection.choose_backend = lambda *args: "numba"
        import fastnn
        config = tiered.configuration(NetworkSpec.create([3, 4, 2]))
        tiered.cache_root().mkdir(parents=True, exist_ok=True)
        tiered.marker_path(config).write_text(__import__("json").dumps(
            {"configuration": config, "sources": tiered.sources_state(), "complete": True}))
        net = fastnn.MLP([3, 4, 2], seed=0)
        X = np.array([[0.1, 0.2, 0.3]])
        first, at_first, numba_at_first = net.forward(X), net.backend, "numba" in sys.modules
        deadline = time.monotonic() + 120
        while net.backend != "numba" and time.monotonic() < deadline:
            time.sleep(0.02)
            net.forward(X)
        loader = net._backend._loader
        same = np.allclose(net.forward(X), first, rtol=1e-12)
        print(at_first, numba_at_first, net.backend, loader.error, same)
    """)
    env = dict(os.environ, FASTNN_TIERED="1", FASTNN_CACHE_DIR=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, timeout=300).stdout.split()
    assert out == ["numpy", "False", "numba", "None", "True"]


def test_a_split_compiles_numba_cache_saves_hold_a_lock(tmp_path, monkeypatch):
    # Numba internals (one place: warmup.serialise_cache_saves): an upgrade that moves
    # them fails here.
    import inspect

    from numba.core import caching

    from fastnn import warmup

    monkeypatch.setenv("FASTNN_CACHE_DIR", str(tmp_path / "cache"))
    original = caching.IndexDataCacheFile.save
    monkeypatch.setattr(caching.IndexDataCacheFile, "save", original)  # undone after
    assert list(inspect.signature(original).parameters) == ["self", "key", "data"]
    tiered.cache_root().mkdir(parents=True)
    warmup.serialise_cache_saves()
    wrapped = caching.IndexDataCacheFile.save
    assert wrapped is not original
    warmup.serialise_cache_saves()  # wraps once only
    assert caching.IndexDataCacheFile.save is wrapped
    entries = caching.IndexDataCacheFile(str(tmp_path), "kernel-1.py311", ("stamp", 1))
    entries.save(("signature", "float64"), {"code": 1})
    entries.save(("signature", "float32"), {"code": 2})
    assert entries.load(("signature", "float64")) == {"code": 1}
    assert entries.load(("signature", "float32")) == {"code": 2}
    assert (tiered.cache_root() / "numba-cache-save.lock").exists()


EPOCH_STANDIN = textwrap.dedent("""
    import os, sys, time
    from fastnn import warmup as worker

    def compile_epoch(config, target):
        with open(os.environ["STANDIN_LOG"], "a") as log:
            log.write(f"{os.getpid()}\\n")
        time.sleep(60)

    worker.compile_epoch = compile_epoch
    sys.exit(worker.main(sys.argv[1:]))
""")


def _running(pid):
    """Whether process ``pid`` runs (a zombie nobody reaped does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc")
def test_a_split_compiles_second_process_ends_with_its_worker(standin, tmp_path):
    (tmp_path / "epoch_standin.py").write_text(EPOCH_STANDIN)
    # A stand-in worker that starts the epoch's process as the worker does, then is killed.
    command = [sys.executable, "-m", "epoch_standin", "--epoch", json.dumps({"dtype": "float64"}),
               "python"]
    worker = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import subprocess, time
        subprocess.Popen({command!r})
        time.sleep(60)
    """)], env=tiered._worker_environment())
    try:
        assert wait_for(lambda: calls(standin))  # the second process is in its compile
        helper = int(calls(standin)[0])
        assert _running(helper)
        worker.kill()
        worker.wait()
        assert wait_for(lambda: not _running(helper), seconds=30)
    finally:
        worker.kill()
