"""The block-parallel path of the ``numba_parallel`` backend.

The cross-checks of every backend (tests/test_crosscheck.py and the others) use small
batches, which this backend runs through the serial kernels; here the batches span
several blocks (with a ragged last one), at 1 and 2 Numba threads: the same numbers as
the ``numba`` backend within the cross-check tolerances, and bit for bit the same at
every thread count.
"""

import numba  # a required dependency: missing, the run fails here (never a skip)
import numpy as np
import pytest
from conftest import COMBINATIONS as EVERY_COMBINATION

from fastnn import MLP, backends
from fastnn.backends import _numba_parallel_kernels as kernels
from fastnn.config import pinned_threads
from fastnn.params import flatten
from fastnn.testing import TOLERANCE, random_case, relative_difference

BLOCK = kernels.BLOCK_ROWS
# Two full blocks and a ragged one; exactly three blocks; the largest serial batch.
BATCHES = [2 * BLOCK + 37, 3 * BLOCK, 2 * BLOCK - 1]
# A few (hidden, output, loss) triples: the kernels take them as run-time codes, so
# these exercise the block logic; tests/test_crosscheck.py covers every pair.
COMBINATIONS = [("tanh", "softmax", "cross_entropy"), ("relu", "sigmoid", "mse"),
                ("silu", "exp", "poisson"), ("elu", "sigmoid", "binary_cross_entropy")]
THREADS = sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)})


def _case(index, combination, batch, dtype, seed=7000, max_depth=3, max_width=24):
    rng = np.random.default_rng(seed + index)
    spec, params, _, _ = random_case(rng, *combination, max_depth=max_depth,
                                     max_width=max_width)
    spec = type(spec).create(spec.layer_sizes, spec.activation, spec.output_activation,
                             spec.loss, dtype)
    X = rng.standard_normal((batch, spec.layer_sizes[0])).astype(dtype)
    T = rng.random((batch, spec.layer_sizes[-1])).astype(dtype)
    return spec, params.astype(dtype), X, T


def _results(spec, params, X, T, backend):
    net = MLP.from_spec(spec, params.copy(), backend)
    _, dweights, dbiases = net.gradients(X, T)
    gradients = flatten(dweights, dbiases)
    rate = 0.01 / max(float(np.max(np.abs(gradients))), 1.0)
    return {"forward": net.forward(X), "loss": net.loss(X, T), "gradients": gradients,
            "step_loss": net.train_step(X, T, rate), "params_after_step": net.flat_parameters}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("index,combination", list(enumerate(COMBINATIONS)))
def test_blocks_match_numba_at_every_thread_count(index, combination, batch, dtype):
    spec, params, X, T = _case(index, combination, batch, dtype)
    expected = _results(spec, params, X, T, "numba")
    per_thread_count = []
    for threads in THREADS:
        with pinned_threads(threads):
            per_thread_count.append(_results(spec, params, X, T, "numba_parallel"))
    for key, value in expected.items():
        difference = relative_difference(per_thread_count[0][key], value)
        assert difference <= TOLERANCE[dtype], f"{key} differs from numba by {difference:.3g}"
        for other in per_thread_count[1:]:
            assert np.array_equal(other[key], per_thread_count[0][key]), (
                f"{key} depends on the thread count")


# Three full blocks and a ragged fourth: past serial_below_rows, so the block kernels run.
PAIR_BATCH = 3 * BLOCK + 17
LOSS_NAMES = sorted({loss for _, _, loss in EVERY_COMBINATION})


@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_every_activation_loss_pair_in_the_block_kernels_matches_numpy(loss, dtype="float64"):
    """Every (hidden, output, loss) triple through the parallel block kernels, against
    the NumPy backend (its own code, cross-checked against the reference in
    tests/test_crosscheck.py): small widths keep it cheap, the batch spans several
    blocks with a ragged last one. (tests/test_crosscheck.py's batches are under
    serial_below_rows, where numba_parallel runs numba's serial kernels.) float64 only,
    to stay cheap: the float32 blocks are checked on four triples above."""
    assert PAIR_BATCH >= backends.get("numba_parallel").serial_below_rows
    failures, checked = [], 0
    for index, combination in enumerate(EVERY_COMBINATION):
        if combination[2] != loss:
            continue
        spec, params, X, T = _case(index, combination, PAIR_BATCH, dtype, seed=9100,
                                   max_depth=2, max_width=5)
        expected = _results(spec, params, X, T, "numpy")
        # One thread: the same block kernels (bit for bit at every thread count, tested
        # above), without the wake-up cost of a thread pool per call.
        with pinned_threads(1):
            actual = _results(spec, params, X, T, "numba_parallel")
        for key, value in expected.items():
            difference = relative_difference(actual[key], value)
            if not difference <= TOLERANCE[dtype]:
                failures.append(f"{combination} {key}: {difference:.3g}")
        checked += 1
    assert checked == len(EVERY_COMBINATION) // len(LOSS_NAMES)
    assert not failures, failures


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_below_two_blocks_is_the_numba_backend_exactly(dtype):
    spec, params, X, T = _case(0, COMBINATIONS[0], 2 * BLOCK - 1, dtype)
    expected = _results(spec, params, X, T, "numba")
    actual = _results(spec, params, X, T, "numba_parallel")
    for key, value in expected.items():
        assert np.array_equal(actual[key], value), key


