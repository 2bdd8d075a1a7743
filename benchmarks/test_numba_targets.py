"""Issue 3's performance targets: the ``numba`` backend against ``numpy``, in one run.

    pytest benchmarks/test_numba_targets.py

Every comparison is interleaved (numpy, numba, numba, numpy, ...) in the same process
with BLAS and Numba pinned to the session's thread count (``benchmarks/conftest.py``,
one thread by default; recorded). A point's figure is the median over rounds of the
per-round ratio ``numpy_time / numba_time`` and its interquartile range. Outputs are
checked against the numpy backend before anything is timed, and Numba compiles
outside the timed region (the compile cost is target 5, measured in subprocesses).

The tables go to a new ``reports/numba_targets-<UTC date-time>.md`` and ``.json`` per
run, so a run never replaces the committed ``reports/numba_targets.*``; to refresh those
on purpose, name them: ``FASTNN_TARGETS_REPORT=reports/numba_targets``.
With ``FASTNN_UPDATE_SELECTION_TABLE=1`` the grid also rewrites
``fastnn/backends/fastest_table.json``, the measured table behind
``fastnn.fastest_backend``.
"""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

# Numba's np.dot calls SciPy's BLAS; loading it now puts it under the session's thread
# pinning (threadpoolctl only limits libraries already loaded).
import scipy.linalg.cython_blas  # noqa: F401

from fastnn import MLP
from fastnn.atomic import atomic_write_text
from fastnn.backends import _numba_kernels as kernels
from fastnn.backends import get
from fastnn.backends.numba_backend import kernel_arguments
from fastnn.backends.selection import TABLE_PATH, grid_key
from fastnn.ops import SELECTED_OPS
from fastnn.reproduce.datasets import tutorial_a_digits
from fastnn.testing import relative_difference

ROOT = Path(__file__).resolve().parent.parent
# Where the tables go: an explicit path (replaced), or a new timestamped file per run.
REPORT_ENV = "FASTNN_TARGETS_REPORT"
GRID_SIZES = [(3, 3, 1), (64, 30, 10), (100, 100, 50, 10), (784, 256, 128, 10),
              (1024, 1024, 1024, 10)]
GRID_BATCHES = [1, 32, 256, 2048]
OPS = SELECTED_OPS  # the ops of the table it writes
BACKENDS = ("numpy", "numba")
# Section -> rows of the report, filled by the tests and written at the end.
RESULTS = {}


@pytest.fixture(scope="module", autouse=True)
def report(bench_threads):
    """Collect every measured row; write the Markdown and JSON tables at the end."""
    RESULTS.clear()
    yield RESULTS
    if RESULTS:
        _write_report(dict(RESULTS), bench_threads)


# --- targets 1 and 4: per-call overhead ---------------------------------------------------

def test_target1_single_sample_forward(benchmark, bench_threads):
    nets = {name: MLP([100, 100, 50, 10], activation="sigmoid", backend=name, seed=0)
            for name in BACKENDS}
    x = np.random.default_rng(0).standard_normal(100)
    _check_same(nets["numba"].forward(x), nets["numpy"].forward(x))
    public = _interleaved({name: (lambda net=net: net.forward(x)) for name, net in nets.items()},
                          rounds=41)
    # A writable copy: a read-only array would be a second compiled signature.
    spec, params, X = nets["numba"].spec, np.array(nets["numba"].flat_parameters), x[None]
    layer_sizes, codes, _ = kernel_arguments(spec)
    numpy_backend = get("numpy")
    # The kernel the backend calls, into an output allocated by NumPy (as the backend
    # does; cheaper than returning an array allocated inside the kernel, also recorded).
    n_out = spec.layer_sizes[-1]
    raw = _interleaved({"numpy": lambda: numpy_backend.forward(spec, params, X),
                        "numba": lambda: kernels.forward_into(params, layer_sizes, codes, X,
                                                              np.empty((1, n_out)))},
                       rounds=41)
    allocating = _interleaved({"numpy": lambda: numpy_backend.forward(spec, params, X),
                               "numba": lambda: kernels.forward(params, layer_sizes, codes, X)},
                              rounds=21)
    _record("1 single-sample forward 100-100-50-10", "net.forward(x)", public, target=4.0)
    _record("1 single-sample forward 100-100-50-10", "raw kernel vs numpy backend.forward",
            raw, target=6.0)
    _record("1 single-sample forward 100-100-50-10",
            "raw kernel returning its own array (kernels.forward)", allocating)
    benchmark.extra_info.update(bench_threads, ratio=public["ratio"], raw_ratio=raw["ratio"])
    benchmark(nets["numba"].forward, x)


