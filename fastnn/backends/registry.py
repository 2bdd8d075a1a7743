"""The backend registry itself: name -> module that defines ``BACKEND``, aliases, and the
lazy import of each backend.

Apart from :mod:`fastnn.backends` (which re-exports every name here and adds the
resolution of a ``backend=`` value) so that :mod:`fastnn.backends.tiered` can look a
backend up without importing the package that imports it. Backends are imported at their
first look-up: an optional backend that fails to import only leaves
:func:`available_backends` (:func:`unavailable_backends` says why); a required one
(:data:`REQUIRED`) raises its ImportError.
"""

from __future__ import annotations

import importlib

# Registry name -> module that defines ``BACKEND``; order is slowest first.
_MODULES = {
    "python": "fastnn.backends.python_backend",
    "numpy": "fastnn.backends.numpy_backend",
    "numba": "fastnn.backends.numba_backend",
    "numba_parallel": "fastnn.backends.numba_parallel_backend",
}

# The backends whose failure to import is an error, not a missing option.
REQUIRED = ("python", "numpy", "numba")

ALIASES = {
    "pure_python": "python",
    "py": "python",
    "np": "numpy",
    "jit": "numba",
}

_loaded = {}
_import_errors = {}


def register(name, module):
    """Register a backend module (it must define ``BACKEND``) under ``name``."""
    _MODULES[name] = module
    _loaded.pop(name, None)
    _import_errors.pop(name, None)


def available_backends():
    """Names of the backends that can be used here, slowest first.

    Returns
    -------
    list of str
    """
    return [name for name in _MODULES if _load(name) is not None]


def unavailable_backends():
    """Registered backends that cannot be used here, with the reason.

    Returns
    -------
    dict of str to str
        Backend name -> the import error that removed it.
    """
    return {name: _import_errors[name] for name in _MODULES if _load(name) is None}


def canonical_name(name):
    """The registry name for ``name`` or one of its aliases; ValueError if unknown."""
    if not isinstance(name, str):
        raise TypeError(f"a backend name must be a string; got {type(name).__name__}")
    key = ALIASES.get(name.lower(), name.lower())
    if key not in _MODULES:
        raise ValueError(f"unknown backend {name!r}; available: {', '.join(available_backends())}")
    return key


def get(name):
    """The backend object registered under ``name`` (or an alias).

    Raises
    ------
    ValueError
        If the name is unknown, or the backend cannot be imported here.
    """
    key = canonical_name(name)
    backend = _load(key)
    if backend is None:
        raise ValueError(f"backend {key!r} is not available here ({_import_errors[key]}); "
                         f"available: {', '.join(available_backends())}")
    return backend


def _load(name):
    if name in _loaded:
        return _loaded[name]
    if name in _import_errors:
        return None
    try:
        backend = importlib.import_module(_MODULES[name]).BACKEND
    except ImportError as exc:
        if name in REQUIRED:
            raise ImportError(f"the {name!r} backend failed to import ({exc}); its "
                              f"dependencies are required by fastnn: reinstall them") from exc
        _import_errors[name] = f"{type(exc).__name__}: {exc}"
        return None
    _loaded[name] = backend
    return backend