@pytest.mark.parametrize("where", ["X", "T"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_non_finite_input_in_a_late_block_raises_and_keeps_params(where, dtype):
    spec, params, X, T = _case(1, COMBINATIONS[1], 3 * BLOCK + 5, dtype)
    (X if where == "X" else T)[-2, 0] = np.nan
    net = MLP.from_spec(spec, params.copy(), "numba_parallel")
    calls = [lambda: net.loss(X, T), lambda: net.gradients(X, T),
             lambda: net.train_step(X, T, 0.1)]
    if where == "X":
        calls.append(lambda: net.forward(X))
    for call in calls:
        with pytest.raises(ValueError):
            call()
    assert np.array_equal(net.flat_parameters, params)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_overflowing_step_is_all_or_nothing(dtype):
    # A rate that overflows the dtype in the update: the step is refused whole.
    spec, params, X, T = _case(1, COMBINATIONS[1], 2 * BLOCK + 3, dtype)
    T *= 100  # an mse gradient above 1
    net = MLP.from_spec(spec, params.copy(), "numba_parallel")
    with pytest.raises(ValueError, match="not finite"):
        net.train_step(X, T, float(np.finfo(dtype).max))
    assert np.array_equal(net.flat_parameters, params)


def test_checked_kernels_return_nan_and_leave_params():
    spec, params, X, T = _case(2, COMBINATIONS[2], 2 * BLOCK + 9, "float64")
    X[BLOCK + 3, 0] = np.inf
    bound = backends.get("numba_parallel").bind(spec, params)
    grad_loss, _ = bound.gradients(X, T)
    before = params.copy()
    step_loss = bound.train_step(X, T, 0.1)
    assert np.isnan(grad_loss) and np.isnan(step_loss)
    assert np.array_equal(params, before)


def test_registered_with_its_capabilities():
    backend = backends.get("numba_parallel")
    assert "numba_parallel" in backends.available_backends()
    assert backend.dtypes == ("float64", "float32")
    assert backend.compiles and backend.runs_epochs and not backend.is_reference
    assert str(BLOCK) in backend.description


def test_bench_report_shows_thread_scaling():
    # Target 6: `fastnn bench --threads 1,2` reports each backend's scaling.
    import pandas as pd

    from fastnn.bench.report.document import report_markdown

    rows = [{"backend": backend, "level": "mlp", "layer_sizes": "3-3-1", "n_params": 16,
             "batch_size": 1024, "op": "forward", "dtype": "float64", "blas_threads": threads,
             "numba_threads": threads, "status": "ok", "median_s": median, "iqr_s": 0.0,
             "unstable": False, "gflops": 1.0}
            for backend, threads, median in [("numba", 1, 4e-3), ("numba", 2, 4e-3),
                                             ("numba_parallel", 1, 4e-3),
                                             ("numba_parallel", 2, 2.5e-3)]]
    text = report_markdown(pd.DataFrame(rows), {})
    assert "## Thread scaling" in text
    assert "| numba, 1 / 2 threads | numba_parallel, 1 / 2 threads |" in text
    assert "| forward | 3-3-1 | 1024 | 1× | 1.6× |" in text
    one_count = report_markdown(pd.DataFrame([row for row in rows
                                              if row["blas_threads"] == 1]), {})
    assert "## Thread scaling" not in one_count


def test_default_sweeps_time_it_only_where_its_blocks_run():
    from fastnn.bench.measure import backend_table
    from fastnn.bench.measure.sweep import SweepConfig

    rows = backends.get("numba_parallel").serial_below_rows
    assert "numba_parallel" not in SweepConfig(batch_sizes=(1, rows - 1)).backend_names()
    assert "numba_parallel" in SweepConfig(batch_sizes=(1, rows)).backend_names()
    assert "numba_parallel" in SweepConfig(batch_sizes=(1,),
                                           backends=("numba_parallel",)).backend_names()
    assert "numba_parallel" not in backend_table.candidates()
    assert "numba" in backend_table.candidates()
