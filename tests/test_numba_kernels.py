"""The Numba kernels beyond the shared cross-checks: their own exp, both layer paths,
one compiled signature per dtype, NaN propagation and the kernel-cache fallback."""

import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REFERENCE

from fastnn import MLP
from fastnn.backends import _numba_kernels as kernels
from fastnn.backends import numba_backend
from fastnn.params import parameter_count
from fastnn.spec import NetworkSpec
from fastnn.testing import TOLERANCE, random_case, relative_difference

ROOT = Path(__file__).resolve().parent.parent


def test_vectorised_sigmoid_matches_the_scalar_reference_within_two_ulp():
    z = np.concatenate([np.linspace(-800, 800, 20001),
                        np.random.default_rng(0).uniform(-40, 40, 20000),
                        [0.0, -0.0, 1e-300, -1e-300, 709.0, -745.1, -745.2, np.inf, -np.inf]])
    values = z.reshape(1, -1).copy()
    kernels._activate_in_place(kernels.SIGMOID, values)
    expected = np.array([1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))
                         for v in z])
    normal = expected > 1e-300
    error = np.abs(values[0] - expected)[normal] / expected[normal]
    assert error.max() <= 2 * np.finfo(np.float64).eps
    np.testing.assert_array_equal(values[0][~normal] < 1e-300, True)


def test_sigmoid_keeps_nan():
    values = np.array([[np.nan, 1.0]])
    kernels._activate_in_place(kernels.SIGMOID, values)
    assert np.isnan(values[0, 0]) and values[0, 1] == pytest.approx(1 / (1 + math.exp(-1)))


def test_softmax_with_the_vectorised_exp_matches_libm_and_keeps_nan():
    rng = np.random.default_rng(0)
    Z = np.concatenate([rng.uniform(-40, 40, (50, 7)), rng.uniform(-900, 900, (50, 7))])
    values = Z.copy()
    kernels._activate_in_place(kernels.SOFTMAX, values)
    shifted = np.exp(Z - Z.max(axis=1, keepdims=True))
    expected = shifted / shifted.sum(axis=1, keepdims=True)
    normal = expected > 1e-300
    error = np.abs(values - expected)[normal] / expected[normal]
    assert error.max() <= 8 * np.finfo(np.float64).eps
    infinite = np.array([[np.inf, 0.0, 1.0]])
    kernels._activate_in_place(kernels.SOFTMAX, infinite)
    assert np.isnan(infinite[0, 0])


def test_softmax_loss_reads_the_forward_log_sum_exp():
    # Logits hundreds apart: exp underflows, so log(y) must come from the log-softmax.
    rng = np.random.default_rng(1)
    spec = NetworkSpec.create([3, 4], "identity", "softmax", "cross_entropy")
    params = rng.normal(0, 100.0, 3 * 4 + 4)
    reference = MLP.from_spec(spec, params, REFERENCE)
    net = reference.with_backend("numba")
    X = rng.standard_normal((20, 3))
    T = np.eye(4)[rng.integers(0, 4, 20)]
    assert relative_difference(net.loss(X, T), reference.loss(X, T)) <= TOLERANCE["float64"]
    loss, dweights, _ = net.gradients(X, T)
    assert relative_difference(loss, reference.loss(X, T)) <= TOLERANCE["float64"]
    assert relative_difference(dweights[0], reference.gradients(X, T)[1][0]) \
        <= TOLERANCE["float64"]


@pytest.mark.parametrize("batch", [1, 3, 200])
def test_blas_and_loop_layers_agree_with_the_reference(batch):
    # 64 * 32 * 16 multiply-adds and more go through BLAS; fewer through the loops.
    rng = np.random.default_rng(batch)
    spec = NetworkSpec.create([32, 16, 4], "tanh", "softmax", "cross_entropy")
    reference = MLP.from_spec(spec, rng.normal(0, 0.3, 32 * 16 + 16 + 16 * 4 + 4), REFERENCE)
    net = reference.with_backend("numba")
    X = rng.standard_normal((batch, 32))
    T = np.eye(4)[rng.integers(0, 4, batch)]
    assert relative_difference(net.forward(X), reference.forward(X)) <= TOLERANCE["float64"]
    for actual, expected in zip(net.gradients(X, T)[1], reference.gradients(X, T)[1]):
        assert relative_difference(actual, expected) <= TOLERANCE["float64"]