def test_target4_one_row_training_overhead(benchmark, bench_threads):
    split = tutorial_a_digits(seed=0)
    nets = {name: MLP([64, 30, 10], activation="sigmoid", loss="mse", backend=name,
                      init="uniform01", seed=0) for name in BACKENDS}
    x, t = split.X_train[0], split.T_train[0]
    section = "4 one-row calls 64-30-10 (tutorial A's per-sample step)"
    forward = _interleaved({name: (lambda net=net: net.forward(x)) for name, net in nets.items()},
                           rounds=21)
    _record(section, "forward(x)", forward)
    step = _interleaved({name: (lambda net=net: net.train_step(x, t, 1e-6))
                         for name, net in nets.items()}, rounds=21)
    _record(section, "train_step(x, t)", step)
    benchmark.extra_info.update(bench_threads, ratio=step["ratio"])
    benchmark(nets["numba"].train_step, x, t, 1e-6)


# --- target 2: full-batch digits -------------------------------------------------------------

def test_target2_digits_full_batch_train_step(benchmark, bench_threads):
    split = tutorial_a_digits(seed=0)
    X, T = np.ascontiguousarray(split.X_train), np.ascontiguousarray(split.T_train)
    assert X.shape == (1078, 64)
    nets = {name: MLP([64, 30, 10], activation="sigmoid", loss="mse", backend=name, seed=0)
            for name in BACKENDS}
    _check_same(nets["numba"].gradients(X, T)[1][0], nets["numpy"].gradients(X, T)[1][0])
    # A tiny rate keeps both networks (nearly) where they started, round after round.
    result = _interleaved({name: (lambda net=net: net.train_step(X, T, 1e-9))
                           for name, net in nets.items()}, rounds=31)
    _record("2 full-batch train_step, digits 1078 x 64, 64-30-10", "net.train_step", result,
            target=2.0)
    benchmark.extra_info.update(bench_threads, ratio=result["ratio"])
    benchmark(nets["numba"].train_step, X, T, 1e-9)


# --- target 3: the grid ----------------------------------------------------------------------

@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("batch_size", GRID_BATCHES, ids=lambda batch: f"x{batch}")
@pytest.mark.parametrize("layer_sizes", GRID_SIZES, ids=lambda sizes: "-".join(map(str, sizes)))
def test_target3_grid(benchmark, bench_threads, layer_sizes, batch_size, op):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch_size, layer_sizes[0]))
    T = rng.random((batch_size, layer_sizes[-1]))
    nets = {name: MLP(list(layer_sizes), activation="sigmoid", loss="mse", backend=name, seed=0)
            for name in BACKENDS}
    calls = {name: _op_call(net, op, X, T) for name, net in nets.items()}
    _check_same(_op_result(nets["numba"], op, X, T), _op_result(nets["numpy"], op, X, T))
    multiply_adds = batch_size * sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
    heavy = multiply_adds * (1 if op == "forward" else 3) > 2e8
    result = _interleaved(calls, rounds=3 if heavy else 15, min_seconds=0.0 if heavy else 0.02)
    result["winner"] = "numba" if result["ratio"] >= 1 else "numpy"
    _record("3 grid (sigmoid, mse, float64)",
            f"{'-'.join(map(str, layer_sizes))} x{batch_size} {op}", result, target=1 / 1.1)
    benchmark.extra_info.update(bench_threads, ratio=result["ratio"],
                                ratio_iqr=[result["ratio_q1"], result["ratio_q3"]])
    benchmark.pedantic(calls["numba"], rounds=1 if heavy else 5, iterations=1)


