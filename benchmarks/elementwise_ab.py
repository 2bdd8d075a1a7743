"""In-process A/B of the element-wise functions: the Numba kernels' current forms vs the
vectorisable ones of fastnn/backends/_numba_math.py vs NumPy, float32 and float64.

    python benchmarks/elementwise_ab.py [--repeats 15]

Per activation (sigmoid, tanh, elu, softplus, silu, exp) and derivative that needs a
transcendental function (softplus, silu), on 41k values (256 x 160, a 100-100-50-10
network's activations at batch 256) and on 100: ``kernels`` is
``_numba_kernels._activate_in_place(code, Z)`` (the derivatives: the loop of
``_numba_kernels._times_derivative``, ``G *= _derivative(code, z, a)``, compiled here),
``math`` is ``_numba_math.ACTIVATE_IN_PLACE[name]`` / ``TIMES_DERIVATIVE[name]``,
``numpy`` is the numpy backend's form from ``fastnn.functions`` (which allocates its
result). The in-place variants restore their input before each call; the time of that
copy, measured alone in the same rounds, is subtracted. Variants run interleaved in a
shuffled order, each round takes the best of 3 timings of a batch of calls; medians and
quartiles over the rounds, threads pinned to 1. Timings on a shared machine are noisy:
read the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import timeit

import numba
import numpy as np

from fastnn import config, functions
from fastnn.backends import _numba_kernels as kernels
from fastnn.backends import _numba_math as fm

ACTIVATION_NAMES = ("sigmoid", "tanh", "elu", "softplus", "silu", "exp")
DERIVATIVE_NAMES = ("softplus", "silu")
SHAPES = ((256, 160), (1, 100))


@numba.njit(**dict(config.JIT_OPTIONS, cache=False))
def _kernels_times_derivative(code, z, a, g):
    """The general branch of ``_numba_kernels._times_derivative`` on flat arrays."""
    for k in range(g.shape[0]):
        g[k] *= kernels._derivative(code, z[k], a[k])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="interleaved rounds")
    arguments = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"{'case':34s} {'kernels us':>11s} {'math us':>9s} {'numpy us':>9s} "
          f"{'math/kernels [q1, q3]':>24s} {'math/numpy [q1, q3]':>22s}")
    with config.pinned_threads(1):
        for dtype in (np.float32, np.float64):
            for shape in SHAPES:
                source = rng.normal(0.0, 3.0, shape).astype(dtype)
                for name in ACTIVATION_NAMES:
                    _report(f"{name} {dtype.__name__} {shape}",
                            _activation_variants(name, source), source.size,
                            arguments.repeats)
                for name in DERIVATIVE_NAMES:
                    _report(f"{name}' {dtype.__name__} {shape}",
                            _derivative_variants(name, source, rng), source.size,
                            arguments.repeats)


def _activation_variants(name, source):
    work = np.empty_like(source)
    flat = work.reshape(work.size)
    code = kernels.ACTIVATION_CODES[name]
    in_place = fm.ACTIVATE_IN_PLACE[name]
    numpy_form = functions.ACTIVATIONS[name].function
    variants = {
        "copy": lambda: np.copyto(work, source),
        "kernels": lambda: (np.copyto(work, source), kernels._activate_in_place(code, work)),
        "math": lambda: (np.copyto(work, source), in_place(flat)),
        "numpy": lambda: numpy_form(source),
    }
    # Same results before timing (float32: the contract's 1e-4; float64: a few ulps).
    expected = numpy_form(source.astype(np.float64))
    for label in ("kernels", "math"):
        variants[label]()
        _check(name, work, expected)
    return variants


def _derivative_variants(name, source, rng):
    activation = functions.ACTIVATIONS[name]
    Z = source.reshape(source.size)
    A = activation.function(source).reshape(source.size)
    gradient = rng.uniform(-1.0, 1.0, Z.shape[0]).astype(source.dtype)
    work = np.empty_like(gradient)
    code = kernels.ACTIVATION_CODES[name]
    times = fm.TIMES_DERIVATIVE[name]
    variants = {
        "copy": lambda: np.copyto(work, gradient),
        "kernels": lambda: (np.copyto(work, gradient),
                            _kernels_times_derivative(code, Z, A, work)),
        "math": lambda: (np.copyto(work, gradient), times(Z, A, work)),
        "numpy": lambda: gradient * activation.derivative(Z, A),
    }
    expected = gradient * activation.derivative(Z.astype(np.float64), A.astype(np.float64))
    for label in ("kernels", "math"):
        variants[label]()
        _check(name + "'", work, expected)
    return variants


def _check(name, actual, expected):
    tolerance = 1e-4 if actual.dtype == np.float32 else 1e-12
    scale = np.maximum(np.abs(expected), 1e-3)
    worst = float(np.max(np.abs(actual.reshape(expected.shape) - expected) / scale))
    if not worst <= tolerance:
        raise AssertionError(f"{name}: relative difference {worst:.2e} > {tolerance}")


def _report(label, variants, size, repeats):
    number = max(20, int(4e5 // size))  # about 0.1-1 ms per timing
    rounds = {key: [] for key in variants}
    order = list(variants)
    rng = np.random.default_rng(1)
    for _ in range(repeats):
        rng.shuffle(order)
        for key in order:
            best = min(timeit.repeat(variants[key], number=number, repeat=3)) / number
            rounds[key].append(best * 1e6)
    copy = rounds["copy"]
    net = {key: [t - c for t, c in zip(rounds[key], copy)] for key in ("kernels", "math")}
    net["numpy"] = rounds["numpy"]
    versus_kernels = [m / k for m, k in zip(net["math"], net["kernels"])]
    versus_numpy = [m / n for m, n in zip(net["math"], net["numpy"])]
    print(f"{label:34s} {statistics.median(net['kernels']):11.2f} "
          f"{statistics.median(net['math']):9.2f} {statistics.median(net['numpy']):9.2f} "
          f"{_spread(versus_kernels):>24s} {_spread(versus_numpy):>22s}", flush=True)


def _spread(ratios):
    q1, median, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    return f"{median:.3f} [{q1:.3f}, {q3:.3f}]"


if __name__ == "__main__":
    main()
