"""A user's own network as the benchmarked case: ``fastnn bench --model FILE``.

The file is an ``.npz`` written by :meth:`fastnn.MLP.save` or an ``.onnx`` model
:func:`fastnn.interop.onnx.read_onnx` reads. Its layer sizes, activations and loss are
timed over the batch sizes asked for, with seeded inputs; targets suit the loss
(one-hot rows for an output that is a distribution over classes, such as softmax; values
in [0, 1) otherwise).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import numpy as np

from fastnn.bench.workload.cases import Case
from fastnn.functions import ACTIVATIONS

MODEL_SUFFIXES = (".npz", ".onnx")


def load_model(path):
    """The network in ``path``, checked.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    fastnn.MLP

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        A suffix other than ``.npz`` / ``.onnx``, a file that is not a readable model,
        or an ``.onnx`` file when the ``onnx`` package is not installed.
    """
    path = Path(path)
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ValueError(f"--model {path}: expected a .npz file written by fastnn.MLP.save "
                         f"or an .onnx model")
    if not path.exists():
        raise FileNotFoundError(f"--model {path} does not exist")
    if not path.is_file():
        raise ValueError(f"--model {path} is not a file")
    stat = os.stat(path)
    return _load(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def model_case(path, batch_size, dtype=None, seed=0):
    """A :class:`fastnn.bench.workload.cases.Case` of the network in ``path``.

    Parameters
    ----------
    path : str or os.PathLike
    batch_size : int
    dtype : {"float64", "float32"} or None
        None: the model's own.
    seed : int

    Returns
    -------
    Case
        ``X`` of shape (batch_size, n_inputs), values in [0, 1); ``T`` of shape
        (batch_size, n_outputs): one-hot rows for an output that is a distribution
        (:attr:`fastnn.functions.Activation.distribution`), else values in [0, 1).
    """
    net = load_model(path)
    spec = net.spec if dtype is None else dataclasses.replace(net.spec, dtype=dtype)
    params = net.flat_parameters.astype(spec.dtype)
    rng = np.random.default_rng(seed)
    X = rng.random((batch_size, spec.n_inputs)).astype(spec.dtype)
    if ACTIVATIONS[spec.output_activation].distribution:
        T = np.eye(spec.n_outputs, dtype=spec.dtype)[rng.integers(spec.n_outputs,
                                                                   size=batch_size)]
    else:
        T = rng.random((batch_size, spec.n_outputs)).astype(spec.dtype)
    return Case(spec, params, X, T)


@functools.lru_cache(maxsize=8)
def _load(path, modified_ns, size):
    """Read once per file version (its path, modification time and size)."""
    from fastnn import backends
    from fastnn.model import MLP

    # A backend that needs no compilation: the network is only read here.
    backend = backends.reference_backend(time_limited_ok=False)
    if path.lower().endswith(".npz"):
        return MLP.load(path, backend=backend)
    try:
        return MLP.from_onnx(path, backend=backend)
    except ImportError as exc:
        raise ValueError(f"--model {path}: reading .onnx files needs the onnx package "
                         f"({exc})") from None