def test_loss_and_gradient_contract_is_callable_from_njit_code():
    import numba

    @numba.njit
    def mean_loss_twice(params, layer_sizes, codes, loss_code, X, T, grad):
        first = kernels.loss_and_gradient(params, layer_sizes, codes, loss_code, X, T, grad)
        return first + kernels.loss_and_gradient(params, layer_sizes, codes, loss_code, X, T,
                                                 grad)

    spec, params, X, T = random_case(np.random.default_rng(3), "relu", "sigmoid", "mse")
    layer_sizes, codes, loss_code = numba_backend.kernel_arguments(spec)
    assert layer_sizes.dtype == np.int64 and codes.dtype == np.int64
    assert codes.shape == (spec.n_layers,)
    grad = np.empty_like(params)
    twice = mean_loss_twice(params, layer_sizes, codes, loss_code, X, T, grad)
    expected_loss, expected_grad = numba_backend.BACKEND.gradients(spec, params, X, T)
    assert twice == pytest.approx(2 * expected_loss, rel=1e-12)
    np.testing.assert_array_equal(grad, expected_grad)


def test_every_architecture_shares_one_compiled_signature_per_dtype():
    rng = np.random.default_rng(4)
    for sizes in ([3, 1], [5, 4, 3, 2], [2, 7, 7, 7, 1]):
        for dtype in ("float64", "float32"):
            net = MLP(sizes, activation="elu", loss="binary_cross_entropy", dtype=dtype,
                      backend="numba", seed=0)
            X = rng.standard_normal((4, sizes[0]))
            net.train_step(X, rng.random((4, sizes[-1])), 0.1)
            net.forward(X)
    # The model's calls: forward, and gradients and steps through one kernel.
    assert kernels.forward_into.signatures and kernels.checked_gradient_step.signatures
    for kernel in (kernels.forward_into, kernels.checked_gradient_step):
        assert len(kernel.signatures) <= 2, kernel.signatures


def test_an_overflowing_step_is_refused_and_changes_nothing():
    net = MLP([1, 2, 1], activation="identity", output_activation="identity", backend="numba")
    net.set_params([[[1e300, -1e300]], [[1e10], [1e10]]], [[0.0, 0.0], [0.0]])
    before = net.flat_parameters.copy()
    with pytest.raises(ValueError, match="not finite"):
        net.train_step([[1e10]], [[0.0]], 1.0)
    with pytest.raises(ValueError, match="not finite"):
        net.forward([[1e10]])
    np.testing.assert_array_equal(net.flat_parameters, before)


def test_jit_falls_back_to_no_cache_where_caching_is_impossible():
    # Source compiled from a string has no file for Numba's cache locators.
    namespace = {}
    exec(compile("def double(x):\n    return 2 * x\n", "<no file>", "exec"), namespace)
    with pytest.warns(RuntimeWarning, match="without the kernel cache"):
        double = kernels.jit(namespace["double"])
    assert double(21) == 42


def _run(code, env):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_kernels_work_when_the_cache_directory_cannot_be_written(tmp_path):
    # A cache "directory" under a regular file cannot be created, even by root.
    blocker = tmp_path / "not_a_directory"
    blocker.write_text("")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(blocker / "cache"),
               PYTHONPATH=str(ROOT), FASTNN_NUMBA_CACHE="1")
    result = _run("""
        import numpy as np
        from fastnn import MLP
        net = MLP([3, 3, 1], backend="numba", seed=0)
        print(float(net.forward(np.ones(3))[0]))
    """, env)
    assert result.returncode == 0, result.stderr
    expected = MLP([3, 3, 1], backend=REFERENCE, seed=0).forward(np.ones(3))[0]
    assert float(result.stdout.split()[-1]) == pytest.approx(expected, rel=1e-12)


