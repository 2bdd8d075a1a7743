"""Checks and conversions at the public boundary, done once before any backend runs.

Everything a backend receives has passed through here: a C-contiguous array of the
network's dtype, of the right shape, with finite values; or, for a sparse ``X``, a
canonical CSR matrix of the network's dtype (:func:`as_sparse_inputs`); and sample
weights as :func:`as_sample_weight` returns them.
"""

from __future__ import annotations

import math
import numbers
import sys

import numpy as np

from fastnn.functions import LOSSES

# The dtype objects arrays of the supported dtypes carry; an identity check against
# them is the cheapest "already the right dtype" test on the per-call fast path.
_NATIVE_DTYPES = {name: np.dtype(name) for name in ("float64", "float32")}


def as_float_array(values, name, dtype):
    """Convert ``values`` to a C-contiguous float array of ``dtype``.

    Integer, boolean and float inputs of any memory layout (Fortran-ordered, strided,
    read-only) and nested lists are accepted and copied only where needed.

    Raises
    ------
    TypeError
        For complex, string, object or other non-numeric data.
    ValueError
        For ragged nested lists, NaN or infinity.
    """
    try:
        array = np.asarray(values)
    except ValueError as exc:
        raise ValueError(f"{name} could not be read as an array: {exc}") from exc
    if array.dtype.kind == "c":
        raise TypeError(f"{name} must be real numbers; got complex dtype {array.dtype}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric (int, bool or float); got dtype {array.dtype}")
    array = np.ascontiguousarray(array, dtype=dtype)
    if not all_finite(array):
        raise ValueError(f"{name} contains NaN or infinity")
    return array


def all_finite(values):
    """True if every value is finite (no NaN, no infinity).

    Parameters
    ----------
    values : float or array-like of any shape

    Returns
    -------
    bool
    """
    if type(values) is np.ndarray and values.flags.c_contiguous and values.dtype.kind == "f":
        return _finite_float_array(values)
    if isinstance(values, float):
        return math.isfinite(values)
    return bool(np.isfinite(values).all())


def as_inputs(X, spec):
    """Validate a batch (or one sample) of inputs.

    Parameters
    ----------
    X : array-like, shape (m, n_inputs) or (n_inputs,)
    spec : NetworkSpec

    Returns
    -------
    X2d : ndarray, shape (m, n_inputs), dtype spec.dtype
        Or a canonical CSR matrix if ``X`` is sparse (see :func:`as_sparse_inputs`).
    single : bool
        True if ``X`` was one 1-D sample.
    """
    if _is_clean(X, spec.dtype, spec.layer_sizes[0]):
        return (X[np.newaxis], True) if X.ndim == 1 else (X, False)
    if is_sparse(X):
        return as_sparse_inputs(X, spec), False
    X = as_float_array(X, "X", spec.dtype)
    single = X.ndim == 1
    if single:
        X = X.reshape(1, -1)
    if X.ndim != 2:
        raise ValueError(f"X must be 1-D (one sample) or 2-D (n_samples, n_features); "
                         f"got {X.ndim}-D with shape {X.shape}")
    if X.shape[1] != spec.n_inputs:
        raise ValueError(f"X has {X.shape[1]} features per sample, but the network's "
                         f"input layer has {spec.n_inputs}")
    return X, single


def is_sparse(X):
    """``scipy.sparse.issparse(X)``, without importing SciPy: no object is a SciPy sparse
    matrix unless ``scipy.sparse`` has been imported."""
    if "scipy.sparse" not in sys.modules:
        return False
    # imported already, or being imported by another thread (the statement waits for it)
    from scipy.sparse import issparse

    return issparse(X)


