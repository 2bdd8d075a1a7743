"""The numba forward pass before and after issue 19's row blocks and oneDNN route, against
ONNX Runtime: one process, interleaved rounds, paired ratios with quartiles.

Every variant is the same compiled kernel (``_numba_kernels.forward_into``) with another
argument tail (the 9 crossovers in force, then the row block and the oneDNN rule):

``whole``   row block 0, no oneDNN: the forward pass as it was before
``blocks``  the shipped row block (``FORWARD_ROW_BLOCK``), no oneDNN
``onednn``  the shipped row block and the oneDNN rule ``--rule ROWS,WEIGHTS`` (float32 only;
            where oneDNN is installed, see :mod:`fastnn.backends._external_gemm`)
``ort``     ONNX Runtime on the same network (``net.to_onnx()``), one thread

Networks and batches of the peer race, sigmoid hidden layers, the mse default output.
Cells: median microseconds [quartiles], and ``whole / variant`` (above 1: faster than
before) or, for ``ort``, ``ort / best fastnn variant`` (above 1: fastnn faster), each the
median of per-round ratios with its quartiles. GFLOP/s of the best fastnn variant against
the 1-thread ``np.dot`` peak of 1024 x 1024 matrices in the dtype. One command (noisy
unless the machine is quiet)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=$PWD \\
    nice -n 5 python benchmarks/forward_ab.py --dtypes float32,float64 --rule 16,32768
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import fastnn
from fastnn.backends import _external_gemm, tuning
from fastnn.backends import _numba_kernels as kernels
from fastnn.bench.peers.onnxruntime_peer import pinned_session

NETWORKS = ((64, 30, 10), (100, 100, 50, 10), (784, 256, 128, 10))
BATCHES = (1, 32, 256, 1024)


def _peak(dtype, n=1024, rounds=5):
    A = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
    C = np.empty_like(A)
    np.dot(A, A, C)
    best = min(_time(lambda: np.dot(A, A, C), 3) for _ in range(rounds))
    return 2.0 * n ** 3 / best / 1e9


def _time(call, count):
    start = time.perf_counter()
    for _ in range(count):
        call()
    return (time.perf_counter() - start) / count


def _ort(net, X):
    session = pinned_session(net, 1)
    name = session.get_inputs()[0].name
    return lambda: session.run(None, {name: X})[0]


def calls(sizes, m, dtype, rule):
    net = fastnn.MLP(sizes, "sigmoid", None, "mse", backend="numba", dtype=dtype, seed=0)
    params = np.ascontiguousarray(net._params)
    layer_sizes = np.array(sizes, dtype=np.int64)
    codes = [kernels.ACTIVATION_CODES[name] for name in net.spec.activations]
    crossovers = [value for triple in tuning.crossovers() for value in triple]
    never = [2 ** 62, 2 ** 62]
    tails = {"whole": [0] + never, "blocks": [kernels.FORWARD_ROW_BLOCK] + never}
    if rule is not None and dtype == "float32" and _external_gemm.AVAILABLE:
        tails["onednn"] = [kernels.FORWARD_ROW_BLOCK, *rule]
    X = np.random.default_rng(1).standard_normal((m, sizes[0])).astype(dtype)
    expected = net.forward(X).reshape(m, -1)
    result = {}
    for name, tail in tails.items():
        arguments = np.array(codes + crossovers + tail, dtype=np.int64)
        Y = np.empty((m, sizes[-1]), dtype=dtype)
        kernels.forward_into(params, layer_sizes, arguments, X, Y)
        if not np.allclose(Y, expected, rtol=1e-4, atol=1e-6):
            raise AssertionError(f"{name} differs from MLP.forward at {sizes} x {m}")
        result[name] = (lambda a=arguments, Y=Y:
                        kernels.forward_into(params, layer_sizes, a, X, Y))
    try:
        result["ort"] = _ort(net, X)
    except ImportError:
        pass
    return result


def measure(named_calls, rounds, target):
    counts = {}
    for name, call in named_calls.items():
        call()
        count = 1
        while _time(call, count) * count < target:
            count *= 2
        counts[name] = count
    times = {name: [] for name in named_calls}
    names = list(named_calls)
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(_time(named_calls[name], counts[name]))
    return {name: np.array(values) for name, values in times.items()}


def _quartiles(values):
    return np.percentile(values, [25, 50, 75])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)))
    parser.add_argument("--rule", default="16,32768",
                        help="oneDNN rule ROWS,WEIGHTS for the onednn variant ('' for none)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--target", type=float, default=0.004)
    args = parser.parse_args(argv)
    rule = tuple(int(v) for v in args.rule.split(",")) if args.rule else None
    print(f"oneDNN: {_external_gemm.LIBRARY or 'not installed'}; row block "
          f"{kernels.FORWARD_ROW_BLOCK}; rule {rule}")
    for dtype in args.dtypes.split(","):
        peak = _peak(dtype)
        print(f"\n{dtype}: np.dot peak {peak:.1f} GFLOP/s")
        for sizes in NETWORKS:
            for m in map(int, args.batches.split(",")):
                times = measure(calls(sizes, m, dtype, rule), args.rounds, args.target)
                fastnn_names = [name for name in times if name != "ort"]
                best = min(fastnn_names, key=lambda name: np.median(times[name]))
                flops = 2.0 * m * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
                cells = []
                for name, values in times.items():
                    q1, med, q3 = _quartiles(values) * 1e6
                    if name == "ort":
                        ratio = _quartiles(values / times[best])
                    else:
                        ratio = _quartiles(times["whole"] / values)
                    cells.append(f"{name} {med:.1f} [{q1:.1f}-{q3:.1f}] "
                                 f"x{ratio[1]:.2f} ({ratio[0]:.2f}-{ratio[2]:.2f})")
                gflops = flops / np.median(times[best]) / 1e9
                print(f"{'-'.join(map(str, sizes)):>15} x{m:<5} " + " | ".join(cells)
                      + f" | best {best} {gflops:.0f} GF ({gflops / peak:.2f} of peak)",
                      flush=True)


if __name__ == "__main__":
    main()
