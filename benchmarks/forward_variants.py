"""Prototype forward passes against the numba kernel's, interleaved in one process (issue 19).

Variants of the dense forward (sigmoid hidden layers, identity output, the race's default
network), each a Numba function over the same flat parameters:

``kernel``    today's ``_numba_kernels.forward_into`` (np.dot, a bias pass, an activation pass)
``blocked``   the batch in row blocks of ``--block`` rows, all layers per block (the
              block's activations stay in L1/L2; BLAS sees ``block`` rows at a time)
``fused``     ``blocked`` with the bias and the activation in one pass after each product
``dnnl``      ``fused`` with oneDNN's ``dnnl_sgemm`` for the products of at least
              ``--dnnl-min`` multiply-adds (float32 only; ``$DNNL_GOMP_LIB`` names the
              library, e.g. the ``onednn-cpu-gomp`` wheel's ``libdnnl.so.3.2``)
``ort``       ONNX Runtime on the same network, for reference

oneDNN is called from compiled code through a symbol registered with llvmlite
(``fastnn_sgemm``), resolved by name when the code is linked, as Numba's own BLAS helpers
are: no address is frozen into the compiled code. One command::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=$PWD \\
    DNNL_GOMP_LIB=/path/libdnnl.so.3.2 nice -n 5 python benchmarks/forward_variants.py
"""

from __future__ import annotations

import argparse
import ctypes
import os
import random
import time

import numba
import numpy as np
from llvmlite import binding, ir
from numba import types
from numba.extending import intrinsic

import fastnn
from fastnn.backends import _numba_kernels as kernels
from fastnn.backends import _numba_math as elementwise
from fastnn.bench.peers.onnxruntime_peer import pinned_session

NETWORKS = ((64, 30, 10), (100, 100, 50, 10), (784, 256, 128, 10))
BATCHES = (32, 256, 1024)
SYMBOL = "fastnn_sgemm"


def register_dnnl(path):
    """Register ``dnnl_sgemm`` of the library at ``path`` as :data:`SYMBOL`; True if done."""
    if not path or not os.path.exists(path):
        return False
    lib = ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
    binding.add_symbol(SYMBOL, ctypes.cast(lib.dnnl_sgemm, ctypes.c_void_p).value)
    return True


@intrinsic
def _sgemm_nn(typingctx, m, n, k, A, lda, B, ldb, beta, C, ldc):
    """``C = A @ B + beta C`` (row-major, float32) through :data:`SYMBOL`; its status."""
    sig = types.int32(m, n, k, A, lda, B, ldb, beta, C, ldc)

    def codegen(context, builder, signature, args):
        i8, i32, i64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
        f32 = ir.FloatType()
        p32 = f32.as_pointer()
        fnty = ir.FunctionType(i32, [i8, i8, i64, i64, i64, f32, p32, i64, p32, i64, f32,
                                     p32, i64])
        fn = builder.module.globals.get(SYMBOL) or ir.Function(builder.module, fnty, SYMBOL)
        m_, n_, k_, A_, lda_, B_, ldb_, beta_, C_, ldc_ = args

        def data(value, index):
            array = context.make_array(signature.args[index])(context, builder, value)
            return builder.bitcast(array.data, p32)
        N = ir.Constant(i8, ord("N"))
        beta_f = builder.fptrunc(beta_, f32) if beta_.type != f32 else beta_
        return builder.call(fn, [N, N, m_, n_, k_, ir.Constant(f32, 1.0), data(A_, 3), lda_,
                                 data(B_, 5), ldb_, beta_f, data(C_, 8), ldc_])
    return sig, codegen


@numba.njit
def _sigmoid_rows(Z):
    elementwise.sigmoid_in_place(Z.reshape(Z.size))


@numba.njit(fastmath={"nsz"})
def _bias_sigmoid(Z, params, b_start, apply):
    """``Z = sigmoid(Z + b)`` (``apply``) or ``Z += b``, one pass."""
    if b_start < 0:
        return
    n = Z.shape[1]
    flat = Z.reshape(Z.size)
    bias = params[b_start:b_start + n]
    if apply:
        for row in range(Z.shape[0]):
            values = flat[row * n:(row + 1) * n]
            for j in range(n):
                values[j] = elementwise.sigmoid(values[j] + bias[j])
    else:
        for row in range(Z.shape[0]):
            values = flat[row * n:(row + 1) * n]
            for j in range(n):
                values[j] += bias[j]


@numba.njit
def _bias(Z, params, b_start):
    if b_start < 0:
        return
    for row in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            Z[row, j] += params[b_start + j]


