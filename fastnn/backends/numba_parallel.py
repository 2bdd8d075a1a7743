"""Numba backend whose dense batches run block-parallel (``numba.prange`` over row blocks).

The ``numba`` backend with the kernels of :mod:`._numba_parallel_kernels` in place of
its dense forward, loss, gradient and train-step kernels: a batch of at least two blocks
(``BLOCK_ROWS`` rows each) runs its blocks on Numba's threads, each block through the
serial kernels, and the partial results are added in block order. The blocks do not
depend on the thread count, so the results are identical at every thread count; smaller
batches run the serial kernels and give the ``numba`` backend's numbers exactly.

Everything else is the ``numba`` backend's, serial: sample weights, sparse inputs and
whole training epoch (``train_epoch``).
"""

from __future__ import annotations

import numpy as np

from fastnn.backends import _numba_parallel_kernels as parallel
from fastnn.backends.numba_jit import NumbaBackend


class NumbaParallelBackend(NumbaBackend):
    """:class:`NumbaBackend` with block-parallel dense kernels (see the module docstring)."""

    name = "numba_parallel"
    description = (f"Numba kernels run on row blocks of {parallel.BLOCK_ROWS} in parallel "
                   "(numba.prange) for plain dense batches; weighted, sparse and epochs serial")
    _forward_into = staticmethod(parallel.forward_into)
    _loss = staticmethod(parallel.loss)
    _gradient_into = staticmethod(parallel.gradient_into)
    _train_step = staticmethod(parallel.train_step)
    _checked_gradient_into = staticmethod(parallel.checked_gradient_into)
    _checked_train_step = staticmethod(parallel.checked_train_step)

    def prepare(self, spec):
        """Compile (or load from the cache) the serial and the parallel kernels for
        ``spec.dtype``."""
        super().prepare(spec)
        tiny = type(spec).create((1, 1), dtype=spec.dtype)
        params = np.zeros(2, dtype=spec.dtype)
        X = np.zeros((2 * parallel.BLOCK_ROWS, 1), dtype=spec.dtype)
        self.forward(tiny, params, X)
        self.loss(tiny, params, X, X)
        self.gradients(tiny, params, X, X)
        self.train_step(tiny, params, X, X, 0.1)


BACKEND = NumbaParallelBackend()
