"""The layer products of the peer race through every GEMM on offer, one thread, interleaved.

Each option's row-major ``C = A @ B`` is called ``reps`` times from a Numba loop (no Python
between calls, as the kernels call it), for the forward product ``(m x n_in) @ (n_in x n_out)``
of every layer of the race's networks and batches (``--products`` adds the gradient's two:
``A.T @ delta`` and ``delta @ W.T``). Options, each skipped with a note if not installed:

``numba-dot``     ``np.dot`` inside Numba: SciPy's OpenBLAS (what the kernels call today)
``numpy-dot``     NumPy's OpenBLAS through ``cblas_sgemm`` (its own build, ILP64)
``openblas32``    the ``scipy-openblas32`` wheel's OpenBLAS (``cblas_sgemm``), if installed
``blis``          cython-blis (``blis.cy.sgemm`` / ``dgemm``, a Cython C function)
``mkl``           ``libmkl_rt`` from the ``mkl`` wheel (``cblas_sgemm``)
``onednn``        ``dnnl_sgemm`` from the ``onednn`` wheel (float32 only; needs
                  ``LD_LIBRARY_PATH=$VIRTUAL_ENV/lib`` for its Intel runtime libraries)
``onednn-gomp``   ``dnnl_sgemm`` from the library file named by ``$DNNL_GOMP_LIB`` (e.g.
                  the ``onednn-cpu-gomp`` wheel's ``libdnnl.so.3.2``), if set
``loops``         fastnn's own fused loops (:func:`_dense` with ``use_blas=False``, bias included)
``torch`` / ``ort``  references from Python (``torch.mm(out=)``, an ONNX Runtime MatMul
                  session): their per-call Python cost is included and printed apart.

Rounds alternate the options (one timing of each per round, in a shuffled order); the table
is medians with quartiles, GFLOP/s and the fraction of the best large-GEMM rate measured here
(``--peak-n``, the 1-thread peak). One command::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \\
    PYTHONPATH=$PWD nice -n 5 python benchmarks/gemm_options.py --dtypes float32,float64 \\
        --json /tmp/gemm_options.json
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import glob
import json
import os
import random
import sys
import time

import numba
import numpy as np
from numba.extending import get_cython_function_address

NETWORKS = ((64, 30, 10), (100, 100, 50, 10), (784, 256, 128, 10))
BATCHES = (32, 256, 1024)
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112

c_int, c_int64, c_char = ctypes.c_int, ctypes.c_int64, ctypes.c_uint8
c_void_p = ctypes.c_void_p


def _cblas(address, dtype, index):
    real = ctypes.c_float if dtype == "float32" else ctypes.c_double
    return ctypes.CFUNCTYPE(None, c_int, c_int, c_int, index, index, index, real, c_void_p,
                            index, c_void_p, index, real, c_void_p, index)(address)


def _library(pattern):
    for path in sorted(glob.glob(pattern)):
        return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    return None


def _address(lib, name):
    return ctypes.cast(getattr(lib, name), c_void_p).value


def _dnnl_sgemm(lib):
    return ("dnnl", ctypes.CFUNCTYPE(
        c_int, c_char, c_char, c_int64, c_int64, c_int64, ctypes.c_float, c_void_p,
        c_int64, c_void_p, c_int64, ctypes.c_float, c_void_p, c_int64)(
        _address(lib, "dnnl_sgemm")))


DNNL_GOMP = os.environ.get("DNNL_GOMP_LIB", "")


def gemm_options(dtype):
    """name -> (kind, callable) for ``dtype``; kind is 'cblas32', 'cblas64', 'blis',
    'dnnl', 'numba-dot', 'loops' or 'python'."""
    site = os.path.dirname(os.path.dirname(np.__file__))
    prefix = "s" if dtype == "float32" else "d"
    options, notes = {}, {}
    options["numba-dot"] = ("numba-dot", None)
    lib = _library(os.path.join(site, "numpy.libs", "libscipy_openblas64_*.so"))
    if lib is not None:
        options["numpy-dot"] = ("cblas", _cblas(
            _address(lib, f"scipy_cblas_{prefix}gemm64_"), dtype, c_int64))
    try:
        import scipy_openblas32
        lib = ctypes.CDLL(os.path.join(scipy_openblas32.get_lib_dir(),
                                       "libscipy_openblas.so"), mode=ctypes.RTLD_GLOBAL)
        ctypes.CFUNCTYPE(None, c_int)(_address(lib, "scipy_openblas_set_num_threads"))(1)
        options["openblas32"] = ("cblas", _cblas(
            _address(lib, f"scipy_cblas_{prefix}gemm"), dtype, c_int))
    except (ImportError, OSError, AttributeError) as exc:
        notes["openblas32"] = str(exc)
    try:
        import blis.cy  # noqa: F401
        real = ctypes.c_float if dtype == "float32" else ctypes.c_double
        address = get_cython_function_address("blis.cy", f"{prefix}gemm")
        options["blis"] = ("blis", ctypes.CFUNCTYPE(
            None, c_int, c_int, c_int, c_int, c_int, real, c_void_p, c_int, c_void_p, c_int,
            real, c_void_p, c_int)(address))
    except (ImportError, ValueError) as exc:
        notes["blis"] = str(exc)
    venv_lib = os.path.join(sys.prefix, "lib")
    lib = _library(os.path.join(venv_lib, "libmkl_rt.so*"))
    if lib is not None:
        options["mkl"] = ("cblas", _cblas(_address(lib, f"cblas_{prefix}gemm"), dtype, c_int))
    else:
        notes["mkl"] = "libmkl_rt not found"
    if dtype == "float32":
        try:
            for dependency in ("libintlc.so.5", "libimf.so", "libsvml.so", "libirng.so",
                               "libtbb.so.12", "libsycl.so.9"):
                _library(os.path.join(venv_lib, dependency))
            lib = _library(os.path.join(venv_lib, "libdnnl.so.3"))
            if lib is None:
                raise OSError("libdnnl not found")
            options["onednn"] = _dnnl_sgemm(lib)
        except OSError as exc:
            notes["onednn"] = str(exc)
        if DNNL_GOMP:  # a second oneDNN build (onednn-cpu-gomp), loaded privately
            options["onednn-gomp"] = _dnnl_sgemm(ctypes.CDLL(DNNL_GOMP,
                                                             mode=ctypes.RTLD_LOCAL))
    options["loops"] = ("loops", None)
    try:
        import torch
        torch.set_num_threads(1)
        options["torch"] = ("python", "torch")
    except ImportError:
        notes["torch"] = "not installed"
    try:
        import onnxruntime  # noqa: F401
        options["ort"] = ("python", "ort")
    except ImportError:
        notes["ort"] = "not installed"
    return options, notes


# --- the timed loops: one compiled loop per calling convention --------------------------

def _loop_cblas(fn):
    @numba.njit
    def run(A, B, C, m, k, n, ta, tb, lda, ldb, reps):
        one = A.dtype.type(1.0)
        zero = A.dtype.type(0.0)
        for _ in range(reps):
            fn(ROW_MAJOR, ta, tb, m, n, k, one, A.ctypes.data, lda, B.ctypes.data, ldb, zero,
               C.ctypes.data, n)
    return run


def _loop_blis(fn):
    @numba.njit
    def run(A, B, C, m, k, n, ta, tb, lda, ldb, reps):
        one = A.dtype.type(1.0)
        zero = A.dtype.type(0.0)
        for _ in range(reps):
            fn(ta == TRANS, tb == TRANS, m, n, k, one, A.ctypes.data, lda, B.ctypes.data, ldb,
               zero, C.ctypes.data, n)
    return run


def _loop_dnnl(fn):
    T, N = np.uint8(ord("T")), np.uint8(ord("N"))

    @numba.njit
    def run(A, B, C, m, k, n, ta, tb, lda, ldb, reps):
        for _ in range(reps):
            fn(T if ta == TRANS else N, T if tb == TRANS else N, m, n, k, np.float32(1.0),
               A.ctypes.data, lda, B.ctypes.data, ldb, np.float32(0.0), C.ctypes.data, n)
    return run


@numba.njit
def _loop_numba_dot(A, B, C, m, k, n, ta, tb, lda, ldb, reps):
    for _ in range(reps):
        if ta == TRANS:
            np.dot(A.T, B, C)
        elif tb == TRANS:
            np.dot(A, B.T, C)
        else:
            np.dot(A, B, C)


def _loop_fastnn(product):
    from fastnn.backends import _numba_kernels as kernels

    @numba.njit
    def run(A, B, C, params, start, m, k, n, reps):
        for _ in range(reps):
            kernels._dense(A, params, start, k, n, C, False)
    return run


def _operands(product, m, n_in, n_out, dtype, rng):
    """A, B, C and (M, K, N, transA, transB, lda, ldb) of one layer's product."""
    def random(*shape):
        return rng.standard_normal(shape).astype(dtype)
    if product == "forward":      # (m x n_in) @ (n_in x n_out)
        A, B = random(m, n_in), random(n_in, n_out)
        return A, B, np.empty((m, n_out), dtype), (m, n_in, n_out, NO_TRANS, NO_TRANS,
                                                     n_in, n_out)
    if product == "weight_gradient":   # A_prev.T @ delta: (n_in x m) @ (m x n_out)
        A, B = random(m, n_in), random(m, n_out)
        return A, B, np.empty((n_in, n_out), dtype), (n_in, m, n_out, TRANS, NO_TRANS,
                                                        n_in, n_out)
    # back delta: delta @ W.T: (m x n_out) @ (n_out x n_in), W stored (n_in x n_out)
    A, B = random(m, n_out), random(n_in, n_out)
    return A, B, np.empty((m, n_in), dtype), (m, n_out, n_in, NO_TRANS, TRANS, n_out, n_out)