def test_pinned_threads_pins_every_blas_and_numba():
    from threadpoolctl import threadpool_info

    from fastnn import config

    with config.pinned_threads(1) as in_force:
        assert in_force == {"blas_threads": 1, "numba_threads": 1}
        blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
        assert blas and all(info["num_threads"] == 1 for info in blas)
        # Numba's OpenMP threading layer (where it is the one in use) resets the OpenMP
        # runtime's count, on which oneDNN's sgemm runs: pinned after it starts.
        openmp = [info for info in threadpool_info() if info["user_api"] == "openmp"]
        assert all(info["num_threads"] == 1 for info in openmp), openmp


def test_pinned_threads_hold_onednn_to_one_cpu():
    """The float32 kernels' oneDNN products run on one thread when the caller pins one."""
    from fastnn import config
    from fastnn.backends import _external_gemm

    if not _external_gemm.AVAILABLE:
        pytest.skip("oneDNN is not installed (fastnn[onednn])")
    A = np.random.default_rng(0).random((512, 784), dtype=np.float32)
    params = np.random.default_rng(1).random(784 * 256 + 256, dtype=np.float32)
    Z = np.empty((512, 256), dtype=np.float32)
    with config.pinned_threads(1):
        cpu_start, wall_start = os.times(), time.perf_counter()
        while time.perf_counter() - wall_start < 0.3:
            assert kernels._external_dense(A, params, 0, 784, 256, Z)
        cpu_end, wall = os.times(), time.perf_counter() - wall_start
    cpu = (cpu_end.user + cpu_end.system) - (cpu_start.user + cpu_start.system)
    assert cpu / wall < 1.5  # two busy threads would spend about 2 CPU seconds a second


def test_fastmath_never_assumes_away_nan_or_infinity():
    from fastnn import config

    assert not {"nnan", "ninf", "fast"} & set(config.JIT_OPTIONS["fastmath"])


@pytest.mark.parametrize("n_in", [1, 7, 8, 9, 17, 24])
def test_both_layer_paths_agree_for_any_input_width(n_in):
    # The loops take eight inputs per pass, then the rest one by one.
    rng = np.random.default_rng(n_in)
    n_out = 5
    A, params = rng.standard_normal((3, n_in)), rng.standard_normal(n_in * n_out + n_out + 2)
    Z_loops, Z_blas = np.empty((3, n_out)), np.empty((3, n_out))
    kernels._dense(A, params, 2, n_in, n_out, Z_loops, False)
    kernels._dense(A, params, 2, n_in, n_out, Z_blas, True)
    expected = A @ params[2:2 + n_in * n_out].reshape(n_in, n_out) + params[2 + n_in * n_out:]
    assert relative_difference(Z_loops, expected) <= 1e-13
    assert relative_difference(Z_blas, expected) <= 1e-13


def test_forward_into_reports_an_infinite_input_that_the_output_hides():
    spec = NetworkSpec.create([2, 1], "sigmoid")
    layer_sizes, codes, _ = numba_backend.kernel_arguments(spec)
    params = np.array([1.0, 1.0, 0.0])
    Y = np.empty((1, 1))
    assert kernels.forward_into(params, layer_sizes, codes, np.array([[1.0, 2.0]]), Y)
    assert not kernels.forward_into(params, layer_sizes, codes, np.array([[np.inf, 2.0]]), Y)
    assert Y[0, 0] == 1.0  # sigmoid(inf): finite, so the input itself must be tested
    assert not kernels.forward_into(params, layer_sizes, codes, np.array([[np.nan, 2.0]]), Y)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_fast_forward_path_still_refuses_non_finite_inputs(bad):
    net = MLP([3, 4, 1], activation="sigmoid", backend="numba", seed=0)
    for X in (np.array([bad, 0.0, 1.0]), np.array([[0.0, 1.0, 2.0], [bad, 0.0, 1.0]])):
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            net.forward(X)


