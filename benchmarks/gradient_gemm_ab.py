"""The gradient's float32 products through np.dot (OpenBLAS) and oneDNN, interleaved.

Times fastnn's own product helpers, as the Numba kernels call them (bias sums included):
the weight gradient ``A_prev.T @ delta`` ((n_in x m) @ (m x n_out), a TN product) through
``_weight_gradient`` (np.dot on the transposed view) and ``_external_weight_gradient``
(oneDNN's sgemm with ``transa``), plus oneDNN on a transposed copy of ``A_prev`` (the
``onednn-copy`` option: is reading the operand transposed in place worth it?); and the
back-propagated delta ``delta @ W.T`` ((m x n_out) @ (n_out x n_in), NT) through
``_back_delta`` and ``_external_back_delta`` (``transb``). Rounds alternate the options in
a shuffled order; the table is medians with quartiles, GFLOP/s and the fraction of the
1-thread sgemm peak (the faster of both libraries on 1024 x 1024 x 1024, measured here).
Without oneDNN (``fastnn[onednn]``) only np.dot is timed. One command::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=$PWD \\
    NUMBA_CACHE_DIR=$PWD/.numba_cache taskset -c 1 nice -n 5 \\
    python benchmarks/gradient_gemm_ab.py --json /tmp/gradient_gemm_ab.json
"""

from __future__ import annotations

import argparse
import json
import random
import time

import numba
import numpy as np

from fastnn.backends import _external_gemm
from fastnn.backends import _numba_kernels as kernels
from fastnn.bench.measure.row_block import calls_per_timing
from fastnn.config import pinned_threads

LAYERS = ((784, 256), (256, 128), (128, 10), (100, 100), (100, 50), (64, 30), (50, 10),
          (30, 10))
ROWS = (32, 256, 1024)


@numba.njit
def _weight_gradient_copied(A_prev, A_t, delta, grad, n_in, n_out):
    """The weight gradient through oneDNN after copying ``A_prev.T`` (n_in x m)."""
    for i in range(n_in):
        for row in range(A_prev.shape[0]):
            A_t[i, row] = A_prev[row, i]
    ok = _external_gemm.sgemm_into(A_t, delta, grad[:n_in * n_out].reshape((n_in, n_out)))
    for j in range(n_out):
        grad[n_in * n_out + j] = 0.0
    for row in range(A_prev.shape[0]):
        for j in range(n_out):
            grad[n_in * n_out + j] += delta[row, j]
    return ok


def _options(product, m, n_in, n_out, rng):
    """name -> (function, arguments), and the expected result's (array, reference)."""
    params = rng.standard_normal(n_in * n_out + n_out).astype(np.float32)
    A = rng.standard_normal((m, n_in)).astype(np.float32)
    delta = rng.standard_normal((m, n_out)).astype(np.float32)
    start = np.int64(0)
    if product == "weight_gradient":
        grad = np.empty_like(params)
        options = {"np.dot": (kernels._weight_gradient,
                              (A, delta, grad, start, n_in, n_out, True))}
        if _external_gemm.AVAILABLE:
            options["onednn"] = (kernels._external_weight_gradient,
                                 (A, delta, grad, start, n_in, n_out))
            options["onednn-copy"] = (_weight_gradient_copied,
                                      (A, np.empty((n_in, m), np.float32), delta, grad,
                                       n_in, n_out))
        expected = np.concatenate([(A.astype(np.float64).T @ delta).ravel(), delta.sum(0)])
        return options, grad, expected
    previous = np.empty((m, n_in), np.float32)
    options = {"np.dot": (kernels._back_delta,
                          (params, start, n_in, n_out, delta, previous, True))}
    if _external_gemm.AVAILABLE:
        options["onednn"] = (kernels._external_back_delta,
                             (params, start, n_in, n_out, delta, previous))
    expected = delta.astype(np.float64) @ params[:n_in * n_out].reshape(n_in, n_out).T
    return options, previous, expected


def _seconds(function, arguments, count):
    began = time.perf_counter()
    for _ in range(count):
        function(*arguments)
    return (time.perf_counter() - began) / count


