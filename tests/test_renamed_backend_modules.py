"""The backend modules' old names still import, warn, and are the renamed modules."""

import importlib
import sys

import pytest

from fastnn.backends._renamed import RENAMED


@pytest.mark.parametrize("old, new", sorted(RENAMED.items()))
def test_an_old_backend_module_name_warns_and_is_the_new_module(old, new, monkeypatch):
    monkeypatch.delitem(sys.modules, f"fastnn.backends.{old}", raising=False)
    with pytest.warns(DeprecationWarning, match=f"fastnn.backends.{new}"):
        module = importlib.import_module(f"fastnn.backends.{old}")
    assert module is importlib.import_module(f"fastnn.backends.{new}")


def test_every_backend_module_is_named_after_its_backend():
    from fastnn import backends

    for name in backends.available_backends():
        module = type(backends.get(name)).__module__
        assert module == f"fastnn.backends.{name}_backend", (name, module)
