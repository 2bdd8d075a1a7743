"""The declared schemas (fastnn/schemas.py): the checker, and what the writers write."""

import json

import numpy as np
import pytest

from fastnn import MLP, schemas
from fastnn.schemas import Field, Schema, SchemaError, check

INNER = Schema("inner", (Field("rounds", "int", minimum=1),), closed=True)
OUTER = Schema("outer", (Field("name", "str", choices=("a", "b")),
                         Field("config", "object", fields=INNER),
                         Field("note", "str", required=False, nullable=True)))


@pytest.mark.parametrize("document, field, words", [
    ([], "(top level)", "must be an object"),
    ({"config": {"rounds": 1}}, "name", "is missing"),
    ({"name": "c", "config": {"rounds": 1}}, "name", "must be one of"),
    ({"name": "a", "config": {"rounds": "1"}}, "config.rounds", "must be an integer"),
    ({"name": "a", "config": {"rounds": True}}, "config.rounds", "must be an integer"),
    ({"name": "a", "config": {"rounds": 0}}, "config.rounds", "at least 1"),
    ({"name": "a", "config": {"rounds": 1, "x": 2}}, "config.x", "is not a field"),
    ({"name": "a", "config": {"rounds": 1}, "note": 3}, "note", "must be a string"),
])
def test_the_error_names_the_field(document, field, words):
    with pytest.raises(SchemaError, match=words) as caught:
        check(document, OUTER, "f.json")
    assert caught.value.field == field and f"f.json: field '{field}'" in str(caught.value)


def test_a_sound_document_passes_unchanged():
    document = {"name": "a", "config": {"rounds": 2}, "note": None, "other": 1}
    assert check(document, OUTER, "f.json") is document


def test_numbers_are_finite_and_not_booleans():
    number = Schema("n", (Field("x", "number"),))
    for bad in (float("nan"), float("inf"), True, "1"):
        with pytest.raises(SchemaError, match="finite number"):
            check({"x": bad}, number, "f")


def test_every_declared_schema_uses_known_kinds():
    declared = [value for value in vars(schemas).values() if isinstance(value, Schema)]
    assert len(declared) >= 9
    for schema in declared:
        for entry in schema.fields:
            assert entry.kind in schemas.KINDS, (schema.title, entry.name)


def test_what_the_writers_write_follows_the_schemas(tmp_path):
    from fastnn.bench.distributed.resume import RunPlan, write_plan
    from fastnn.bench.measure.sweep import SweepConfig

    path = tmp_path / "net.npz"
    MLP([2, 3, 1], backend="numpy", seed=0).save(path)
    with np.load(path) as data:
        spec = json.loads(str(data["spec"]))
    check(spec, schemas.NETWORK_SPEC, str(path))
    write_plan(tmp_path, RunPlan(SweepConfig(), ["a"], "local:1"))
    check(json.loads((tmp_path / "run.json").read_text()), schemas.RUN_PLAN, "run.json")
