"""The cost of the sparse-structure check at the boundary, against one forward pass.

Run: ``python benchmarks/sparse_check_cost.py`` (pin threads first for quiet numbers:
``NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1``). Prints, per case,
the median time of :func:`fastnn.validation.canonical_csr` on an already canonical CSR
matrix (the structure check and the canonical-form test: what every call pays) and of
``MLP.forward`` on the same matrix (which includes the check), interleaved rounds,
with the ratio check / forward.
"""

import statistics
import time

import numpy as np
import scipy.sparse as sp

from fastnn import MLP
from fastnn.validation import canonical_csr

CASES = [  # (rows, features, density, hidden layers, backend)
    (1, 1000, 0.01, (100,), "numba"),
    (256, 1000, 0.01, (100,), "numba"),
    (1000, 10000, 0.001, (100,), "numba"),
    (1000, 1000, 0.05, (100, 10), "numpy"),
]


def median_time(function, repeat, number):
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        samples.append((time.perf_counter() - start) / number)
    return samples


def main(rounds=15):
    for case in CASES:
        measure(*case, rounds)


def measure(rows, features, density, hidden, backend, rounds):
    X = sp.random(rows, features, density=density, format="csr", random_state=0,
                  dtype=np.float64)
    X.sum_duplicates()
    net = MLP([features, *hidden, 10], backend=backend, seed=0)
    net.forward(X)  # compile

    def check():
        canonical_csr(X, "float64")

    def forward():
        net.forward(X)

    number = max(1, int(2e-3 / max(1e-7, min(median_time(forward, 1, 1)))))
    check_times, forward_times = [], []
    for _ in range(rounds):  # interleaved
        check_times += median_time(check, 1, number)
        forward_times += median_time(forward, 1, number)
    c, f = statistics.median(check_times), statistics.median(forward_times)
    print(f"{rows:5d} x {features:5d} nnz={X.nnz:6d} {backend:6s} hidden={hidden}: "
          f"check {c * 1e6:8.1f} us  forward {f * 1e6:8.1f} us  ratio {c / f:.3f}")


if __name__ == "__main__":
    main()