def as_training_batch(X, T, spec):
    """Validate inputs and targets for a loss, gradient or training step.

    Parameters
    ----------
    X : array-like, shape (m, n_inputs) or (n_inputs,), or a scipy.sparse matrix
    T : array-like, shape (m, n_outputs) or (n_outputs,) for one sample;
        shape (m,) is accepted when ``n_outputs == 1``. Non-negative for a loss with
        ``nonnegative_targets`` (poisson).
    spec : NetworkSpec

    Returns
    -------
    X : ndarray, shape (m, n_inputs), or a canonical CSR matrix
    T : ndarray, shape (m, n_outputs)
    """
    X, single = as_inputs(X, spec)
    if X.shape[0] == 0:
        raise ValueError("empty batch: the loss is a mean over samples and needs at least one")
    m, n_out = X.shape[0], spec.n_outputs
    if _is_clean(T, spec.dtype, n_out):
        if T.ndim == 2 and T.shape[0] == m:
            if spec.loss in _NONNEGATIVE_TARGET_LOSSES:
                check_targets(T, spec)
            return X, T
        if T.ndim == 1 and single:
            return X, check_targets(T[np.newaxis], spec)
    T = as_float_array(T, "T", spec.dtype)
    if single and T.shape == (n_out,):
        T = T.reshape(1, n_out)
    elif T.ndim == 1 and n_out == 1 and T.shape[0] == m:
        T = T.reshape(m, 1)
    if T.shape != (m, n_out):
        raise ValueError(f"T must have shape ({m}, {n_out}) to match X's {m} samples and "
                         f"the network's {n_out} outputs; got {T.shape}")
    return X, check_targets(T, spec)


def as_sparse_inputs(X, spec):
    """Validate a scipy.sparse batch of inputs and convert it once to canonical CSR.

    CSR, CSC, COO (and the other SciPy formats) are accepted; the result is a CSR matrix
    of ``spec.dtype`` with sorted column indices and no duplicates (duplicates summed),
    C-contiguous ``data``/``indices``/``indptr``. ``X`` itself is never modified and is
    copied only where it is not already in that form. Its index structure is checked
    (:func:`check_sparse_structure`) before anything, SciPy included, reads through it.

    Parameters
    ----------
    X : scipy.sparse matrix or array, shape (m, n_inputs)
    spec : NetworkSpec

    Returns
    -------
    scipy.sparse.csr_matrix or csr_array, shape (m, n_inputs)

    Raises
    ------
    TypeError
        For complex or non-numeric data.
    ValueError
        For a wrong number of features, a malformed index structure, or NaN or infinity
        among the stored values.
    """
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must be real numbers (int, bool or float); got sparse data of "
                        f"dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"a sparse X must be 2-D (n_samples, n_features); got shape {X.shape}")
    if X.shape[1] != spec.n_inputs:
        raise ValueError(f"X has {X.shape[1]} features per sample, but the network's "
                         f"input layer has {spec.n_inputs}")
    return canonical_csr(X, spec.dtype)


def canonical_csr(X, dtype, name="X"):
    """``X`` (any 2-D scipy.sparse format) as a canonical CSR matrix of ``dtype``.

    The structure is checked first (:func:`check_sparse_structure`); the result has
    sorted column indices without duplicates (duplicates summed), int32 or int64 index
    arrays and C-contiguous ``data``/``indices``/``indptr`` holding exactly ``nnz``
    entries. Sortedness is tested on the arrays, not read from SciPy's cached flag,
    which a caller's in-place edit leaves stale. ``X`` is never modified.

    Parameters
    ----------
    X : scipy.sparse matrix or array, shape (m, n)
    dtype : str
    name : str
        The argument's name in error messages.

    Returns
    -------
    scipy.sparse.csr_matrix or csr_array, shape (m, n)

    Raises
    ------
    ValueError
        A malformed structure, or NaN or infinity among the stored values.
    """
    checked = checked_sparse(X, name)
    csr = checked.tocsr()
    if csr is not checked:
        check_sparse_structure(csr, name)  # what a conversion built is checked as well
    data, indices, indptr = csr.data, csr.indices, csr.indptr
    nnz = int(indptr[-1])
    fresh = (len(data) != nnz or indices.dtype not in _INDEX_DTYPES
             or indptr.dtype not in _INDEX_DTYPES or data.dtype != np.dtype(dtype)
             or not all(array.flags.c_contiguous for array in (data, indices, indptr)))
    canonical = _rows_strictly_increasing(indices[:nnz], indptr)
    if fresh or not canonical:
        index_dtype = np.int64 if (indices.dtype not in _INDEX_DTYPES
                                   or indptr.dtype not in _INDEX_DTYPES) else None
        # A new matrix: SciPy recomputes its (possibly stale) canonical-format flags.
        csr = type(csr)((np.array(data[:nnz], dtype=dtype),
                         np.array(indices[:nnz], dtype=index_dtype or indices.dtype),
                         np.array(indptr, dtype=index_dtype or indptr.dtype)), shape=csr.shape)
        if not canonical:
            csr.sum_duplicates()
    if not all_finite(csr.data):
        raise ValueError(f"{name} (sparse) contains NaN or infinity among its stored values")
    return csr