def test_write_selection_table():
    """With FASTNN_UPDATE_SELECTION_TABLE=1, store the grid's winners for fastest_backend."""
    rows = RESULTS.get("3 grid (sigmoid, mse, float64)", [])
    if os.environ.get("FASTNN_UPDATE_SELECTION_TABLE") != "1":
        pytest.skip("set FASTNN_UPDATE_SELECTION_TABLE=1 to rewrite the selection table")
    if len(rows) != len(GRID_SIZES) * len(GRID_BATCHES) * len(OPS):
        pytest.skip("the whole grid must run in this session to rewrite the table")
    table = {}
    for row in rows:
        label, batch, op = row["point"].split(" ")
        sizes = tuple(int(size) for size in label.split("-"))
        table[grid_key(sizes, int(batch[1:]), op)] = {
            "winner": row["winner"], "numpy_over_numba": round(row["ratio"], 3)}
    text = json.dumps({"measured_by": "benchmarks/test_numba_targets.py", "table": table},
                      indent=1, sort_keys=True)
    atomic_write_text(TABLE_PATH, text + "\n")


# --- target 5: compile cost ------------------------------------------------------------------

COMPILE_SCRIPT = """
import json, sys, time
start = time.perf_counter()
import numpy as np
from fastnn import MLP
from fastnn.backends import get
from fastnn.spec import NetworkSpec
backend = get("numba")
timings = {"import_s": time.perf_counter() - start}
for dtype in ("float64", "float32"):
    began = time.perf_counter()
    backend.prepare(NetworkSpec.create([2, 2], dtype=dtype))
    timings["prepare_" + dtype + "_s"] = time.perf_counter() - began
began = time.perf_counter()
MLP([100, 100, 50, 10], backend="numba", seed=0).forward(np.ones(100))
timings["first_forward_s"] = time.perf_counter() - began
timings["total_s"] = time.perf_counter() - start
print(json.dumps(timings))
"""


def test_target5_compile_cost(tmp_path, bench_threads):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba_cache"),
               PYTHONPATH=str(ROOT), FASTNN_NUMBA_CACHE="1")
    cold = _run_timed(env)
    warm = _run_timed(env)
    section = "5 compile cost (subprocess, seconds; fresh NUMBA_CACHE_DIR, then warm)"
    for name, timings in (("cold", cold), ("warm", warm)):
        RESULTS.setdefault(section, []).append({"point": name, **timings})
    assert warm["total_s"] < cold["total_s"]


def _run_timed(env):
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(COMPILE_SCRIPT)], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- the BLAS / loop crossover behind _numba_kernels.BLAS_CROSSOVER --------------------------

CROSSOVER_SHAPES = [(1, 64, 30), (1, 100, 50), (1, 256, 128), (4, 64, 30), (4, 256, 128),
                    (32, 10, 10), (32, 64, 30), (256, 3, 3), (256, 64, 30)]


@pytest.mark.parametrize("rows,n_in,n_out", CROSSOVER_SHAPES)
def test_blas_crossover(bench_threads, rows, n_in, n_out):
    rng = np.random.default_rng(0)
    params = rng.standard_normal(n_in * n_out + n_out)
    A, delta = rng.standard_normal((rows, n_in)), rng.standard_normal((rows, n_out))
    Z, grad, previous = np.zeros((rows, n_out)), np.zeros_like(params), np.zeros((rows, n_in))
    products = {  # name -> (call, the array it writes)
        "forward layer": (lambda blas: kernels._dense(A, params, 0, n_in, n_out, Z, blas), Z),
        "weight gradient": (lambda blas: kernels._weight_gradient(
            A, delta, grad, 0, n_in, n_out, blas), grad),
        "back delta": (lambda blas: kernels._back_delta(
            params, 0, n_in, n_out, delta, previous, blas), previous),
    }
    for product, (call, output) in products.items():
        results = []
        for blas in (False, True):
            call(blas)
            results.append(output.copy())
        assert relative_difference(*results) <= 1e-12
        result = _interleaved({"numpy": lambda call=call: call(False),
                               "numba": lambda call=call: call(True)}, rounds=9,
                              min_seconds=0.005)
        _record("BLAS crossover (ratio = loop time / BLAS time; > 1: BLAS faster)",
                f"{product} rows={rows} {n_in}x{n_out}", result)


# --- helpers ----------------------------------------------------------------------------------

def _op_call(net, op, X, T):
    if op == "forward":
        return lambda: net.forward(X)
    if op == "gradients":
        return lambda: net.gradients(X, T)
    # A tiny rate keeps the parameters (nearly) fixed across rounds.
    return lambda: net.train_step(X, T, 1e-9)


