"""fastnn: small feed-forward neural networks on the CPU, on three interchangeable backends.

>>> import fastnn
>>> net = fastnn.MLP([3, 3, 1], backend="numpy", seed=0)
>>> net.forward([1.5, 2.0, 3.0]).shape
(1,)
"""

from fastnn.backends import available_backends, fastest_backend
from fastnn.model import MLP
from fastnn.spec import NetworkSpec

__version__ = "0.1.0"

__all__ = ["MLP", "NetworkSpec", "available_backends", "fastest_backend", "__version__"]
