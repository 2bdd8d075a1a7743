"""Where a forward pass's time goes, against ONNX Runtime: one process, interleaved rounds.

For each network and batch of the peer race (sigmoid hidden layers, the mse default output
as in the race), times in one interleaved set of rounds (shuffled order each round):

``fastnn``     ``MLP.forward`` on the numba backend (what the race times)
``identity``   the same weights with identity activations: products and biases only
``products``   the BLAS products alone (``np.dot`` into preallocated arrays, from Python)
``ort``        ONNX Runtime on ``net.to_onnx()`` (one thread, sequential)
``torch``      PyTorch's ``Sequential`` from ``fastnn.interop.torch`` (one thread), if present

The activation pass costs about ``fastnn - identity``. Medians with quartiles and GFLOP/s
(the products' FLOPs) are printed; ``ort / fastnn`` above 1 means fastnn is faster. One
command (noisy unless the machine is quiet)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=$PWD \\
    nice -n 5 python benchmarks/forward_split.py --dtypes float32
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np

import fastnn
from fastnn.bench.peers.onnxruntime_peer import pinned_session

NETWORKS = ((64, 30, 10), (100, 100, 50, 10), (784, 256, 128, 10))
BATCHES = (1, 32, 256, 1024)


def _ort(net):
    session = pinned_session(net, 1)
    name = session.get_inputs()[0].name
    return lambda X: session.run(None, {name: X})[0]


def _torch(net):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    module = net.to_torch()
    module.eval()

    def run(X):
        with torch.no_grad():
            return module(torch.from_numpy(X)).numpy()
    return run


def timers(sizes, m, dtype, seed=0):
    net = fastnn.MLP(sizes, "sigmoid", None, "mse", backend="numba", dtype=dtype, seed=seed)
    flat = net.get_params() if hasattr(net, "get_params") else net._params
    plain = fastnn.MLP.from_spec(
        fastnn.spec.NetworkSpec.create(sizes, "identity", "identity", "mse", dtype), flat,
        backend="numba")
    X = np.random.default_rng(seed).standard_normal((m, sizes[0])).astype(dtype)
    weights = [w.astype(dtype) for w in _weights(net)]
    outs = [np.empty((m, w.shape[1]), dtype) for w in weights]

    def products(X):
        A = X
        for W, Z in zip(weights, outs):
            np.dot(A, W, Z)
            A = Z
        return A
    result = {"fastnn": net.forward, "identity": plain.forward, "products": products}
    for name, make in (("ort", _ort), ("torch", _torch)):
        try:
            call = make(net)
        except ImportError:
            call = None
        if call is not None:
            expect = net.forward(X)
            if not np.allclose(call(X), expect, rtol=1e-3, atol=1e-4):
                raise AssertionError(f"{name} disagrees with fastnn at {sizes} x {m}")
            result[name] = call
    return result, X


def _weights(net):
    """The weight matrices (n_in, n_out) of ``net``'s flat buffer."""
    flat = net._params
    sizes = net.layer_sizes
    start, out = 0, []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        out.append(flat[start:start + n_in * n_out].reshape(n_in, n_out))
        start += n_in * n_out + n_out
    return out


def measure(sizes, m, dtype, rounds, target):
    calls, X = timers(sizes, m, dtype)
    reps = {}
    for name, call in calls.items():
        call(X)
        count, spent = 1, 0.0
        while spent < target:
            count *= 2
            start = time.perf_counter()
            for _ in range(count):
                call(X)
            spent = time.perf_counter() - start
        reps[name] = count
    times = {name: [] for name in calls}
    names = list(calls)
    for _ in range(rounds):
        random.shuffle(names)
        for name in names:
            start = time.perf_counter()
            for _ in range(reps[name]):
                calls[name](X)
            times[name].append((time.perf_counter() - start) / reps[name])
    return {name: np.array(values) for name, values in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtypes", default="float32")
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)))
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--target", type=float, default=0.005)
    args = parser.parse_args(argv)
    for dtype in args.dtypes.split(","):
        print(f"\n{dtype}: median us [q1-q3]; GFLOP/s of the products; ratio = peer / fastnn")
        for sizes in NETWORKS:
            for m in map(int, args.batches.split(",")):
                times = measure(sizes, m, dtype, args.rounds, args.target)
                flops = 2.0 * m * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
                base = times["fastnn"]
                cells = []
                for name, values in times.items():
                    q1, med, q3 = np.percentile(values, [25, 50, 75]) * 1e6
                    cell = f"{name} {med:.1f} [{q1:.1f}-{q3:.1f}] {flops / med / 1e3:.0f}GF"
                    if name in ("ort", "torch"):
                        cell += f" x{np.median(values / base):.2f}"
                    cells.append(cell)
                label = "-".join(map(str, sizes))
                print(f"{label:>15} x{m:<5} " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
