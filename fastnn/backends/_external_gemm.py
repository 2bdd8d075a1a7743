"""oneDNN's ``dnnl_sgemm`` for the Numba kernels' float32 layer products, where installed.

OpenBLAS (what NumPy, SciPy and so Numba's ``np.dot`` call) runs the wide float32 products
of a forward pass below oneDNN's JIT sgemm on AVX-512 machines (measured on an AMD EPYC,
one thread, benchmarks/gemm_options.py: 32 x 784 x 256 at 81-89 GFLOP/s against 108-112,
1024 x 256 x 128 at 101 against 113), and above it on narrow or small ones (100 x 50,
n x 10). The kernels therefore call oneDNN only for the products a tuned rule names
(``fastnn tune``; shipped: never), and only in float32 (oneDNN has no dgemm).

The library: ``libdnnl.so.3`` in ``<prefix>/lib`` (the ``onednn-cpu-gomp`` wheel puts it
there; the extra ``fastnn[onednn]`` installs it), or the file named by
``$FASTNN_DNNL_LIBRARY``. It is loaded at import, privately (``RTLD_LOCAL``), and its
``dnnl_sgemm`` is registered with llvmlite under the name :data:`SYMBOL`, which compiled
kernels call by name: the name is resolved when a kernel is linked, in every process, so
Numba's on-disk cache holds no address. Without the library the name is bound to a stub
that returns -1, and :func:`sgemm_into` reports failure, so a kernel falls back to
``np.dot``. oneDNN's threads follow OpenMP's (``OMP_NUM_THREADS``; threadpoolctl's
``openmp`` limits).

``AVAILABLE``: whether oneDNN was loaded. ``LIBRARY``: its path, or "".
``sgemm_into(A, W, Z) -> bool`` (compiled code only): ``Z = A @ W`` for C-contiguous
float32 ``A`` (m, k), ``W`` (k, n), ``Z`` (m, n); True if oneDNN did it, False (and
``Z`` untouched) otherwise, and always False for float64 arrays. Likewise, for the
gradient's products, without copying a transposed operand (oneDNN reads it in place):
``sgemm_tn_into(A, B, C)``: ``C = A.T @ B`` for ``A`` (k, m), ``B`` (k, n), ``C`` (m, n)
(a weight gradient ``A_prev.T @ delta``), ``sgemm_tn_add(alpha, A, B, C)``: ``C +=
alpha * A.T @ B`` (a training step adding its weight gradient to the weights), and
``sgemm_nt_into(A, B, C)``: ``C = A @ B.T`` for ``A`` (m, k), ``B`` (n, k), ``C`` (m, n) (a
back-propagated ``delta @ W.T``).
"""

from __future__ import annotations

import ctypes
import os
import sys

from llvmlite import binding, ir
from numba import types
from numba.extending import intrinsic, overload, register_jitable

SYMBOL = "fastnn_dnnl_sgemm"
LIBRARY_ENV = "FASTNN_DNNL_LIBRARY"
_SGEMM = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char, ctypes.c_char, ctypes.c_int64,
                          ctypes.c_int64, ctypes.c_int64, ctypes.c_float, ctypes.c_void_p,
                          ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_float,
                          ctypes.c_void_p, ctypes.c_int64)


def _stub(*args):
    return -1


def _candidates():
    named = os.environ.get(LIBRARY_ENV, "")
    if named:
        return [named]
    return [os.path.join(sys.prefix, "lib", "libdnnl.so.3")]


def _load():
    """``(library path, address of dnnl_sgemm)`` or ``("", None)``."""
    for path in _candidates():
        if not os.path.exists(path):
            continue
        try:
            library = ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
            _LOADED.append(library)  # kept alive for the process
            return path, ctypes.cast(library.dnnl_sgemm, ctypes.c_void_p).value
        except (OSError, AttributeError):
            continue
    return "", None


_LOADED = []
LIBRARY, _ADDRESS = _load()
AVAILABLE = _ADDRESS is not None
if not AVAILABLE:
    _STUB = _SGEMM(_stub)  # kept alive: its address is registered below
    _ADDRESS = ctypes.cast(_STUB, ctypes.c_void_p).value
binding.add_symbol(SYMBOL, _ADDRESS)


