"""``fastnn.fastest_backend`` and ``backend="auto"``: the measured table, on and off the grid."""

import json

import pytest

import fastnn
from fastnn import MLP, backends
from fastnn.backends import selection, tuning

GRID_SIZES = [(3, 3, 1), (64, 30, 10), (100, 100, 50, 10), (784, 256, 128, 10),
              (1024, 1024, 1024, 10)]
GRID_BATCHES = [1, 32, 256, 2048]


@pytest.fixture(autouse=True)
def shipped_table_only(tmp_path, monkeypatch):
    """These tests are about the shipped table: no user tune file (``fastnn tune``)."""
    monkeypatch.setenv(tuning.PATH_ENV, str(tmp_path / "no-tune-file.json"))
    tuning.reload()
    yield
    tuning.reload()


def _table():
    return json.loads(selection.TABLE_PATH.read_text())["table"]


def test_the_table_covers_the_whole_grid_with_known_backends():
    table = _table()
    for sizes in GRID_SIZES:
        for batch in GRID_BATCHES:
            for op in selection.OPS:
                entry = table[selection.grid_key(sizes, batch, op)]
                assert entry["winner"] in ("numba", "numpy", "numba_parallel")
                # The winner is the backend the measured ratio (numpy / numba) favours.
                favoured = "numba" if entry["numpy_over_numba"] >= 1 else "numpy"
                assert entry["winner"].startswith(favoured)


@pytest.mark.parametrize("op", selection.OPS)
def test_grid_points_get_their_measured_winner(op):
    table = _table()
    available = fastnn.available_backends()
    compared = 0
    for sizes in GRID_SIZES:
        for batch in GRID_BATCHES:
            winner = table[selection.grid_key(sizes, batch, op)]["winner"]
            chosen = fastnn.fastest_backend(list(sizes), batch, op)
            assert chosen in available and not backends.get(chosen).is_reference
            if winner in available:
                assert chosen == winner, (sizes, batch)
                compared += 1
    # numpy and numba are required, so most winners are available (numba_parallel
    # may not be, on one core): the check above ran, not only the fallback.
    assert compared >= len(GRID_SIZES) * len(GRID_BATCHES) // 2


def test_off_grid_cases_take_the_nearest_grid_point(monkeypatch):
    table = {selection.grid_key((3, 3, 1), 1, "forward"): "numpy",
             selection.grid_key((1024, 1024, 1024, 10), 2048, "forward"): "numba"}
    monkeypatch.setattr(selection, "_table", lambda: table)
    assert selection.measured_winner((4, 2, 1), 2, "forward") == "numpy"
    assert selection.measured_winner((900, 1000, 10), 1000, "forward") == "numba"
    assert selection.measured_winner((4, 2, 1), 2, "gradients") is None


def test_an_unavailable_winner_falls_back_to_the_preference(monkeypatch):
    monkeypatch.setattr(selection, "measured_winner", lambda *args: "numba_parallel")
    assert selection.choose_backend([3, 2], 1, "forward", "float64",
                                    ["python", "numpy"]) == "numpy"


def test_a_missing_table_falls_back_to_the_preference(monkeypatch, tmp_path):
    monkeypatch.setattr(selection, "TABLE_PATH", tmp_path / "absent.json")
    selection.shipped_table.cache_clear()
    try:
        assert selection.measured_winner((3, 3, 1), 1, "forward") is None
        assert selection.choose_backend([3, 3, 1], 1, "forward", "float64",
                                        ["python", "numpy"]) == "numpy"
    finally:
        selection.shipped_table.cache_clear()


def test_auto_resolves_to_the_fastest_single_sample_forward_backend():
    """The expected answer is read from the shipped table, not from the selection code."""
    winner = _table()[selection.grid_key((100, 100, 50, 10), 1, "forward")]["winner"]
    assert winner in fastnn.available_backends()
    net = MLP([100, 100, 50, 10], backend="auto")
    assert net.backend == winner


@pytest.mark.parametrize("kwargs,message", [
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 2.0}, "batch_size"),
    ({"batch_size": True}, "batch_size"),
    ({"op": "backward"}, "unknown op"),
    ({"dtype": "int8"}, "dtype"),
])
def test_bad_arguments_name_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fastnn.fastest_backend([3, 2], **kwargs)
