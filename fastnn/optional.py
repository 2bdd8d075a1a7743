"""The one place optional dependencies are imported (in the manner of pandas'
``import_optional_dependency``).

The core of fastnn needs only NumPy, SciPy, Numba and scikit-learn. Model exchange with
PyTorch and ONNX needs packages that users install through pip extras; code that uses
them calls :func:`import_optional` at the point of use, so ``import fastnn`` never
imports them and a missing package is an ImportError that says what to install.

>>> from fastnn.optional import import_optional
>>> import_optional("math").sqrt(4.0)
2.0
"""

from __future__ import annotations

import importlib

# The pip extra that installs each optional package (the extras are declared in
# pyproject.toml). A package not listed here is named without an extra.
EXTRAS = {
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "torch": "torch",
    "jax": "peers",
    "openvino": "peers",
    # Tutorial C's Keras comparison (fastnn reproduce): Keras 3 on its JAX backend.
    "keras": "keras",
    "dask": "distributed",
    "distributed": "distributed",
}


def import_optional(name, extra=None, purpose=None):
    """Import an optional package, or raise an ImportError that says how to install it.

    Parameters
    ----------
    name : str
        The module to import, e.g. ``"onnx"`` or ``"torch"``.
    extra : str or None
        The fastnn pip extra that provides it; None: looked up in :data:`EXTRAS`.
    purpose : str or None
        What needs it, for the message, e.g. ``"fastnn.MLP.from_onnx"``.

    Returns
    -------
    module

    Raises
    ------
    ImportError
        If the package is not installed (or fails to import), naming the command that
        installs it, e.g. ``pip install "fastnn[onnx]"``.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(_missing_message(name, extra or EXTRAS.get(name), purpose, exc)) \
            from exc


def _missing_message(name, extra, purpose, exc):
    needs = f"{purpose} needs" if purpose else "this needs"
    install = f'pip install "fastnn[{extra}]"' if extra else f"pip install {name}"
    return (f"{needs} the optional package {name!r}, which could not be imported ({exc}); "
            f"install it with: {install}")