def _python_call(name, A, B, C, ta, tb):
    if name == "torch":
        import torch
        tA, tB, tC = torch.from_numpy(A), torch.from_numpy(B), torch.from_numpy(C)
        if ta == TRANS:
            tA = tA.T
        if tb == TRANS:
            tB = tB.T
        return lambda: torch.mm(tA, tB, out=tC)
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper
    elem = TensorProto.FLOAT if A.dtype == np.float32 else TensorProto.DOUBLE
    nodes = [helper.make_node("Gemm", ["A", "B"], ["C"], transA=int(ta == TRANS),
                              transB=int(tb == TRANS))]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("A", elem, list(A.shape))],
        [helper.make_tensor_value_info("C", elem, list(C.shape))],
        [onnx.numpy_helper.from_array(B, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    feed = {"A": A}
    return lambda: session.run(["C"], feed)


def _runner(name, kind, fn, product, A, B, C, dims):
    """A function ``reps -> seconds`` for one option on one product."""
    m, k, n, ta, tb, lda, ldb = dims
    if kind == "python":
        call = _python_call(fn, A, B, C, ta, tb)

        def timed(reps):
            start = time.perf_counter()
            for _ in range(reps):
                call()
            return time.perf_counter() - start
        return timed
    if kind == "loops":
        if product != "forward":
            return None
        params = np.concatenate([B.ravel(), np.zeros(n, A.dtype)])
        loop = _cached_loop("loops", _loop_fastnn, 0)

        def timed(reps):
            start = time.perf_counter()
            loop(A, B, C, params, np.int64(0), m, k, n, reps)
            return time.perf_counter() - start
        return timed
    loop = {"cblas": _loop_cblas, "blis": _loop_blis, "dnnl": _loop_dnnl}.get(kind)
    loop = _loop_numba_dot if kind == "numba-dot" else _cached_loop(name, loop, fn)

    def timed(reps):
        start = time.perf_counter()
        loop(A, B, C, m, k, n, ta, tb, lda, ldb, reps)
        return time.perf_counter() - start
    return timed


_LOOPS = {}


def _cached_loop(name, make, fn):
    key = (name, id(fn))
    if key not in _LOOPS:
        _LOOPS[key] = make(fn)
    return _LOOPS[key]


def _check(name, kind, fn, product, A, B, C, dims):
    """The option's C against NumPy's, within the dtype's tolerance (raises if not)."""
    m, k, n, ta, tb, *_ = dims
    expect = (A.T if ta == TRANS else A) @ (B.T if tb == TRANS else B)
    runner = _runner(name, kind, fn, product, A, B, C, dims)
    if runner is None:
        return None
    C[...] = np.nan
    runner(1)
    if kind == "python" and fn == "ort":
        return runner
    tol = 1e-4 if A.dtype == np.float32 else 1e-10
    if not np.allclose(C, expect, rtol=tol, atol=tol * np.abs(expect).max()):
        raise AssertionError(f"{name} gives a wrong product for {dims}")
    return runner


def measure(shapes, dtype, rounds, target, seed, only=None):
    options, notes = gemm_options(dtype)
    if only:
        options = {name: option for name, option in options.items() if name in only}
    rng = np.random.default_rng(seed)
    rows = []
    for product, m, n_in, n_out in shapes:
        A, B, C, dims = _operands(product, m, n_in, n_out, dtype, rng)
        runners = {}
        for name, (kind, fn) in options.items():
            runner = _check(name, kind, fn, product, A, B, C.copy(), dims)
            if runner is not None:
                runners[name] = runner
        flops = 2.0 * m * n_in * n_out
        reps = {}
        for name, runner in runners.items():
            runner(3)
            count = 1
            while runner(count) < target and count < 1 << 22:
                count *= 2
            reps[name] = count
        times = {name: [] for name in runners}
        names = list(runners)
        for _ in range(rounds):
            random.shuffle(names)
            for name in names:
                times[name].append(runners[name](reps[name]) / reps[name])
        for name, values in times.items():
            q1, median, q3 = np.percentile(values, [25, 50, 75])
            rows.append(dict(product=product, m=m, n_in=n_in, n_out=n_out, dtype=dtype,
                             option=name, us=median * 1e6, q1_us=q1 * 1e6, q3_us=q3 * 1e6,
                             gflops=flops / median / 1e9))
    return rows, notes


def python_overhead(rounds=7):
    """Per-call cost of the Python references on a 1x1 product (subtract mentally)."""
    out = {}
    for name in ("torch", "ort"):
        try:
            A = np.ones((1, 1), np.float32)
            call = _python_call(name, A, A.copy(), np.empty((1, 1), np.float32), NO_TRANS,
                                NO_TRANS)
        except ImportError:
            continue
        values = []
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(2000):
                call()
            values.append((time.perf_counter() - start) / 2000 * 1e6)
        out[name] = float(np.median(values))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)))
    parser.add_argument("--products", default="forward",
                        help="comma list of forward, weight_gradient, back_delta")
    parser.add_argument("--options", default="", help="comma list; default all installed")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--target", type=float, default=0.004, help="seconds per timing")
    parser.add_argument("--peak-n", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    only = set(filter(None, args.options.split(",")))
    results = {"rows": [], "peaks": {}, "notes": {}, "python_overhead_us": python_overhead()}
    for dtype in args.dtypes.split(","):
        peak_rows, notes = measure([("forward", args.peak_n, args.peak_n, args.peak_n)], dtype,
                                   3, 0.05, args.seed,
                                   only={"numba-dot", "openblas32", "blis", "mkl", "onednn",
                                         "onednn-gomp"})
        results["peaks"][dtype] = {row["option"]: row["gflops"] for row in peak_rows}
        results["notes"][dtype] = notes
        shapes = [(product, m, n_in, n_out)
                  for product in args.products.split(",")
                  for sizes in NETWORKS for m in map(int, args.batches.split(","))
                  for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        rows, _ = measure(shapes, dtype, args.rounds, args.target, args.seed, only)
        results["rows"].extend(rows)
        _print(dtype, rows, results["peaks"][dtype])
    print("python per-call overhead (us, 1x1):", results["python_overhead_us"])
    print("notes:", results["notes"])
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)


def _print(dtype, rows, peaks):
    peak = max(peaks.values())
    print(f"\n{dtype}: 1-thread peak {peak:.1f} GFLOP/s "
          f"({', '.join(f'{k} {v:.1f}' for k, v in sorted(peaks.items()))}); "
          "cells: GFLOP/s (fraction of peak) [q1-q3 us]")
    options = list(dict.fromkeys(row["option"] for row in rows))
    print(f"{'product':<26}" + "".join(f"{name:>20}" for name in options))
    shapes = list(dict.fromkeys((r["product"], r["m"], r["n_in"], r["n_out"]) for r in rows))
    for shape in shapes:
        cells = {r["option"]: r for r in rows
                 if (r["product"], r["m"], r["n_in"], r["n_out"]) == shape}
        label = f"{shape[0][:4]} {shape[1]}x{shape[2]}x{shape[3]}"
        line = f"{label:<26}"
        best = max(cells[name]["gflops"] for name in cells if name not in ("torch", "ort"))
        for name in options:
            row = cells.get(name)
            if row is None:
                line += f"{'-':>20}"
                continue
            mark = "*" if row["gflops"] == best else " "
            line += f"{row['gflops']:>10.1f} ({row['gflops'] / peak:.2f}){mark:<3}"
        print(line)


if __name__ == "__main__":
    main()
