"""Model exchange: networks to and from scikit-learn, PyTorch and ONNX.

Each converter reads or writes the same thing, a chain of dense layers
(``A = f(A_prev @ W + b)``, ``W`` of shape ``(n_in, n_out)``), and gives the same
outputs both ways (float64 to about 1e-12 relative, float32 to 1e-5):

- :func:`fastnn.interop.sklearn.from_sklearn` / :func:`~fastnn.interop.sklearn.to_sklearn`
- :func:`fastnn.interop.torch.from_torch` / :func:`~fastnn.interop.torch.to_torch`
- :func:`fastnn.interop.onnx.from_onnx` / :func:`~fastnn.interop.onnx.to_onnx`

PyTorch and ONNX are optional and imported only when their converters run (see
:mod:`fastnn.optional`). Importing this package imports none of them.
"""

from fastnn.interop.onnx import from_onnx, to_onnx
from fastnn.interop.sklearn import from_sklearn, to_sklearn
from fastnn.interop.torch import from_torch, to_torch

__all__ = ["from_onnx", "from_sklearn", "from_torch", "to_onnx", "to_sklearn", "to_torch"]
