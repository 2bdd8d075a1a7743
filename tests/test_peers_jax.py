"""The JAX peer (``tox -e peers``; skipped where JAX is not installed).

JAX reads its thread flags once, at import: this file checks what fastnn recorded about
them, whichever came first in this process (fastnn's import, or another's).
"""

import contextlib
import os

import numpy as np
import pytest

from fastnn.bench.measure.gate import reference_result
from fastnn.bench.measure.sweep import case_row
from fastnn.bench.peers import PEERS, gated_call
from fastnn.bench.peers.jax_peer import xla_thread_flags
from fastnn.bench.peers.measure import measure_peers
from fastnn.bench.workload.cases import Case, make_case
from fastnn.model import MLP

pytest.importorskip("jax")

THREADS = {"blas_threads": 1, "numba_threads": 1}


def test_thread_flags():
    assert xla_thread_flags(1) == ("--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")
    assert xla_thread_flags(2).startswith("--xla_cpu_multi_thread_eigen=true")


@pytest.mark.parametrize("activation, output, loss", [
    ("sigmoid", "sigmoid", "mse"),
    ("tanh", "softmax", "cross_entropy"),
    ("relu", "sigmoid", "binary_cross_entropy"),
    ("elu", "softmax", "binary_cross_entropy"),
    ("leaky_relu", "identity", "mse"),
])
@pytest.mark.parametrize("op", ["forward", "gradients", "train_step"])
def test_jax_matches_the_reference(activation, output, loss, op):
    net = MLP([5, 4, 3], activation=activation, output_activation=output, loss=loss, seed=2,
              backend="numpy")
    rng = np.random.default_rng(0)
    X = rng.random((6, 5))
    T = np.eye(3)[rng.integers(3, size=6)] if output == "softmax" else rng.random((6, 3))
    case = Case(net.spec, net.flat_parameters.copy(), X, T)
    prepared = PEERS["jax"].prepare(net, case, op, 1)
    assert prepared.setup_s > 0
    checked = gated_call(prepared, "float64", "python", reference_result("python", case, op))
    assert checked.passed, checked.note


def test_jax_float32_forward():
    case = make_case((5, 4, 3), 6, dtype="float32")
    prepared = PEERS["jax"].prepare(MLP.from_spec(case.spec, case.params), case, "forward", 1)
    checked = gated_call(prepared, "float32", "python",
                         reference_result("python", case, "forward"))
    assert checked.passed, checked.note


def test_jax_rows_record_their_threads():
    case = make_case((3, 3, 1), 2)
    with contextlib.ExitStack() as pins:
        rows = measure_peers(["jax"], case, "train_step", THREADS, "python",
                             reference_result("python", case, "train_step"), [], pins,
                             lambda name: case_row(name, "mlp", case, "train_step", THREADS,
                                                   "python"))
    (row,) = rows
    assert row.status == "" and row.max_rel_diff <= 1e-10  # gated, waiting to be timed
    how = row.extra["peer_pinning"]
    assert "XLA_FLAGS" in how or "not pinned" in how


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no sched_setaffinity here")
def test_jax_at_one_thread_holds_every_thread_to_one_cpu_until_timed():
    # XLA's flags alone left jax 0.10 computing on two cores: while the JAX peer's rows
    # wait to be timed (the pins are open), every thread of the process is on one CPU.
    allowed = os.sched_getaffinity(0)
    case = make_case((3, 3, 1), 2)
    with contextlib.ExitStack() as pins:
        (row,) = measure_peers(["jax"], case, "forward", THREADS, "python",
                               reference_result("python", case, "forward"), [], pins,
                               lambda name: case_row(name, "mlp", case, "forward", THREADS,
                                                     "python"))
        held = {task: os.sched_getaffinity(int(task)) for task in os.listdir("/proc/self/task")}
        assert row.extra["peer_threads"] == 1
        assert "every thread of the process pinned to CPU" in row.extra["peer_pinning"]
    assert {len(cpus) for cpus in held.values()} == {1}
    assert os.sched_getaffinity(0) == allowed  # restored once the peers were timed


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_jax_is_timed_from_numpy_to_numpy_in_its_dtype(dtype):
    # What is timed takes the case's NumPy arrays and returns NumPy arrays (not device
    # arrays left for later), computed in the case's dtype (x64 off for float32).
    import jax

    case = make_case((5, 4, 3), 6, dtype=dtype)
    net = MLP.from_spec(case.spec, case.params, backend="numpy")
    forward = PEERS["jax"].prepare(net, case, "forward", 1)
    assert jax.config.jax_enable_x64 == (dtype == "float64")
    result = forward.call()
    assert type(result) is np.ndarray and result.dtype == np.dtype(dtype)
    loss, gradients = PEERS["jax"].prepare(net, case, "gradients", 1).call()
    arrays = [loss, *[array for pair in gradients for array in pair]]
    assert all(type(array) is np.ndarray and array.dtype == np.dtype(dtype) for array in arrays)
    loss = PEERS["jax"].prepare(net, case, "train_step", 1).call()
    assert type(loss) is np.ndarray and loss.dtype == np.dtype(dtype)


def test_jax_train_step_restarts_from_the_gated_state():
    case = make_case((5, 4, 3), 6)
    prepared = PEERS["jax"].prepare(MLP.from_spec(case.spec, case.params), case,
                                    "train_step", 1)
    first = prepared.extract(prepared.call())
    prepared.reset()
    np.testing.assert_array_equal(prepared.extract(prepared.call()), first)