def test_fast_forward_path_refuses_a_non_finite_output_and_accepts_huge_finite_inputs():
    net = MLP([1, 2, 1], activation="identity", output_activation="identity", backend="numba")
    net.set_params([[[1e300, -1e300]], [[1e10], [1e10]]], [[0.0, 0.0], [0.0]])
    with pytest.raises(ValueError, match="network output is not finite"):
        net.forward(np.array([1e10]))
    with np.errstate(over="raise", invalid="raise"):  # the finiteness tests do not warn
        assert np.isfinite(MLP([2, 1], backend="numpy").forward(np.array([1e300, -1e300]))).all()
        assert np.isfinite(net.forward(np.array([1e-300]))).all()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_checked_kernels_report_non_finite_results_and_keep_the_parameters(dtype):
    spec = NetworkSpec.create([3, 4, 2], "identity", "identity", "mse", dtype)
    layer_sizes, codes, loss_code = numba_backend.kernel_arguments(spec)
    params = np.random.default_rng(0).normal(size=3 * 4 + 4 + 4 * 2 + 2).astype(dtype)
    X, T = np.ones((2, 3), dtype), np.zeros((2, 2), dtype)
    grad = np.empty_like(params)
    workspace = np.empty(2 * kernels.workspace_per_row(spec.layer_sizes), dtype)
    plain = kernels.gradient_into(params, layer_sizes, codes, loss_code, X, T, grad, workspace)
    expected_grad = grad.copy()
    checked = kernels.checked_gradient_into(params, layer_sizes, codes, loss_code, X, T,
                                            grad, workspace)
    assert checked == plain
    np.testing.assert_array_equal(grad, expected_grad)
    stepped = params.copy()
    kernels.train_step(stepped, layer_sizes, codes, loss_code, X, T, 0.1, grad, workspace)
    updated = params.copy()
    assert kernels.checked_train_step(updated, layer_sizes, codes, loss_code, X, T, 0.1,
                                      grad, workspace) == plain
    np.testing.assert_array_equal(updated, stepped)
    # A rate that overflows the dtype in the update, and a NaN target: nothing changes.
    huge = float(np.finfo(dtype).max)
    for rate, targets in ((huge, T), (0.1, np.full_like(T, np.nan))):
        before = params.copy()
        loss = kernels.checked_train_step(before, layer_sizes, codes, loss_code, X, targets,
                                          rate, grad, workspace)
        assert np.isnan(loss)
        np.testing.assert_array_equal(before, params)
    bad = np.full_like(X, np.inf)
    assert np.isnan(kernels.checked_gradient_into(params, layer_sizes, codes, loss_code, bad,
                                                  T, grad, workspace))


ALL_BLAS = [0, 0, 0] * 3
ALL_LOOPS = [2 ** 62, 2 ** 62, 2 ** 62] * 3


@pytest.mark.parametrize("batch", [1, 2, 37])
@pytest.mark.parametrize("sizes", [[5, 3], [20, 16, 8, 3]])
def test_all_blas_and_all_loop_crossovers_agree_on_every_op(batch, sizes):
    import scipy.sparse as sp

    rng = np.random.default_rng(batch)
    spec = NetworkSpec.create(sizes, "silu", "softmax", "cross_entropy")
    layer_sizes, codes, loss_code = numba_backend.kernel_arguments(spec)
    plain_codes = codes[:spec.n_layers]
    params = rng.normal(0, 0.5, parameter_count(sizes))
    X = rng.standard_normal((batch, sizes[0]))
    X[X < 0.3] = 0.0
    T = np.eye(sizes[-1])[rng.integers(0, sizes[-1], batch)]
    weights = rng.random(batch) + 0.1
    csr = sp.csr_matrix(X)
    workspace = np.empty(batch * kernels.workspace_per_row(spec.layer_sizes))

    def every_op(codes):
        results = {"forward": kernels.forward(params, layer_sizes, codes, X),
                   "loss": kernels.loss(params, layer_sizes, codes, loss_code, X, T),
                   "weighted loss": kernels.weighted_loss(params, layer_sizes, codes,
                                                          loss_code, X, T, weights)}
        for name, call in {
            "gradient": lambda grad: kernels.gradient_into(
                params, layer_sizes, codes, loss_code, X, T, grad, workspace),
            "checked gradient": lambda grad: kernels.checked_gradient_into(
                params, layer_sizes, codes, loss_code, X, T, grad, workspace),
            "weighted gradient": lambda grad: kernels.weighted_gradient_into(
                params, layer_sizes, codes, loss_code, X, T, weights, grad, workspace),
            "csr gradient": lambda grad: kernels.csr_gradient_into(
                params, layer_sizes, codes, loss_code, csr.data, csr.indices, csr.indptr,
                X.shape[1], T, weights, grad, workspace),
        }.items():
            grad = np.empty_like(params)
            results[name] = (call(grad), grad)
        stepped = params.copy()
        results["train_step"] = (kernels.checked_train_step(
            stepped, layer_sizes, codes, loss_code, X, T, 0.1, np.empty_like(params),
            workspace), stepped)
        Y = np.empty((batch, sizes[-1]))
        kernels.csr_forward_into(params, layer_sizes, codes, csr.data, csr.indices,
                                 csr.indptr, X.shape[1], Y)
        results["csr forward"] = Y
        return results

    shipped = every_op(plain_codes)
    for crossovers in (ALL_BLAS, ALL_LOOPS):
        tuned = every_op(np.concatenate([plain_codes, np.array(crossovers, np.int64)]))
        for name, expected in shipped.items():
            pairs = zip(tuned[name], expected) if isinstance(expected, tuple) else \
                [(tuned[name], expected)]
            for actual, wanted in pairs:
                assert relative_difference(actual, wanted) <= 1e-12, name