def checked_sparse(X, name="X"):
    """``X`` with its index structure checked (:func:`check_sparse_structure`): ``X``
    itself for CSR, CSC, BSR and COO, its ``tocoo()`` for the Python-level formats (LIL,
    DOK, DIA), whose conversion to COO reads no index unchecked. Safe to convert to any
    format afterwards; ``X`` is never modified.

    Parameters
    ----------
    X : scipy.sparse matrix or array, 2-D
    name : str

    Returns
    -------
    scipy.sparse matrix or array, the same values as ``X``
    """
    if X.format not in _COMPRESSED_FORMATS and X.format != "coo":
        X = X.tocoo()
    check_sparse_structure(X, name)
    return X


def check_sparse_structure(X, name="X"):
    """Raise a ValueError unless the index arrays of ``X`` are what its format promises.

    SciPy builds such a matrix without complaint from arrays a caller hands it, and its
    own conversions, like fastnn's kernels, read memory through the indices unchecked:
    an index out of range reads or writes outside the arrays. Checked, in O(nnz):
    CSR / CSC / BSR: integer 1-D ``indptr`` of length (rows or columns, in blocks) + 1,
    starting at 0, non-decreasing, ending at most at ``len(indices)``; ``indices`` as
    long as ``data``, each in ``[0, n)`` of the other dimension; COO: integer
    coordinates as long as ``data``, each within the shape. Other formats (LIL, DOK,
    DIA) hold Python-level structures; convert them with ``tocoo()`` and check that.

    Parameters
    ----------
    X : scipy.sparse matrix or array, 2-D
    name : str
        The argument's name in error messages.

    Raises
    ------
    ValueError
        Naming the array and what is wrong with it.
    """
    shape = X.shape
    if len(shape) != 2 or min(shape) < 0:
        raise ValueError(f"a sparse {name} must be 2-D (n_samples, n_features); got shape "
                         f"{shape}")
    if X.format == "coo":
        coords = getattr(X, "coords", None) or (X.row, X.col)
        n_data = _length(X.data, name, "data", X.format)
        for axis, (index, size) in enumerate(zip(coords, shape)):
            label = ("row", "col")[axis]
            index = _index_array(index, name, label, X.format)
            if len(index) != n_data:
                raise ValueError(f"sparse {name} (coo) is malformed: {label} has {len(index)} "
                                 f"entries but data has {n_data}")
            _check_range(index, size, name, label, X.format)
        return
    if X.format not in _COMPRESSED_FORMATS:
        raise ValueError(f"sparse {name} in {X.format!r} format: convert it with .tocoo() "
                         f"before checking its structure")
    block_rows, block_cols = X.blocksize if X.format == "bsr" else (1, 1)
    rows, cols = shape[0] // block_rows, shape[1] // block_cols
    major, minor = (cols, rows) if X.format == "csc" else (rows, cols)
    indptr = _index_array(X.indptr, name, "indptr", X.format)
    indices = _index_array(X.indices, name, "indices", X.format)
    n_data = _length(X.data, name, "data", X.format)
    if len(indptr) <= _SMALL and len(indices) <= _SMALL:
        # A few values (one sample, say): Python on lists beats a dozen NumPy calls.
        problem = _small_compressed_problem(indptr.tolist(), indices.tolist(), n_data,
                                            major, minor)
        if problem:
            raise ValueError(f"sparse {name} ({X.format}) is malformed: {problem}")
        return
    problem = None
    if len(indptr) != major + 1:
        problem = f"indptr has {len(indptr)} entries, not {major + 1}"
    elif indptr[0] != 0:
        problem = f"indptr starts at {int(indptr[0])}, not 0"
    elif major and np.any(indptr[1:] < indptr[:-1]):
        problem = "indptr decreases somewhere (it must be non-decreasing)"
    elif len(indices) != n_data:
        problem = f"indices has {len(indices)} entries but data has {n_data}"
    elif indptr[-1] > len(indices):
        problem = f"indptr ends at {int(indptr[-1])}, past the {len(indices)} stored entries"
    if problem:
        raise ValueError(f"sparse {name} ({X.format}) is malformed: {problem}")
    _check_range(indices[:int(indptr[-1])], minor, name, "indices", X.format)