@numba.njit
def blocked_forward(params, layer_sizes, X, Y, block, mode, dnnl_min):
    """mode 0: np.dot + bias pass + activation pass; 1: fused bias+activation;
    2: fused, oneDNN for products of >= dnnl_min multiply-adds."""
    m = X.shape[0]
    widest = 0
    for layer in range(1, layer_sizes.shape[0]):
        widest = max(widest, layer_sizes[layer])
    rows = min(m, block)
    buffers = np.empty(2 * rows * widest, dtype=X.dtype)
    n_layers = layer_sizes.shape[0] - 1
    flat_X = X.reshape(X.size)
    flat_Y = Y.reshape(Y.size)
    n_x, n_y = layer_sizes[0], layer_sizes[-1]
    for r0 in range(0, m, block):
        r1 = min(m, r0 + block)
        count = r1 - r0
        A = flat_X[r0 * n_x:r1 * n_x].reshape((count, n_x))
        start = np.int64(0)
        for layer in range(n_layers):
            n_in, n_out = layer_sizes[layer], layer_sizes[layer + 1]
            if layer == n_layers - 1:
                Z = flat_Y[r0 * n_y:r1 * n_y].reshape((count, n_y))
            else:
                offset = (layer % 2) * rows * widest
                Z = buffers[offset:offset + count * n_out].reshape((count, n_out))
            b_start = start + n_in * n_out
            W = params[start:b_start].reshape((n_in, n_out))
            if mode == 2 and count * n_in * n_out >= dnnl_min:
                _sgemm_nn(count, n_out, n_in, A, n_in, W, n_out, 0.0, Z, n_out)
            else:
                np.dot(A, W, Z)
            hidden = layer < n_layers - 1
            if mode == 0:
                _bias(Z, params, b_start)
                if hidden:
                    _sigmoid_rows(Z)
            else:
                _bias_sigmoid(Z, params, b_start, hidden)
            A = Z
            start = b_start + n_out


def _ort(net):
    session = pinned_session(net, 1)
    name = session.get_inputs()[0].name
    return lambda: session.run(None, {name: X_holder[0]})[0]


X_holder = [None]


def variants(sizes, m, dtype, block, dnnl_min, with_dnnl):
    net = fastnn.MLP(sizes, "sigmoid", "identity", "mse", backend="numba", dtype=dtype, seed=0)
    params = net._params
    layer_sizes = np.array(sizes, np.int64)
    codes = np.array([kernels.ACTIVATION_CODES["sigmoid"]] * (len(sizes) - 2)
                     + [kernels.ACTIVATION_CODES["identity"]], np.int64)
    X = np.random.default_rng(1).standard_normal((m, sizes[0])).astype(dtype)
    X_holder[0] = X
    Y = np.empty((m, sizes[-1]), dtype)
    expect = net.forward(X)
    calls = {"kernel": lambda: kernels.forward_into(params, layer_sizes, codes, X, Y)}
    blocks = dict(block_all=(m, 0), blocked=(block, 0), fused=(block, 1))
    if with_dnnl and dtype == "float32":
        blocks["dnnl"] = (block, 2)
        blocks["dnnl_all"] = (m, 2)
    for name, (rows, mode) in blocks.items():
        calls[name] = (lambda rows=rows, mode=mode:
                       blocked_forward(params, layer_sizes, X, Y, rows, mode, dnnl_min))
    for name, call in calls.items():
        Y[...] = np.nan
        call()
        if not np.allclose(Y, expect, rtol=1e-4, atol=1e-5):
            raise AssertionError(f"{name} differs at {sizes} x {m}")
    calls["ort"] = _ort(net)
    return calls


def measure(calls, rounds, target):
    reps = {}
    for name, call in calls.items():
        count, spent = 1, 0.0
        while spent < target:
            count *= 2
            start = time.perf_counter()
            for _ in range(count):
                call()
            spent = time.perf_counter() - start
        reps[name] = count
    times = {name: [] for name in calls}
    names = list(calls)
    for _ in range(rounds):
        random.shuffle(names)
        for name in names:
            start = time.perf_counter()
            for _ in range(reps[name]):
                calls[name]()
            times[name].append((time.perf_counter() - start) / reps[name])
    return {name: np.array(values) for name, values in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtypes", default="float32")
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)))
    parser.add_argument("--block", type=int, default=256)
    parser.add_argument("--dnnl-min", type=int, default=1 << 20)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--target", type=float, default=0.004)
    args = parser.parse_args(argv)
    with_dnnl = register_dnnl(os.environ.get("DNNL_GOMP_LIB", ""))
    print(f"oneDNN: {'registered' if with_dnnl else 'absent'}; block {args.block}; "
          f"dnnl from {args.dnnl_min} multiply-adds; cells: median us [q1-q3], "
          "x = kernel / variant (above 1: the variant is faster)")
    for dtype in args.dtypes.split(","):
        for sizes in NETWORKS:
            for m in map(int, args.batches.split(",")):
                times = measure(variants(sizes, m, dtype, args.block, args.dnnl_min,
                                         with_dnnl), args.rounds, args.target)
                base = times["kernel"]
                cells = []
                for name, values in times.items():
                    q1, med, q3 = np.percentile(values, [25, 50, 75]) * 1e6
                    cells.append(f"{name} {med:.1f} [{q1:.0f}-{q3:.0f}] "
                                 f"x{np.median(base / values):.2f}")
                print(f"{dtype} {'-'.join(map(str, sizes)):>14} x{m:<5} " + " | ".join(cells),
                      flush=True)


if __name__ == "__main__":
    main()