def test_tuned_crossovers_reach_the_kernel_arguments(monkeypatch):
    from fastnn.backends import tuning

    spec = NetworkSpec.create([7, 5, 2], "relu", "sigmoid", "mse")
    assert numba_backend.kernel_arguments(spec)[1].shape == (2,)
    monkeypatch.setattr(tuning, "crossovers", lambda: ((1, 2, 3), (4, 5, 6), (7, 8, 9)))
    tuning.reload()
    try:
        codes = numba_backend.kernel_arguments(spec)[1]
        assert codes.tolist()[2:] == (list(range(1, 10)) + [tuning.shipped_row_block()]
                                      + list(tuning.shipped_external_gemm())
                                      + list(tuning.shipped_external_gradient_gemm()))
        net = MLP.from_spec(spec, np.linspace(-1, 1, 7 * 5 + 5 + 5 * 2 + 2), "numba")
        reference = net.with_backend(REFERENCE)
        X = np.random.default_rng(0).standard_normal((4, 7))
        assert relative_difference(net.forward(X), reference.forward(X)) <= 1e-10
    finally:
        monkeypatch.undo()
        tuning.reload()
    assert numba_backend.kernel_arguments(spec)[1].shape == (2,)


def test_tuned_row_block_reaches_the_kernel_arguments(monkeypatch):
    from fastnn.backends import tuning

    spec = NetworkSpec.create([7, 5, 2], "relu", "sigmoid", "mse")
    monkeypatch.setattr(tuning, "forward_row_block", lambda: 3)
    tuning.reload()
    try:
        codes = numba_backend.kernel_arguments(spec)[1]
        shipped = [value for triple in tuning.shipped_crossovers() for value in triple]
        assert codes.tolist()[2:] == (shipped + [3] + list(tuning.shipped_external_gemm())
                                      + list(tuning.shipped_external_gradient_gemm()))
        net = MLP.from_spec(spec, np.linspace(-1, 1, 7 * 5 + 5 + 5 * 2 + 2), "numba")
        X = np.random.default_rng(0).standard_normal((10, 7))  # blocks of 3, 3, 3, 1 rows
        expected = net.with_backend(REFERENCE).forward(X)
        assert relative_difference(net.forward(X), expected) <= 1e-10
    finally:
        monkeypatch.undo()
        tuning.reload()
    assert numba_backend.kernel_arguments(spec)[1].shape == (2,)