_COMPRESSED_FORMATS = ("csr", "csc", "bsr")
# Up to this many index values, the structure checks run in Python on lists.
_SMALL = 64


def _small_compressed_problem(indptr, indices, n_data, major, minor):
    """:func:`check_sparse_structure`'s tests for a compressed format, on lists: the
    problem found (a message), or None."""
    if len(indptr) != major + 1:
        return f"indptr has {len(indptr)} entries, not {major + 1}"
    if indptr[0] != 0:
        return f"indptr starts at {indptr[0]}, not 0"
    if any(later < earlier for earlier, later in zip(indptr, indptr[1:])):
        return "indptr decreases somewhere (it must be non-decreasing)"
    if len(indices) != n_data:
        return f"indices has {len(indices)} entries but data has {n_data}"
    if indptr[-1] > len(indices):
        return f"indptr ends at {indptr[-1]}, past the {len(indices)} stored entries"
    for index in indices[:indptr[-1]]:
        if not 0 <= index < minor:
            return f"indices holds {index}, outside [0, {minor})"
    return None
_INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


def _index_array(values, name, label, fmt):
    if not (isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "iu"):
        kind = getattr(values, "dtype", type(values).__name__)
        raise ValueError(f"sparse {name} ({fmt}) is malformed: {label} must be a 1-D integer "
                         f"array; got {kind} of shape {np.shape(values)}")
    return values


def _length(data, name, label, fmt):
    if not isinstance(data, np.ndarray) or data.ndim not in (1, 3):
        raise ValueError(f"sparse {name} ({fmt}) is malformed: {label} must be an array of "
                         f"stored values; got shape {np.shape(data)}")
    return data.shape[0]


def _check_range(index, size, name, label, fmt):
    if len(index) == 0:
        return
    low, high = int(index.min()), int(index.max())
    if low < 0 or high >= size:
        bad = low if low < 0 else high
        raise ValueError(f"sparse {name} ({fmt}) is malformed: {label} holds {bad}, outside "
                         f"[0, {size})")


def _rows_strictly_increasing(indices, indptr):
    """Whether every row's column indices increase strictly (sorted, no duplicates)."""
    if len(indices) < 2:
        return True
    if len(indices) <= _SMALL and len(indptr) <= _SMALL:
        columns, bounds = indices.tolist(), indptr.tolist()
        return all(all(a < b for a, b in zip(columns[start:stop], columns[start + 1:stop]))
                   for start, stop in zip(bounds, bounds[1:]))
    step_ok = indices[1:] > indices[:-1]
    # Steps across a row boundary do not count: the entry at a row's start may be smaller.
    starts = indptr[1:-1]
    starts = starts[(starts > 0) & (starts < len(indices))]
    step_ok[starts - 1] = True
    return bool(step_ok.all())


