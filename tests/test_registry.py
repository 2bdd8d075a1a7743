"""The backend registry: aliases, helpful errors, and backends that cannot be imported."""

import pytest

from fastnn import backends


@pytest.fixture
def broken_backend():
    backends.register("broken", "fastnn.backends.no_such_module")
    yield "broken"
    backends._MODULES.pop("broken")
    backends._import_errors.pop("broken", None)


def test_aliases_resolve_to_registry_names():
    assert backends.get("np").name == "numpy"
    assert backends.get("pure_python").name == "python"
    assert backends.canonical_name("NumPy") == "numpy"


def test_unknown_name_lists_what_is_available():
    with pytest.raises(ValueError, match="unknown backend 'nmba'; available: python, numpy"):
        backends.get("nmba")


def test_a_backend_that_cannot_be_imported_is_listed_with_its_reason(broken_backend):
    assert broken_backend not in backends.available_backends()
    assert "No module named" in backends.unavailable_backends()[broken_backend]
    with pytest.raises(ValueError, match="'broken' is not available here"):
        backends.get(broken_backend)


def test_a_broken_required_backend_fails_loudly(monkeypatch):
    monkeypatch.setitem(backends._MODULES, "numba", "fastnn.backends.no_such_module")
    monkeypatch.delitem(backends._loaded, "numba", raising=False)
    with pytest.raises(ImportError, match="'numba' backend failed to import"):
        backends.get("numba")
    with pytest.raises(ImportError):
        backends.available_backends()