def test_tuned_gradient_onednn_rule_reaches_the_kernel_arguments(monkeypatch):
    from fastnn.backends import tuning

    spec = NetworkSpec.create([7, 5, 2], "relu", "sigmoid", "mse", "float32")
    monkeypatch.setattr(tuning, "external_gradient_gemm", lambda: (0, 0))
    tuning.reload()
    try:
        codes = numba_backend.kernel_arguments(spec)[1]
        shipped = [value for triple in tuning.shipped_crossovers() for value in triple]
        assert codes.tolist()[2:] == (shipped + [tuning.shipped_row_block()]
                                      + list(tuning.shipped_external_gemm()) + [0, 0])
        params = np.linspace(-1, 1, 7 * 5 + 5 + 5 * 2 + 2)
        net = MLP.from_spec(spec, params.astype(np.float32), "numba")
        reference = MLP.from_spec(spec.with_dtype("float64"), params, REFERENCE)
        rng = np.random.default_rng(0)
        X, T = rng.standard_normal((6, 7)), rng.random((6, 2))
        for got, want in zip(net.gradients(X, T)[1:], reference.gradients(X, T)[1:]):
            for actual, expected in zip(got, want):
                assert relative_difference(actual, expected) <= TOLERANCE["float32"]
        net.train_step(X, T, 0.5)
        reference.train_step(X, T, 0.5)
        assert relative_difference(net.flat_parameters, reference.flat_parameters) \
            <= TOLERANCE["float32"]
    finally:
        monkeypatch.undo()
        tuning.reload()
    assert numba_backend.kernel_arguments(spec)[1].shape == (2,)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("rows", [1, 5, 6, 7, 13])
def test_forward_in_row_blocks_matches_whole_batches(dtype, rows):
    """The row-blocked forward (every block size against a batch of ``rows``, the last
    block shorter or not) gives the whole batch's result, also through BLAS, and the
    finiteness flag of the whole batch."""
    sizes = [6, 9, 4, 3]
    layer_sizes = np.array(sizes, dtype=np.int64)
    rng = np.random.default_rng(rows)
    params = rng.standard_normal(sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])))
    params = params.astype(dtype)
    X = rng.standard_normal((rows, sizes[0])).astype(dtype)
    codes = [kernels.ACTIVATION_CODES["tanh"], kernels.ACTIVATION_CODES["sigmoid"],
             kernels.ACTIVATION_CODES["softmax"]]
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    for crossovers in (ALL_BLAS, ALL_LOOPS):
        whole = np.empty((rows, sizes[-1]), dtype=dtype)
        assert kernels.forward_into(params, layer_sizes,
                                    np.array(codes + list(crossovers) + [0], np.int64), X,
                                    whole)
        for block in (1, 2, 4, 5, 12):
            Y = np.full((rows, sizes[-1]), np.nan, dtype=dtype)
            arguments = np.array(codes + list(crossovers) + [block], np.int64)
            assert kernels.forward_into(params, layer_sizes, arguments, X, Y)
            assert relative_difference(Y, whole) <= tolerance, (block, crossovers)
        X_bad = X.copy()
        X_bad[-1, 0] = np.nan
        assert not kernels.forward_into(params, layer_sizes,
                                        np.array(codes + list(crossovers) + [2], np.int64),
                                        X_bad, Y)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_onednn_route_gives_the_blas_result_or_falls_back(dtype):
    """Every product sent to oneDNN by the rule (1 row, 0 weights): the forward pass equals
    np.dot's within float32 rounding where oneDNN is installed, exactly where it is not
    (the stub fails and np.dot runs) and in float64 (never sent)."""
    from fastnn.backends import _external_gemm

    sizes = [20, 16, 8, 3]
    layer_sizes = np.array(sizes, dtype=np.int64)
    rng = np.random.default_rng(3)
    params = rng.standard_normal(sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])))
    params = (params * 0.3).astype(dtype)
    X = rng.standard_normal((37, sizes[0])).astype(dtype)
    codes = [kernels.ACTIVATION_CODES["tanh"]] * 2 + [kernels.ACTIVATION_CODES["identity"]]
    expected = np.empty((37, 3), dtype=dtype)
    assert kernels.forward_into(params, layer_sizes,
                                np.array(codes + ALL_BLAS + [8, 2 ** 62, 2 ** 62], np.int64),
                                X, expected)
    Y = np.full((37, 3), np.nan, dtype=dtype)
    assert kernels.forward_into(params, layer_sizes,
                                np.array(codes + ALL_BLAS + [8, 1, 0], np.int64), X, Y)
    if _external_gemm.AVAILABLE and dtype == "float32":
        assert relative_difference(Y, expected) <= 1e-5
    else:
        assert np.array_equal(Y, expected)