def as_sample_weight(sample_weight, n_samples, dtype):
    """Validate per-sample weights for a weighted mean loss.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,), or None
    n_samples : int
        The number of rows of the batch the weights go with.
    dtype : str
        The network's dtype.

    Returns
    -------
    ndarray of shape (n_samples,) and ``dtype``, C-contiguous, or None

    Raises
    ------
    TypeError
        Non-numeric weights.
    ValueError
        Wrong shape or length, NaN or infinity, a negative weight, or weights whose sum
        is not positive (all zero) or does not have a finite reciprocal. Every message
        names ``sample_weight``.
    """
    if sample_weight is None:
        return None
    try:
        weights = np.asarray(sample_weight)
    except ValueError as exc:
        raise ValueError(f"sample_weight could not be read as an array: {exc}") from exc
    if weights.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight must be numeric; got dtype {weights.dtype}")
    if weights.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},), one weight per "
                         f"sample; got shape {weights.shape}")
    weights = np.ascontiguousarray(weights, dtype=dtype)
    if not all_finite(weights):
        raise ValueError("sample_weight contains NaN or infinity")
    if np.any(weights < 0):
        raise ValueError("sample_weight must be non-negative; got a negative weight")
    # Summed, and inverted, in the network's dtype, as the backends do.
    with np.errstate(over="ignore"):  # an overflowing sum is the error raised below
        total = np.sum(weights)
    if total == 0:
        raise ValueError("sample_weight sums to 0 (every weight is zero): the weighted "
                         "mean loss is undefined")
    with np.errstate(over="ignore", divide="ignore"):
        reciprocal = np.reciprocal(total)
    total = float(total)
    if not (math.isfinite(total) and np.isfinite(reciprocal)):
        raise ValueError(f"sample_weight sums to {total!r}, out of the range a weighted "
                         f"mean can be formed in")
    return weights


def check_targets(T, spec):
    """Return ``T`` after the check its loss needs: non-negative targets for a loss with
    ``nonnegative_targets`` (poisson; ``log t`` is taken), a ValueError otherwise.

    Parameters
    ----------
    T : ndarray, shape (m, n_outputs), validated
    spec : NetworkSpec
    """
    if spec.loss in _NONNEGATIVE_TARGET_LOSSES and np.any(T < 0):
        raise ValueError(f"the {spec.loss} loss needs non-negative targets T; got a "
                         f"minimum of {float(T.min())!r}")
    return T


def as_layer_params(weights, biases, spec):
    """Validate per-layer parameters against ``spec`` and copy them into arrays.

    Returns
    -------
    weights : list of ndarray, shapes (n_in, n_out)
    biases : list of ndarray, shapes (n_out,)
    """
    n_layers = spec.n_layers
    weights, biases = list(weights), list(biases)
    if len(weights) != n_layers or len(biases) != n_layers:
        raise ValueError(f"expected {n_layers} weight matrices and {n_layers} bias vectors "
                         f"for layer sizes {list(spec.layer_sizes)}; got {len(weights)} "
                         f"and {len(biases)}")
    sizes = spec.layer_sizes
    checked_w, checked_b = [], []
    for layer, (W, b) in enumerate(zip(weights, biases)):
        W = as_float_array(W, f"weights[{layer}]", spec.dtype)
        b = as_float_array(b, f"biases[{layer}]", spec.dtype)
        if W.shape != (sizes[layer], sizes[layer + 1]):
            raise ValueError(f"weights[{layer}] must have shape "
                             f"{(sizes[layer], sizes[layer + 1])}; got {W.shape}")
        if b.shape != (sizes[layer + 1],):
            raise ValueError(
                f"biases[{layer}] must have shape ({sizes[layer + 1]},); got {b.shape}")
        checked_w.append(W)
        checked_b.append(b)
    return checked_w, checked_b


class PlainArrays:
    """What a plain input of one network is: one that needs no conversion, copy or check
    but finiteness, which backends with ``bind`` test inside their kernels (the per-call
    fast path of ``MLP``).

    A plain ``X`` is a writable, aligned, C-contiguous ndarray of the network's dtype
    (``flags.carray``): one sample of ``n_inputs`` values, or a non-empty 2-D batch of
    them. A plain ``T`` is likewise,
    shaped like the output for those rows, for a loss without a sign condition on its
    targets. Anything else goes through :func:`as_inputs` / :func:`as_training_batch`,
    which convert it or raise the errors.

    Parameters
    ----------
    spec : NetworkSpec

    Attributes
    ----------
    dtype : numpy.dtype
        The dtype object the arrays of the network's dtype carry (tested by identity).
    n_inputs : int
    sample_shape : tuple
        ``(n_inputs,)``.
    """

    __slots__ = ("dtype", "n_inputs", "sample_shape", "_target_shape", "_n_outputs")

    def __init__(self, spec):
        self.dtype = _NATIVE_DTYPES[spec.dtype]
        self.n_inputs = spec.n_inputs
        self.sample_shape = (spec.n_inputs,)
        # A width no array has for a loss with a sign condition: it takes the checked path.
        self._n_outputs = None if spec.loss in _NONNEGATIVE_TARGET_LOSSES else spec.n_outputs
        self._target_shape = (self._n_outputs,)

    def batch(self, X, T):
        """``X`` and ``T`` as 2-D arrays if both are plain, else ``(None, None)``.

        Returns
        -------
        X2d : ndarray, shape (m, n_inputs), or None
        T2d : ndarray, shape (m, n_outputs), or None
        """
        # flags.carray: C-contiguous, writable and aligned, in one flag test. Indexing by
        # None is np.newaxis without its two lookups.
        if type(X) is np.ndarray and type(T) is np.ndarray and X.dtype is self.dtype \
                and T.dtype is self.dtype and X.flags.carray and T.flags.carray:
            x_shape, t_shape = X.shape, T.shape
            if x_shape == self.sample_shape:
                if t_shape == self._target_shape:
                    return X[None], T[None]
            elif (len(x_shape) == 2 and x_shape[0] and x_shape[1] == self.n_inputs
                  and t_shape == (x_shape[0], self._n_outputs)):
                return X, T
        return None, None