@intrinsic
def _dnnl_sgemm(typingctx, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):
    """``C = alpha * op(A) @ op(B) + beta * C`` (row-major float32; ``transa``/``transb``
    ``ord("N")`` or ``ord("T")``, ``op(A)`` m x k, ``op(B)`` k x n, C m x n); oneDNN's
    status."""
    sig = types.int32(transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)

    def codegen(context, builder, signature, args):
        i8, i32, i64, f32 = ir.IntType(8), ir.IntType(32), ir.IntType(64), ir.FloatType()
        pointer = f32.as_pointer()
        fnty = ir.FunctionType(i32, [i8, i8, i64, i64, i64, f32, pointer, i64, pointer, i64,
                                     f32, pointer, i64])
        function = builder.module.globals.get(SYMBOL)
        if function is None:
            function = ir.Function(builder.module, fnty, SYMBOL)

        def count(index):
            return context.cast(builder, args[index], signature.args[index], types.int64)

        def char(index):
            return builder.trunc(count(index), i8)

        def data(index):
            array = context.make_array(signature.args[index])(context, builder, args[index])
            return builder.bitcast(array.data, pointer)
        def scalar(index):
            return context.cast(builder, args[index], signature.args[index], types.float32)

        return builder.call(function, [char(0), char(1), count(2), count(3), count(4),
                                       scalar(5), data(6), count(7), data(8), count(9),
                                       scalar(10), data(11), count(12)])
    return sig, codegen


_N, _T = ord("N"), ord("T")


def sgemm_into(A, W, Z):
    """See the module docstring (compiled code only)."""
    raise TypeError("sgemm_into is callable from Numba-compiled code only")


def sgemm_tn_into(A, B, C):
    """See the module docstring (compiled code only)."""
    raise TypeError("sgemm_tn_into is callable from Numba-compiled code only")


def sgemm_tn_add(alpha, A, B, C):
    """See the module docstring (compiled code only)."""
    raise TypeError("sgemm_tn_add is callable from Numba-compiled code only")


def sgemm_nt_into(A, B, C):
    """See the module docstring (compiled code only)."""
    raise TypeError("sgemm_nt_into is callable from Numba-compiled code only")


def _float32_matrices(*arrays):
    """None if not all 2-D arrays (no overload), False if not all C-contiguous float32
    (the call reports failure), else True."""
    if not all(isinstance(array, types.Array) and array.ndim == 2 for array in arrays):
        return None
    return all(array.dtype == types.float32 and array.layout == "C" for array in arrays)


@register_jitable(inline="always")
def _gemm(transa, transb, alpha, A, B, beta, C):
    """``C = alpha * op(A) @ op(B) + beta * C`` for row-major ``A``, ``B``, ``C`` as stored
    (the leading dimensions are their column counts); True if oneDNN did it."""
    m, n = C.shape
    k = A.shape[0] if transa == _T else A.shape[1]
    return _dnnl_sgemm(transa, transb, m, n, k, alpha, A, A.shape[1], B, B.shape[1], beta,
                       C, n) == 0


def _when_float32(arrays, impl, refused):
    """An overload's choice: ``impl`` for C-contiguous float32 matrices, ``refused`` (which
    reports failure) for other arrays, no overload for anything else."""
    usable = _float32_matrices(*arrays)
    return None if usable is None else (impl if usable else refused)


@overload(sgemm_into, inline="always")
def _sgemm_into(A, W, Z):
    return _when_float32((A, W, Z), lambda A, W, Z: _gemm(_N, _N, 1.0, A, W, 0.0, Z),
                         lambda A, W, Z: False)


@overload(sgemm_tn_into, inline="always")
def _sgemm_tn_into(A, B, C):
    return _when_float32((A, B, C), lambda A, B, C: _gemm(_T, _N, 1.0, A, B, 0.0, C),
                         lambda A, B, C: False)


@overload(sgemm_tn_add, inline="always")
def _sgemm_tn_add(alpha, A, B, C):
    return _when_float32((A, B, C),
                         lambda alpha, A, B, C: _gemm(_T, _N, alpha, A, B, 1.0, C),
                         lambda alpha, A, B, C: False)


@overload(sgemm_nt_into, inline="always")
def _sgemm_nt_into(A, B, C):
    return _when_float32((A, B, C), lambda A, B, C: _gemm(_N, _T, 1.0, A, B, 0.0, C),
                         lambda A, B, C: False)