NEVER = 2 ** 62
GRADIENT_OPS = ("gradient", "weighted gradient", "csr gradient", "checked gradient",
                "checked step")


def _gradient_ops(sizes, dtype, gradient_rule, batch=37, seed=5):
    """Every kernel computing a gradient (checked_gradient_step as the backend calls it,
    for gradients and train_step) with the crossovers all BLAS, the forward pass's oneDNN
    rule off and the gradient's ``gradient_rule``: name -> (loss, grad or new params)."""
    import scipy.sparse as sp

    spec = NetworkSpec.create(sizes, "tanh", "softmax", "cross_entropy", dtype)
    layer_sizes, codes, loss_code = numba_backend.kernel_arguments(spec)
    codes = np.array(list(codes[:spec.n_layers]) + ALL_BLAS + [8, NEVER, NEVER]
                     + list(gradient_rule), np.int64)
    rng = np.random.default_rng(seed)
    params = rng.normal(0, 0.4, parameter_count(sizes)).astype(dtype)
    X = rng.standard_normal((batch, sizes[0])).astype(dtype)
    X[X < -0.5] = 0.0
    T = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], batch)]
    weights = (rng.random(batch) + 0.1).astype(dtype)
    csr = sp.csr_matrix(X)
    workspace = np.empty(batch * kernels.workspace_per_row(spec.layer_sizes), dtype)
    results = {}
    for name, call in {
        "gradient": lambda grad, _: kernels.gradient_into(
            params, layer_sizes, codes, loss_code, X, T, grad, workspace),
        "weighted gradient": lambda grad, _: kernels.weighted_gradient_into(
            params, layer_sizes, codes, loss_code, X, T, weights, grad, workspace),
        "csr gradient": lambda grad, _: kernels.csr_gradient_into(
            params, layer_sizes, codes, loss_code, csr.data, csr.indices, csr.indptr,
            X.shape[1], T, weights, grad, workspace),
        "checked gradient": lambda grad, own: kernels.checked_gradient_step(
            own, layer_sizes, codes, loss_code, X, T, 0.1, grad, workspace, False),
        "checked step": lambda grad, own: kernels.checked_gradient_step(
            own, layer_sizes, codes, loss_code, X, T, 0.1, grad, workspace, True),
    }.items():
        grad, own = np.full_like(params, np.nan), params.copy()
        loss = call(grad, own)
        results[name] = (loss, own if name == "checked step" else grad)
    return spec, params, X, T, results


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch", [37, 8])  # 8 rows: the step adds the first layer's
# product to the weights (sgemm with beta = 1), 37: it forms the gradient first
def test_the_gradients_onednn_route_gives_the_blas_result_or_falls_back(dtype, batch):
    """Every gradient product sent to oneDNN (thresholds 0): the gradients and the step
    equal np.dot's within float32 rounding and the reference's within the float32
    contract where oneDNN is installed; exactly np.dot's where it is not (the stub fails
    and np.dot runs) and in float64 (never sent)."""
    from fastnn.backends import _external_gemm

    sizes = [20, 16, 8, 3]
    spec, params, X, T, expected = _gradient_ops(sizes, dtype, (NEVER, NEVER), batch)
    _, _, _, _, routed = _gradient_ops(sizes, dtype, (0, 0), batch)
    _, _, _, _, halves = _gradient_ops(sizes, dtype, (0, NEVER), batch)  # each alone
    _, _, _, _, others = _gradient_ops(sizes, dtype, (NEVER, 0), batch)
    reference = MLP.from_spec(spec.with_dtype("float64"), params.astype(np.float64),
                              REFERENCE)
    ref_loss, ref_dW, ref_db = reference.gradients(X.astype(np.float64),
                                                   T.astype(np.float64))
    ref_grad = np.concatenate([part.ravel() for pair in zip(ref_dW, ref_db)
                               for part in pair])
    for name in GRADIENT_OPS:
        for results in (routed, halves, others):
            loss, values = results[name]
            want_loss, want = expected[name]
            assert not np.isnan(values).any(), name
            if _external_gemm.AVAILABLE and dtype == "float32":
                assert relative_difference(values, want) <= 1e-5, name
                assert loss == want_loss, name  # the forward pass is unchanged
            else:
                assert np.array_equal(values, want) and loss == want_loss, name
    for results in (expected, routed):
        assert relative_difference(results["gradient"][1], ref_grad) <= TOLERANCE[dtype]
        assert relative_difference(results["checked gradient"][1], ref_grad) \
            <= TOLERANCE[dtype]
        assert results["gradient"][0] == pytest.approx(ref_loss, rel=TOLERANCE[dtype])
        stepped = params.astype(np.float64) - 0.1 * ref_grad
        assert relative_difference(results["checked step"][1], stepped) <= TOLERANCE[dtype]


