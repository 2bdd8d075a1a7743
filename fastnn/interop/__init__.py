"""Model exchange: networks to and from scikit-learn, PyTorch and ONNX.

Each converter reads or writes the same thing, a chain of dense layers
(``A = f(A_prev @ W + b)``, ``W`` of shape ``(n_in, n_out)``), and gives the same
outputs both ways (float64 to about 1e-12 relative, float32 to 1e-5):

- :func:`fastnn.interop.sklearn.read_sklearn` / :func:`~fastnn.interop.sklearn.to_sklearn`
- :func:`fastnn.interop.torch.read_torch` / :func:`~fastnn.interop.torch.to_torch`
- :func:`fastnn.interop.onnx.read_onnx` / :func:`~fastnn.interop.onnx.to_onnx`

The readers return the parts of a network (:class:`~fastnn.interop._network.NetworkParts`);
users call them through ``fastnn.MLP.from_sklearn``, ``from_torch`` and ``from_onnx``, which
build the network, so this package never imports :mod:`fastnn.model`.

PyTorch and ONNX are optional and imported only when their converters run (see
:mod:`fastnn.optional`). Importing this package imports none of them.
"""

from fastnn.interop.onnx import read_onnx, to_onnx
from fastnn.interop.sklearn import read_sklearn, to_sklearn
from fastnn.interop.torch import read_torch, to_torch

__all__ = ["read_onnx", "read_sklearn", "read_torch", "to_onnx", "to_sklearn", "to_torch"]
