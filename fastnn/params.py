"""Network parameters: one flat buffer with per-layer ``W``/``b`` views, init schemes, files.

Layout of the flat buffer, layer by layer: ``W[l]`` (``n_in * n_out`` values, row-major
``(n_in, n_out)``) followed by ``b[l]`` (``n_out`` values). Backends receive the flat
buffer plus the layer sizes; the model hands users the views.
"""

from __future__ import annotations

import json
import operator
import os
import tokenize
import zipfile

import numpy as np

from fastnn.atomic import atomic_write
from fastnn.functions import ACTIVATIONS
from fastnn.schemas import (
    MODEL_FILE,
    MODEL_FILE_FORMAT,
    MODEL_FILE_METADATA,
    MODEL_FILE_VERSIONS,
    NETWORK_SPEC,
    SchemaError,
    check,
)
from fastnn.spec import NetworkSpec, check_name

INIT_SCHEMES = ("auto", "uniform01", "normal", "xavier", "he")
FILE_FORMAT = MODEL_FILE_FORMAT
FILE_VERSION = MODEL_FILE_VERSIONS[-1]


def parameter_count(layer_sizes):
    """Number of values in the flat buffer for ``layer_sizes``."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))


def layer_slices(layer_sizes):
    """Per layer, the ``(weights, bias)`` slices of the flat buffer.

    Returns
    -------
    list of (slice, slice)
    """
    slices = []
    start = 0
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        w_end = start + n_in * n_out
        slices.append((slice(start, w_end), slice(w_end, w_end + n_out)))
        start = w_end + n_out
    return slices


def layer_views(flat, layer_sizes):
    """Views of ``flat`` as per-layer weight matrices and bias vectors.

    Parameters
    ----------
    flat : ndarray, shape (parameter_count(layer_sizes),)
    layer_sizes : sequence of int

    Returns
    -------
    weights : list of ndarray, shapes (n_in, n_out)
    biases : list of ndarray, shapes (n_out,)
        Views: writing to them writes to ``flat``.
    """
    layout = _LAYOUTS.get(layer_sizes) if type(layer_sizes) is tuple else None
    if layout is None:
        layout = _layout(layer_sizes)
        if type(layer_sizes) is tuple and len(_LAYOUTS) < _MAX_CACHED_LAYOUTS:
            _LAYOUTS[layer_sizes] = layout
    cut_weights, shapes, cut_biases = layout
    return list(map(_reshape, cut_weights(flat), shapes)), list(cut_biases(flat))


def _layout(layer_sizes):
    """What :func:`layer_views` cuts, computed once per architecture (it runs on every
    ``MLP.gradients`` call): the weight slices' getter, their shapes, the biases' getter.

    A getter returns the tuple of views ``(flat[slice], ...)``; ``operator.itemgetter``
    cuts them in one C call, a quarter faster than a loop over the slices.
    """
    slices = layer_slices(layer_sizes)
    shapes = [(int(n_in), int(n_out)) for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:])]
    return (_getter([w_slice for w_slice, _ in slices]), shapes,
            _getter([b_slice for _, b_slice in slices]))


def _getter(slices):
    if len(slices) == 1:  # itemgetter of one item returns it bare, not in a tuple
        only = slices[0]
        return lambda flat: (flat[only],)
    return operator.itemgetter(*slices)


_reshape = np.ndarray.reshape

# layer_sizes tuple -> _layout; bounded, since architectures are few in practice.
_LAYOUTS = {}
_MAX_CACHED_LAYOUTS = 1024


def flatten(weights, biases, dtype="float64"):
    """Concatenate per-layer arrays into one flat buffer (the inverse of :func:`layer_views`)."""
    parts = []
    for w, b in zip(weights, biases):
        parts.append(np.asarray(w).ravel())
        parts.append(np.asarray(b).ravel())
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


def resolve_init(init, activation):
    """Turn ``"auto"`` into a concrete scheme: the hidden activation's ``init`` family.

    ``he`` or ``xavier``, as :data:`fastnn.functions.ACTIVATIONS` declares per activation.
    """
    init = check_name("init", init, INIT_SCHEMES)
    if init != "auto":
        return init
    return ACTIVATIONS[activation].init


def init_params(spec, init="auto", rng=None):
    """Draw initial parameters for ``spec``.

    Parameters
    ----------
    spec : NetworkSpec
    init : {"auto", "uniform01", "normal", "xavier", "he"}
        ``uniform01``: weights and biases from U[0, 1) (tutorial A);
        ``normal``: weights and biases from N(0, 1) (tutorial B);
        ``xavier``: weights from N(0, 2 / (n_in + n_out)), biases 0 (Glorot);
        ``he``: weights from N(0, 2 / n_in), biases 0;
        ``auto``: the ``init`` family (``he`` or ``xavier``) of the hidden activation's
        entry in :data:`fastnn.functions.ACTIVATIONS`.
    rng : numpy.random.Generator, int or None
        Passed to ``numpy.random.default_rng``.

    Returns
    -------
    flat : ndarray, shape (parameter_count(spec.layer_sizes),), dtype spec.dtype
    """
    scheme = resolve_init(init, spec.activation)
    rng = np.random.default_rng(rng)
    flat = np.empty(parameter_count(spec.layer_sizes), dtype=np.float64)
    for w_slice, b_slice in layer_slices(spec.layer_sizes):
        n_out = b_slice.stop - b_slice.start
        n_in = (w_slice.stop - w_slice.start) // n_out
        flat[w_slice], flat[b_slice] = _draw_layer(scheme, n_in, n_out, rng)
    return flat.astype(spec.dtype)


def save_params(path, spec, flat):
    """Write a network to an ``.npz`` file atomically; loadable with ``allow_pickle=False``.

    Parameters
    ----------
    path : str or os.PathLike
    spec : NetworkSpec
    flat : ndarray, shape (parameter_count(spec.layer_sizes),)
    """
    with atomic_write(path, "wb") as handle:
        np.savez(handle, format=np.array(FILE_FORMAT), version=np.array(FILE_VERSION),
                 spec=np.array(json.dumps(spec.to_dict())), params=np.asarray(flat))


def load_params(path):
    """Read a file written by :func:`save_params`, checked against its declared schema
    (:data:`fastnn.schemas.MODEL_FILE`) before anything is built from it.

    Nothing is unpickled or executed: the file is read as a zip archive of ``.npy``
    members whose headers are checked (no object dtype, sizes within the member's
    bytes and :data:`MAX_MEMBER_BYTES`) before any array is allocated.

    Returns
    -------
    spec : NetworkSpec
    flat : ndarray, shape (parameter_count(spec.layer_sizes),)

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` is a directory or not a readable fastnn model file (a plain ``.npy``
        array, a foreign ``.npz``, a version other than the integer
        :data:`FILE_VERSION`), or its parameters do not match its spec or are not finite.
        A :class:`fastnn.schemas.SchemaError` (a ValueError) names the field.
    """
    name = os.fspath(path)
    if os.path.isdir(name):
        raise ValueError(f"{name} is a directory, not a fastnn model file (.npz from MLP.save)")
    with open(name, "rb") as handle:  # FileNotFoundError as it is
        magic = handle.read(len(_NPY_MAGIC))
    if magic == _NPY_MAGIC:
        raise ValueError(f"{name} is a single NumPy array (.npy), not a fastnn model file "
                         f"(an .npz written by MLP.save)")
    try:
        return _read_model(name)
    except SchemaError as exc:
        raise _explained(exc, name) from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError, MemoryError,
            NotImplementedError, RuntimeError, SyntaxError, tokenize.TokenError,
            RecursionError) as exc:
        # NumPy parses a member's header as a Python literal: a corrupt one raises
        # SyntaxError or TokenError (found by tests/test_fuzz_files.py).
        raise ValueError(f"{name} is not a readable fastnn model file: {exc}") from exc


# A member larger than this is refused before it is read (a network of 2**27 float64
# parameters is far beyond what fastnn runs).
MAX_MEMBER_BYTES = 2**30
# The members other than ``params`` (format, version, spec) are small: a spec's JSON
# is a few hundred bytes.
MAX_METADATA_BYTES = 2**16
_NPY_MAGIC = b"\x93NUMPY"
# The header of an .npy member (magic, version, length, the header dict), at most.
_MAX_NPY_HEADER_BYTES = 2**16


def _read_model(name):
    """Read and check a model file in an order that bounds what is read by what is declared.

    The member names are checked against :data:`fastnn.schemas.MODEL_FILE` before any
    member's data is read; the small members (format, version, spec) are read with a small
    bound and checked; the ``params`` member must then declare exactly the spec's
    parameter count, which bounds the one large read.
    """
    with zipfile.ZipFile(name) as archive:
        members = _member_infos(archive, name)
        values = {member: _python_value(_read_array(archive, info, member,
                                                    MAX_METADATA_BYTES))
                  for member, info in members.items() if member != "params"}
        try:
            check(values, MODEL_FILE_METADATA, name)
        except SchemaError as exc:
            raise _explained(exc, name, values.get("version")) from None
        spec = _parse_spec(name, values["spec"])
        expected = parameter_count(spec.layer_sizes)
        values["params"] = _read_array(archive, members["params"], "params",
                                       MAX_MEMBER_BYTES, count=expected)
    check(values, MODEL_FILE, name)
    return spec, _checked_params(name, spec, values["params"], expected)


def _member_infos(archive, name):
    """Member name -> ZipInfo, the names checked against the schema before any data is read."""
    infos = {}
    for info in archive.infolist():
        member = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        if member in infos:
            raise ValueError(f"member {member!r} appears twice")
        if member not in MODEL_FILE.names:
            raise SchemaError(name, member, f"is not a field of a {MODEL_FILE.title} (its "
                                            f"fields: {', '.join(MODEL_FILE.names)})")
        infos[member] = info
    for entry in MODEL_FILE.fields:
        if entry.name not in infos:
            raise SchemaError(name, entry.name, f"is missing ({MODEL_FILE.title})")
    return infos


def _read_array(archive, info, member, max_bytes, count=None):
    """One ``.npy`` member; its header is checked (no objects, at most ``max_bytes`` of
    data, exactly ``count`` values if given) before its data is read."""
    if info.file_size > max_bytes + _MAX_NPY_HEADER_BYTES:
        raise ValueError(f"member {member!r} is {info.file_size} bytes, above the "
                         f"limit of {max_bytes} for it")
    with archive.open(info) as handle:
        version = np.lib.format.read_magic(handle)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran_order, dtype = read_header(handle)
        if dtype.hasobject:
            raise ValueError(f"member {member!r} holds Python objects (refused: loading "
                             f"never unpickles)")
        size = int(np.prod(shape, dtype=object))
        if count is not None and (len(shape) != 1 or size != count):
            raise ValueError(f"member {member!r} declares shape {shape}: parameters that do "
                             f"not match the spec (expected {count} values)")
        nbytes = size * dtype.itemsize
        if nbytes > min(info.file_size, max_bytes):
            raise ValueError(f"member {member!r} declares shape {shape} of {dtype}, more than "
                             f"its {info.file_size} bytes (or the limit of {max_bytes})")
        data = handle.read(nbytes)
    array = np.frombuffer(data, dtype=dtype, count=size)
    return array.reshape(shape, order="F" if fortran_order else "C")


def _parse_spec(path, text):
    try:
        spec_dict = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} holds an invalid network spec: {exc}") from exc
    check(spec_dict, NETWORK_SPEC, str(path), prefix="spec")
    try:
        return NetworkSpec.from_dict(spec_dict)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path} holds an invalid network spec: {exc}") from exc


def _checked_params(path, spec, flat, expected):
    if flat.ndim != 1 or flat.size != expected or flat.dtype.kind != "f":
        raise ValueError(f"{path}: parameters of shape {flat.shape} and dtype {flat.dtype} do "
                         f"not match the spec (expected {expected} floats for "
                         f"{list(spec.layer_sizes)})")
    with np.errstate(over="ignore"):
        params = flat.astype(spec.dtype)
    # Checked after the cast: a float64 value beyond float32's range becomes infinity.
    if not np.isfinite(params).all():
        raise ValueError(f"{path}: parameters contain NaN or infinity (or values too large "
                         f"for {spec.dtype})")
    return params


def _explained(exc, path, version=None):
    """A schema error of a model file, with what it means for the reader (once)."""
    if getattr(exc, "explained", False):
        return exc
    if exc.field == "version":
        shown = repr(version) if not hasattr(version, "shape") else f"array {version.tolist()!r}"
        hint = (f"model file version {shown[:40]}: this fastnn reads version {FILE_VERSION} "
                f"(an integer)")
    elif exc.field.startswith("spec"):
        hint = "the file holds an invalid network spec"
    else:
        hint = f"not a fastnn model file (an .npz written by MLP.save, format {FILE_FORMAT!r})"
    explained = SchemaError(path, exc.field, f"{exc.problem}; {hint}")
    explained.explained = True
    return explained


def _python_value(array):
    """A 0-d array as the Python value it holds (str, int, float, bool); else the array."""
    if getattr(array, "ndim", None) != 0:
        return array
    if array.dtype.kind == "U":
        return str(array)
    if array.dtype.kind in "iu":
        return int(array)
    if array.dtype.kind == "f":
        return float(array)
    if array.dtype.kind == "b":
        return bool(array)
    return array


def _draw_layer(scheme, n_in, n_out, rng):
    if scheme == "uniform01":
        return rng.random(n_in * n_out), rng.random(n_out)
    if scheme == "normal":
        return rng.standard_normal(n_in * n_out), rng.standard_normal(n_out)
    std = np.sqrt(2.0 / (n_in + n_out)) if scheme == "xavier" else np.sqrt(2.0 / n_in)
    return std * rng.standard_normal(n_in * n_out), np.zeros(n_out)
