"""Sphinx configuration of the fastnn documentation.

Build it with ``tox -e docs``, or in a development install (``pip install -e ".[dev]"``)::

    sphinx-build -W --keep-going -E -b html docs docs/_build/html
    sphinx-build -W --keep-going -E -b doctest docs docs/_build/doctest

Warnings are errors: a malformed numpydoc section, broken reST, a reference to a
module that no longer imports, or a README passage the user guide quotes that has
changed all fail the build.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Document the fastnn of this tree, whether or not it is the installed one.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import fastnn  # noqa: E402

project = "fastnn"
author = "the fastnn contributors"
copyright = "the fastnn contributors"
version = release = fastnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
    "numpydoc",
    "command_help",
    "readme_code",
]

templates_path = ["_templates"]
exclude_patterns = ["_build"]
root_doc = "index"

# --- autodoc / autosummary --------------------------------------------------------------

autosummary_generate = True
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the numpydoc sections already give the types and shapes


def skip_foreign_methods(app, what, name, obj, skip, options):
    """Leave out the methods a class inherits from outside fastnn.

    The estimators inherit ``score``, ``get_params`` and scikit-learn's generated
    metadata-routing methods, whose docstrings point into scikit-learn's own docs.
    """
    function = getattr(obj, "fget", obj)  # a property: the module of its getter
    module = getattr(function, "__module__", None)
    if what == "class" and callable(function) and isinstance(module, str):
        if not module.startswith("fastnn"):
            return True
    return None

# --- numpydoc ---------------------------------------------------------------------------

# autodoc's :members: lists the methods; numpydoc's own member tables would repeat them.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# No style checks: malformed sections and broken reST still warn (and fail the build),
# but a short one-line docstring does not.
numpydoc_validation_checks = set()

# --- doctest ----------------------------------------------------------------------------

doctest_global_setup = """
import numpy as np
import fastnn
"""

# --- HTML -------------------------------------------------------------------------------

html_theme = "alabaster"
html_title = f"fastnn {release}"
html_theme_options = {
    "description": "Small feed-forward neural networks on the CPU",
    "fixed_sidebar": True,
}


def setup(app):
    app.connect("autodoc-skip-member", skip_foreign_methods)