def _op_result(net, op, X, T):
    if op == "forward":
        return net.forward(X)
    return np.concatenate([W.ravel() for W in net.gradients(X, T)[1]])


def _check_same(actual, expected):
    assert relative_difference(actual, expected) <= 1e-10


def _calibrate(call, min_seconds):
    """Calls per round so that one round of ``call`` takes about ``min_seconds``."""
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            call()
        if time.perf_counter() - start >= min_seconds or number >= 1 << 20:
            return number
        number *= 4


def _interleaved(calls, rounds, min_seconds=0.02):
    """Time ``calls['numpy']`` and ``calls['numba']`` in alternating order, round by round.

    Returns
    -------
    dict
        Median per-call seconds of each, and the median and quartiles of the per-round
        ratio numpy / numba.
    """
    for call in calls.values():
        call()
    number = _calibrate(calls["numpy"], min_seconds)
    times = {name: [] for name in calls}
    for round_index in range(rounds):
        order = ("numpy", "numba") if round_index % 2 == 0 else ("numba", "numpy")
        for name in order:
            call = calls[name]
            start = time.perf_counter()
            for _ in range(number):
                call()
            times[name].append((time.perf_counter() - start) / number)
    ratios = np.array(times["numpy"]) / np.array(times["numba"])
    q1, median, q3 = np.percentile(ratios, [25, 50, 75])
    return {"numpy_s": float(np.median(times["numpy"])),
            "numba_s": float(np.median(times["numba"])),
            "ratio": float(median), "ratio_q1": float(q1), "ratio_q3": float(q3),
            "rounds": rounds, "calls_per_round": number}


def _record(section, point, result, target=None):
    row = {"point": point, **(result or {})}
    if target is not None:
        row["target"] = target
        row["met"] = bool(result["ratio"] >= target)
    RESULTS.setdefault(section, []).append(row)


def _write_report(results, threads):
    lines = ["# numba backend: issue 3 targets", "",
             f"Threads: {threads}. Ratio = numpy time / numba time (higher: numba faster); "
             "median over interleaved rounds, [IQR].",
             f"Reproduce: `{REPORT_ENV}=reports/numba_targets "
             "pytest benchmarks/test_numba_targets.py`", ""]
    for section, rows in results.items():
        lines += [f"## {section}", ""]
        if section.startswith("5 "):
            lines += ["| run | import | prepare float64 | prepare float32 | first forward "
                      "| total |", "|---|---|---|---|---|---|"]
            lines += [f"| {row['point']} | {row['import_s']:.2f} | "
                      f"{row['prepare_float64_s']:.2f} | {row['prepare_float32_s']:.2f} | "
                      f"{row['first_forward_s']:.3f} | {row['total_s']:.2f} |" for row in rows]
        else:
            lines += ["| point | numpy | numba | ratio [IQR] | target | met |",
                      "|---|---|---|---|---|---|"]
            lines += [f"| {row['point']} | {_seconds(row['numpy_s'])} | "
                      f"{_seconds(row['numba_s'])} | {row['ratio']:.2f} "
                      f"[{row['ratio_q1']:.2f}, {row['ratio_q3']:.2f}] | "
                      f"{_target(row)} | {_met(row)} |" for row in rows]
        lines.append("")
    report, explicit = _report_stem()
    report.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(report.with_suffix(".md"), "\n".join(lines), overwrite=explicit)
    atomic_write_text(report.with_suffix(".json"),
                      json.dumps({"threads": threads, "sections": results}, indent=1),
                      overwrite=explicit)


def _report_stem():
    """The report's path without suffix, and whether the caller named it (may replace it)."""
    chosen = os.environ.get(REPORT_ENV)
    if chosen:
        return Path(chosen), True
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return ROOT / "reports" / f"numba_targets-{stamp}", False


def _seconds(value):
    return f"{value * 1e6:.1f} us" if value < 1e-3 else f"{value * 1e3:.2f} ms"


def _target(row):
    target = row.get("target")
    if target is None:
        return ""
    return f">= {target:.2f}" if target >= 1 else ">= 0.91 (at most 10% slower)"


def _met(row):
    return {True: "yes", False: "NO"}.get(row.get("met"), "")
