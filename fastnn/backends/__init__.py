"""Backend registry: name -> backend, with aliases and a helpful error for unknown names.

Backends are imported lazily, so an optional backend that fails to import only removes
that backend from :func:`available_backends` (:func:`unavailable_backends` says why). The
required backends (:data:`REQUIRED`: their dependencies, Numba included, are core
dependencies of fastnn) fail loudly instead: a broken Numba install raises its ImportError.
The registry proper is :mod:`fastnn.backends.registry`; its names are re-exported here.

Every front door (:class:`fastnn.MLP`, the estimators of :mod:`fastnn.estimator`) turns
a ``backend=`` value into a backend object through :func:`resolve_backend`: a name (or an
alias) through :func:`for_network`, ``"auto"`` through :func:`resolve_auto`, which hands a
network whose compiled kernels are not cached yet to a tiered backend
(:mod:`fastnn.backends.tiered`) without importing Numba.
"""

from __future__ import annotations

# The registry itself lives in its own module (fastnn/backends/registry.py), which the
# tiered backend reads without importing this package's resolution.
from fastnn.backends.registry import (  # noqa: F401 (re-exported)
    _MODULES,
    ALIASES,
    REQUIRED,
    _import_errors,
    _load,
    _loaded,
    available_backends,
    canonical_name,
    get,
    register,
    unavailable_backends,
)


def backends_where(**capabilities):
    """Available backends whose declared capabilities match, slowest first.

    Parameters
    ----------
    **capabilities
        Attribute values of :class:`fastnn.backends.base.Backend`, e.g.
        ``backends_where(is_baseline=True)`` or ``backends_where(is_reference=False)``.

    Returns
    -------
    list of str
    """
    return [name for name in available_backends()
            if all(getattr(_load(name), key) == value for key, value in capabilities.items())]


def reference_backend(time_limited_ok=True):
    """The backend the others are checked against.

    Parameters
    ----------
    time_limited_ok : bool
        False where the reference would be too slow for the case: the first
        baseline backend that is not time-limited stands in for it.

    Returns
    -------
    str
    """
    for name in backends_where(is_reference=True):
        if time_limited_ok or not _load(name).is_time_limited:
            return name
    for name in backends_where(is_baseline=True, is_time_limited=False):
        return name
    raise ValueError("no reference backend is available")


def fastest_backend(layer_sizes, batch_size=1, op="forward", dtype="float64"):
    """The name of the backend expected to be fastest for this case.

    Parameters
    ----------
    layer_sizes : sequence of int
    batch_size : int
    op : {"forward", "gradients", "train_step"}
    dtype : {"float64", "float32"}

    Returns
    -------
    str
    """
    from fastnn.backends.selection import choose_backend

    return choose_backend(layer_sizes, batch_size, op, dtype, available_backends())


AUTO = "auto"


def resolve_backend(name, spec, batch_size=1, op="forward", sparse=False, dtype=None,
                    check_dtype=True):
    """The backend object a network of ``spec`` computes on for ``backend=name``.

    The one resolution of a ``backend=`` value, used by :class:`fastnn.MLP` and the
    estimators alike: ``"auto"`` (any case) through :func:`resolve_auto` (the fastest
    for the case; tiered while compiled kernels are not cached yet), any other name or
    alias through :func:`for_network`.

    Parameters
    ----------
    name : str
        ``"auto"``, a registry name or an alias.
    spec : NetworkSpec
    batch_size : int
        Rows per call the network will see (``"auto"`` only); below 1 counts as 1.
    op : {"forward", "gradients", "train_step"}
        The operation to be fastest at (``"auto"`` only).
    sparse : bool
        Whether ``X`` will be sparse (``"auto"`` prefers a backend that takes it).
    dtype : str or None
        The dtype to compute in; default ``spec.dtype``.
    check_dtype : bool
        Raise if the backend does not compute in ``dtype`` (False: the caller adapts
        its spec, as the estimators fall back to float64).

    Returns
    -------
    Backend

    Raises
    ------
    ValueError
        Unknown or unavailable name, or (``check_dtype``) a backend that does not
        compute in ``dtype``.
    TypeError
        ``name`` is not a string.
    """
    dtype = dtype or spec.dtype
    if isinstance(name, str) and name.lower() == AUTO:
        backend = resolve_auto(spec, max(1, batch_size), op, sparse=sparse, dtype=dtype)
    else:
        backend = for_network(name)
    if check_dtype and dtype not in backend.dtypes:
        raise ValueError(f"backend {backend.name!r} computes in {', '.join(backend.dtypes)}; "
                         f"got dtype {dtype!r}")
    return backend


def resolve_auto(spec, batch_size=1, op="forward", sparse=False, dtype=None):
    """The backend ``backend="auto"`` gives a network of ``spec``.

    The fastest backend for the case among those that compute in ``dtype`` (and take a
    sparse ``X`` if ``sparse``, where any does); where that is a compiling backend and
    tiering is on (:func:`fastnn.backends.tiered.enabled`), a new
    :class:`fastnn.backends.tiered.TieredBackend` that serves NumPy while the kernels for
    ``spec`` compile in the background (not in the on-disk cache yet) or, compiled but
    Numba not imported in this process yet, while a thread imports Numba and loads them
    (:func:`fastnn.backends.tiered.loader_for`). Tiered, the choice reads the registry's
    names and the selection table only: Numba is imported outside the network's calls.

    Parameters
    ----------
    spec : NetworkSpec
    batch_size : int
    op : {"forward", "gradients", "train_step"}
    sparse : bool
    dtype : str or None
        Default ``spec.dtype``.

    Returns
    -------
    Backend
    """
    from fastnn.backends import tiered
    from fastnn.backends.selection import choose_backend

    dtype = dtype or spec.dtype
    if tiered.enabled():
        # Every backend but the python reference computes in both dtypes and takes
        # sparse input.
        names = [name for name in _MODULES if name not in _import_errors
                 and (name != "python" or (dtype == "float64" and not sparse))]
        choice = choose_backend(spec.layer_sizes, batch_size, op, dtype, names)
        if choice in tiered.COMPILED_BACKENDS:
            config = tiered.configuration(spec)
            if not tiered.is_ready(config, complete=True):
                return tiered.TieredBackend(choice, spec)
            # Compiled: unless Numba is in this process already, it loads in a thread
            # while the network answers from NumPy.
            loader = tiered.loader_for(config, choice)
            if loader is not None:
                return tiered.TieredBackend(choice, spec, loader=loader)
        return for_network(choice)
    names = [name for name in available_backends() if dtype in _load(name).dtypes]
    if sparse:
        names = [name for name in names if _load(name).accepts_sparse] or names
    return for_network(choose_backend(spec.layer_sizes, batch_size, op, dtype,
                                      names or available_backends()))


def for_network(name):
    """The backend ``name`` (or an alias), with the libraries of its steady state loaded
    (:meth:`~fastnn.backends.base.Backend.preload`): what a network bound to it by name,
    or by ``"auto"`` without tiering, computes on.

    Returns
    -------
    Backend
    """
    backend = get(name)
    backend.preload()
    return backend

