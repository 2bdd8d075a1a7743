"""Numba backend whose dense batches run block-parallel (``numba.prange`` over row blocks).

The ``numba`` backend with the kernels of :mod:`._numba_parallel_kernels` in place of
its dense forward, loss, gradient and train-step kernels: a batch of at least two blocks
(``BLOCK_ROWS`` rows each) runs its blocks on Numba's threads, each block through the
serial kernels, and the partial results are added in block order. The blocks do not
depend on the thread count, so the results are identical at every thread count; smaller
batches run the serial kernels and give the ``numba`` backend's numbers exactly.

Everything else is the ``numba`` backend's, serial: sample weights, sparse inputs and
whole training epochs (``train_epoch``). :meth:`prepare` is the ``numba`` backend's too:
the two parallel kernels (seconds to compile, per dtype) compile at the first batch that
needs them, so a run that never reaches two blocks never pays for them.
"""

from __future__ import annotations

from fastnn.backends import _numba_parallel_kernels as parallel
from fastnn.backends.numba_backend import NumbaBackend


class NumbaParallelBackend(NumbaBackend):
    """:class:`NumbaBackend` with block-parallel dense kernels (see the module docstring)."""

    name = "numba_parallel"
    description = (f"Numba kernels run on row blocks of {parallel.BLOCK_ROWS} in parallel "
                   "(numba.prange) for plain dense batches; weighted, sparse and epochs serial")
    serial_below_rows = 2 * parallel.BLOCK_ROWS
    _dense_template = parallel.__name__


BACKEND = NumbaParallelBackend()
