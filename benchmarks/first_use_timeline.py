"""A timeline of one first use: a network on ``backend="auto"`` called every 50 ms until
it runs on Numba, with fastnn's debug log lines, in seconds from the process's start.

Run it in a fresh process with an empty cache to see a cold first use (first result on
NumPy, the background compile, the switch), or again to see a warm one:

    NUMBA_CACHE_DIR=$(mktemp -d) python benchmarks/first_use_timeline.py
"""

from __future__ import annotations

import logging
import time

STARTED = time.perf_counter()


def stamp(text):
    print(f"{time.perf_counter() - STARTED:8.3f} s  {text}", flush=True)


class _Stamped(logging.Handler):
    def emit(self, record):
        stamp(f"log: {record.getMessage()}")


def main(timeout=120.0, interval=0.05):
    logger = logging.getLogger("fastnn")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(_Stamped())
    import numpy as np

    import fastnn

    stamp("imported fastnn")
    net = fastnn.MLP([64, 32, 10], seed=0)
    X = np.linspace(-1.0, 1.0, 64)
    net.forward(X)
    stamp(f"first result on {net.backend}")
    backend = net.backend
    while time.perf_counter() - STARTED < timeout:
        time.sleep(interval)
        net.forward(X)
        if net.backend != backend:
            backend = net.backend
            stamp(f"calls now run on {backend}")
            if "numba" in str(backend):
                break
    net.fit(np.random.default_rng(0).random((64, 64)), np.eye(10)[np.arange(64) % 10],
            epochs=1)
    stamp(f"one epoch of fit on {net.backend}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