def test_the_gradients_onednn_products_alone_match_np_dot():
    from fastnn.backends import _external_gemm

    rng = np.random.default_rng(6)
    n_in, n_out, m = 33, 17, 9
    params = rng.standard_normal(n_in * n_out + n_out).astype(np.float32)
    A = rng.standard_normal((m, n_in)).astype(np.float32)
    delta = rng.standard_normal((m, n_out)).astype(np.float32)
    grad = np.full_like(params, np.nan)
    done = kernels._external_weight_gradient(A, delta, grad, np.int64(0), n_in, n_out)
    assert done == _external_gemm.AVAILABLE
    previous = np.full((m, n_in), np.nan, dtype=np.float32)
    assert kernels._external_back_delta(params, np.int64(0), n_in, n_out, delta,
                                        previous) == done
    if done:
        expected = np.concatenate([(A.T @ delta).ravel(), delta.sum(axis=0)])
        assert relative_difference(grad, expected) <= 1e-5
        W = params[:n_in * n_out].reshape(n_in, n_out)
        assert relative_difference(previous, delta @ W.T) <= 1e-5
    else:
        assert np.isnan(grad).all() and np.isnan(previous).all()
    as64 = [array.astype(np.float64) for array in (A, delta, grad, params, previous)]
    as64[2][...] = as64[4][...] = np.nan
    assert not kernels._external_weight_gradient(as64[0], as64[1], as64[2], np.int64(0),
                                                 n_in, n_out)
    assert not kernels._external_back_delta(as64[3], np.int64(0), n_in, n_out, as64[1],
                                            as64[4])
    assert np.isnan(as64[2]).all() and np.isnan(as64[4]).all()


def test_without_onednn_the_gradients_route_falls_back_to_np_dot(tmp_path):
    """In a process where the library is absent (``$FASTNN_DNNL_LIBRARY`` names no file),
    the stub fails every call: with every product sent to oneDNN, the gradient and the
    step are bit for bit np.dot's."""
    env = dict(os.environ, FASTNN_DNNL_LIBRARY=str(tmp_path / "none"),
               PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    result = _run("""
        import numpy as np
        from fastnn.backends import _external_gemm
        from test_numba_kernels import GRADIENT_OPS, NEVER, _gradient_ops
        assert not _external_gemm.AVAILABLE
        expected = _gradient_ops([20, 16, 8, 3], "float32", (NEVER, NEVER))[-1]
        routed = _gradient_ops([20, 16, 8, 3], "float32", (0, 0))[-1]
        for name in GRADIENT_OPS:
            assert routed[name][0] == expected[name][0], name
            assert np.array_equal(routed[name][1], expected[name][1]), name
        print("same")
    """, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "same"


def test_the_onednn_product_alone_matches_np_dot():
    from fastnn.backends import _external_gemm

    rng = np.random.default_rng(4)
    params = rng.standard_normal(33 * 17 + 17).astype(np.float32)
    A = rng.standard_normal((9, 33)).astype(np.float32)
    Z = np.full((9, 17), np.nan, dtype=np.float32)
    done = kernels._external_dense(A, params, np.int64(0), 33, 17, Z)
    assert done == _external_gemm.AVAILABLE
    if done:
        expected = A @ params[:33 * 17].reshape(33, 17) + params[33 * 17:]
        assert relative_difference(Z, expected) <= 1e-5
    else:
        assert np.isnan(Z).all()
    assert not kernels._external_dense(A.astype(np.float64), params.astype(np.float64),
                                       np.int64(0), 33, 17, Z.astype(np.float64))
