"""The backend modules' old names, kept as deprecated aliases of the new ones.

Each backend's module is named after the backend it defines (``numba_backend`` holds the
backend named ``numba``); the old module names still import, with a
``DeprecationWarning`` naming the new module, and give the very same module object.
"""

from __future__ import annotations

import importlib
import sys
import warnings

# Old module name -> new module name (both under fastnn.backends).
RENAMED = {"python_loops": "python_backend", "numpy_vec": "numpy_backend",
           "numba_jit": "numba_backend", "numba_parallel": "numba_parallel_backend"}


def alias(old_name):
    """Make the module ``old_name`` (a full dotted name) the renamed module it stands for.

    Parameters
    ----------
    old_name : str
        ``fastnn.backends.<old>`` with ``<old>`` a key of :data:`RENAMED`.
    """
    package, _, old = old_name.rpartition(".")
    new_name = f"{package}.{RENAMED[old]}"
    warnings.warn(f"{old_name} is deprecated: the module is now {new_name}",
                  DeprecationWarning, stacklevel=3)
    sys.modules[old_name] = importlib.import_module(new_name)
