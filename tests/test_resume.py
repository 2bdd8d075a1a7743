"""The run plan of a distributed sweep (run.json): round trip, settings check, missing cases."""

import json

import pytest

from fastnn.bench.distributed.resume import (
    RunPlan,
    config_from_dict,
    missing_points,
    read_plan,
    settings_difference,
    write_plan,
)
from fastnn.bench.measure.sweep import SweepConfig
from fastnn.reporting.results import CaseLog

CONFIG = SweepConfig(layer_sizes=((3, 3, 1), (64, 30, 10)), batch_sizes=(1, 8),
                     backends=("numpy",), ops=("forward",), threads=(1, 2), rounds=2)


def test_config_round_trips_through_its_dict():
    again = config_from_dict(json.loads(json.dumps(CONFIG.as_dict())))
    assert again == CONFIG and settings_difference(CONFIG, again) == ""


def test_settings_difference_names_the_setting():
    other = SweepConfig(**{**CONFIG.__dict__, "batch_sizes": (1,)})
    assert settings_difference(CONFIG, other).startswith("batch_sizes [1, 8] in the run, [1]")


def test_plan_points_cover_every_machine_and_missing_ones_are_those_without_a_file(tmp_path):
    plan = RunPlan(CONFIG, ["a", "b"], "local:2", "fastnn bench ...")
    write_plan(tmp_path, plan)
    again = read_plan(tmp_path)
    assert again.points() == plan.points() and len(plan.points()) == 2 * 2 * 2 * 2
    assert len({point.key for point in plan.points()}) == len(plan.points())
    first = plan.points()[0]
    assert first.key == "a float64 3-3-1 x1 forward t1"
    CaseLog(tmp_path).write(first.key, [])
    assert missing_points(again, tmp_path) == plan.points()[1:]


@pytest.mark.parametrize("content, message", [
    (None, "not the folder of a distributed sweep"),
    ("{}", "not a fastnn run plan"),
    ("[1", "not valid JSON"),
    (json.dumps({"format": "fastnn-bench-distributed-run", "version": 1, "hosts": []}),
     "not a valid run plan"),
])
def test_read_plan_refuses_what_is_not_a_plan(tmp_path, content, message):
    if content is not None:
        (tmp_path / "run.json").write_text(content)
    with pytest.raises(ValueError, match=message):
        read_plan(tmp_path)
    with pytest.raises(FileNotFoundError):
        read_plan(tmp_path / "missing")


@pytest.mark.parametrize("change, message", [
    ({"rounds": 0}, "--rounds must be at least 1"),
    ({"threads": [0]}, "thread counts must be positive"),
    ({"backends": ["nosuch"]}, "unknown backend"),
    ({"ops": ["bogus"]}, "unknown op"),
    ({"dtypes": ["float16"]}, "float16"),
    ({"min_time": -1}, "--min-time must be a non-negative number"),
    ({"model": "/no/such/model.npz"}, "does not exist"),
])
def test_read_plan_checks_the_settings_as_the_command_line_does(tmp_path, change, message):
    plan = RunPlan(config=CONFIG, hosts=["a"], scheduler="local:1", command="", refused={})
    write_plan(tmp_path, plan)
    document = json.loads((tmp_path / "run.json").read_text())
    document["config"].update(change)
    (tmp_path / "run.json").write_text(json.dumps(document))
    with pytest.raises(ValueError, match=message):
        read_plan(tmp_path)


def test_read_plan_wants_a_list_of_host_names(tmp_path):
    write_plan(tmp_path, RunPlan(config=CONFIG, hosts=["a"], scheduler="local:1", command="",
                                 refused={}))
    document = json.loads((tmp_path / "run.json").read_text())
    document["hosts"] = "abc"
    (tmp_path / "run.json").write_text(json.dumps(document))
    with pytest.raises(ValueError, match="field 'hosts' must be a list of strings"):
        read_plan(tmp_path)


def test_read_plan_refuses_a_plan_too_large_for_memory(tmp_path):
    """Found in review: the memory bound ran only on the command line's options, so a
    hand-edited run.json reaching --resume was unchecked."""
    plan = RunPlan(config=CONFIG, hosts=["a"], scheduler="local:1", command="", refused={})
    write_plan(tmp_path, plan)
    document = json.loads((tmp_path / "run.json").read_text())
    document["config"]["layer_sizes"] = ["1000000000-10"]
    (tmp_path / "run.json").write_text(json.dumps(document))
    with pytest.raises(MemoryError, match="1000000000-10 x batch .*the coordinator"):
        read_plan(tmp_path)


@pytest.mark.parametrize("version", [2, 1.0, True, "1"])
def test_read_plan_names_the_version_field(tmp_path, version):
    plan = RunPlan(config=CONFIG, hosts=["a"], scheduler="local:1", command="", refused={})
    write_plan(tmp_path, plan)
    document = json.loads((tmp_path / "run.json").read_text())
    document["version"] = version
    (tmp_path / "run.json").write_text(json.dumps(document))
    with pytest.raises(ValueError, match="field 'version'.*reads plan version 1"):
        read_plan(tmp_path)