def _is_clean(values, dtype, width):
    """True if ``values`` needs no conversion: an ndarray of ``dtype``, C-contiguous,
    1-D of length ``width`` or 2-D with ``width`` columns, and finite.

    The per-call fast path: any other input goes through the full conversion, which
    raises the errors.
    """
    return (type(values) is np.ndarray and values.dtype is _NATIVE_DTYPES.get(dtype)
            and values.flags.c_contiguous and 0 < values.ndim <= 2
            and values.shape[-1] == width and _finite_float_array(values))


# The losses whose targets must be non-negative (the table's flag).
_NONNEGATIVE_TARGET_LOSSES = frozenset(name for name, entry in LOSSES.items()
                                       if entry.nonnegative_targets)


def _finite_float_array(array):
    """:func:`all_finite` for a C-contiguous float ndarray."""
    flat = array if array.ndim == 1 else array.reshape(-1)
    scale = _SCALES.get(flat.dtype)
    if scale is None or flat.shape[0] > scale.shape[0]:
        return bool(np.isfinite(flat).all())
    # Every |x| * 2**-16 summed over at most 4096 values stays below the largest float,
    # so the dot product is finite exactly when every value is, and valid input never
    # warns (a sum of squares overflows from |x| > 1e154); one BLAS call costs a fraction
    # of isfinite().all() on small arrays. An infinity gives inf or NaN (a NaN from
    # +inf and -inf together comes with numpy's "invalid value" warning).
    return math.isfinite(flat.dot(scale[:flat.shape[0]]))


# Weight vectors for _finite_float_array (a power of two: no rounding, and for float32
# 2**-16 * 4096 * 3.4e38 is finite too); larger arrays take isfinite().all(), whose
# cost per value is as small as the dot's once the call overhead no longer dominates.
_SCALES = {dtype: np.full(4096, 2.0 ** -16, dtype=dtype) for dtype in _NATIVE_DTYPES.values()}


def check_learning_rate(learning_rate):
    """Return ``learning_rate`` as a float if it is a positive finite real number."""
    if type(learning_rate) is float and 0.0 < learning_rate < math.inf:
        return learning_rate  # the per-call fast path (isinstance checks cost more)
    check_positive_real("learning rate", learning_rate)
    return float(learning_rate)


def check_positive_int(name, value):
    """Raise unless ``value`` is an integer (not a bool) of at least 1."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer; got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")


def check_real(name, value):
    """Raise unless ``value`` is a finite real number (not a bool)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}")


def check_positive_real(name, value):
    """Raise unless ``value`` is a finite real number above 0."""
    check_real(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be positive; got {value!r}")


def check_real_in(name, value, low, high, open_high=False):
    """Raise unless ``value`` is a finite real number in [low, high] (or [low, high))."""
    check_real(name, value)
    too_high = value >= high if open_high else value > high
    if value < low or too_high:
        bracket = ")" if open_high else "]"
        raise ValueError(f"{name} must be in [{low}, {high}{bracket}; got {value!r}")


def check_bool(name, value):
    """Raise unless ``value`` is True or False (a Python or NumPy bool)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}")