def _timed(options, rounds, target):
    counts = {name: calls_per_timing(function, arguments, target)
              for name, (function, arguments) in options.items()}
    times = {name: [] for name in options}
    names = list(options)
    for _ in range(rounds):
        random.shuffle(names)
        for name in names:
            times[name].append(_seconds(*options[name], counts[name]))
    return times


def peak(rounds=5):
    """GFLOP/s of 1024 x 1024 x 1024 through np.dot and oneDNN (where installed)."""
    rng = np.random.default_rng(1)
    n = 1024
    A = rng.standard_normal((n, n)).astype(np.float32)
    params = np.concatenate([rng.standard_normal(n * n), np.zeros(n)]).astype(np.float32)
    Z = np.empty((n, n), np.float32)
    options = {"np.dot": (kernels._dense, (A, params, np.int64(0), n, n, Z, True))}
    if _external_gemm.AVAILABLE:
        options["onednn"] = (kernels._external_dense, (A, params, np.int64(0), n, n, Z))
    return {name: 2.0 * n ** 3 / np.median(values) / 1e9
            for name, values in _timed(options, rounds, 0.05).items()}


def measure(layers=LAYERS, rows=ROWS, products=("weight_gradient", "back_delta"), rounds=9,
            target=0.004, seed=0):
    rng = np.random.default_rng(seed)
    results = []
    for product in products:
        for n_in, n_out in layers:
            for m in rows:
                options, output, expected = _options(product, m, n_in, n_out, rng)
                for name, (function, arguments) in options.items():
                    output[...] = np.nan
                    function(*arguments)
                    error = np.abs(output - expected).max() / np.abs(expected).max()
                    if not error <= 1e-5:
                        raise AssertionError(f"{name} {product} {m}x{n_in}x{n_out}: {error}")
                flops = 2.0 * m * n_in * n_out
                for name, values in _timed(options, rounds, target).items():
                    q1, median, q3 = np.percentile(values, [25, 50, 75])
                    results.append(dict(product=product, m=m, n_in=n_in, n_out=n_out,
                                        option=name, us=median * 1e6, q1_us=q1 * 1e6,
                                        q3_us=q3 * 1e6, gflops=flops / median / 1e9))
    return results


def report(results, peaks):
    top = max(peaks.values())
    lines = ["1-thread sgemm peak (1024^3): "
             + ", ".join(f"{name} {value:.1f}" for name, value in peaks.items())
             + " GFLOP/s; cells: us median [q1-q3], GFLOP/s (fraction of the peak)"]
    names = list(dict.fromkeys(row["option"] for row in results))
    lines.append(f"{'product':<24}" + "".join(f"{name:>34}" for name in names)
                 + f"{'np.dot/onednn':>15}")
    keys = list(dict.fromkeys((r["product"], r["m"], r["n_in"], r["n_out"]) for r in results))
    for key in keys:
        cells = {r["option"]: r for r in results
                 if (r["product"], r["m"], r["n_in"], r["n_out"]) == key}
        label = f"{key[0][:4]} {key[1]}x{key[2]}x{key[3]}"
        line = f"{label:<24}"
        for name in names:
            row = cells.get(name)
            line += f"{'-':>34}" if row is None else (
                f"{row['us']:>9.2f} [{row['q1_us']:.2f}-{row['q3_us']:.2f}] "
                f"{row['gflops']:6.1f} ({row['gflops'] / top:.2f})")
        if "onednn" in cells:
            line += f"{cells['np.dot']['us'] / cells['onednn']['us']:>15.2f}"
        lines.append(line)
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--target", type=float, default=0.004, help="seconds per timing")
    parser.add_argument("--rows", default=",".join(map(str, ROWS)))
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    # One thread for BLAS, Numba and OpenMP (oneDNN's pool): unpinned, oneDNN takes every
    # core, and a busy second core slows it tenfold.
    with pinned_threads(1) as in_force:
        peaks = peak()
        results = measure(rows=tuple(int(value) for value in args.rows.split(",")),
                          rounds=args.rounds, target=args.target)
    print(f"threads: {in_force} (OpenMP pinned with them)")
    print(report(results, peaks))
    if not _external_gemm.AVAILABLE:
        print("oneDNN not installed: np.dot only")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"peaks": peaks, "rows": results}, handle, indent=1)


if __name__ == "__main__":
    main()
