"""The plan of a distributed sweep (``run.json``), so that an interrupted one can be resumed.

A sweep on Dask workers (``fastnn bench --scheduler``) writes its run folder in place, not
through a staging folder: ``run.json`` first (the settings, the machines and the
scheduler), then one file per finished case (:class:`fastnn.reporting.results.CaseLog`),
then the report. Whatever stops it (Ctrl-C, a lost scheduler, every worker of a machine
gone), the finished cases stay; ``fastnn bench --resume RUNDIR`` reads the plan back and
measures only the cases that have no file yet.

A case here is one point of the sweep on one machine: the same sweep runs on every
machine of the cluster, so that the report can compare machines case by case.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from fastnn.atomic import atomic_write_text
from fastnn.bench.measure.sweep import SweepConfig
from fastnn.bench.workload.cases import parse_layer_sizes
from fastnn.bench.workload.memory import check_sweep_memory
from fastnn.reporting.formatting import sizes_label
from fastnn.reporting.results import CaseLog, read_json
from fastnn.schemas import (
    RUN_PLAN,
    RUN_PLAN_FORMAT,
    RUN_PLAN_VERSIONS,
    SWEEP_CONFIG,
    SchemaError,
    check,
)

PLAN_FILE = "run.json"
PLAN_FORMAT = RUN_PLAN_FORMAT
PLAN_VERSION = RUN_PLAN_VERSIONS[-1]
# SweepConfig fields stored as lists in run.json and read back as tuples.
_TUPLE_FIELDS = ("batch_sizes", "backends", "ops", "dtypes", "threads", "levels", "peers")


@dataclass(frozen=True)
class CasePoint:
    """One case of a distributed sweep: a point of the sweep on one machine.

    Attributes
    ----------
    host : str
        The machine (:attr:`fastnn.reporting.machine.MachineRecord.host`).
    threads : int
    dtype : str
    layer_sizes : tuple of int
    batch_size : int
    op : str
    """

    host: str
    threads: int
    dtype: str
    layer_sizes: tuple
    batch_size: int
    op: str

    @property
    def key(self):
        """``"node1 float64 3-3-1 x32 forward t1"``: the case's name in the case log."""
        return (f"{self.host} {self.dtype} {sizes_label(self.layer_sizes)} x{self.batch_size} "
                f"{self.op} t{self.threads}")


@dataclass
class RunPlan:
    """What a distributed sweep measures, as ``run.json`` records it.

    Attributes
    ----------
    config : SweepConfig
    hosts : list of str
        The machines the sweep runs on (those with workers when it started).
    scheduler : str
        ``--scheduler`` as given: an address or ``local:N``.
    command : str
        The command that repeats the sweep.
    refused : dict of str -> str
        Worker address -> why it was refused (version mismatch, failed gate).
    lost_workers : dict of str -> str
        Worker address -> what happened when it left mid-sweep (recovered or not).
    """

    config: SweepConfig
    hosts: list
    scheduler: str
    command: str = ""
    refused: dict = field(default_factory=dict)
    lost_workers: dict = field(default_factory=dict)

    def points(self):
        """Every case, machine by machine, in sweep order.

        Returns
        -------
        list of CasePoint
        """
        return [CasePoint(host, threads, dtype, tuple(sizes), batch, op)
                for host in self.hosts for threads in self.config.threads
                for dtype, sizes, batch, op in self.config.cases()]

    def as_dict(self):
        return {"format": PLAN_FORMAT, "version": PLAN_VERSION,
                "config": self.config.as_dict(), "hosts": list(self.hosts),
                "scheduler": self.scheduler, "command": self.command,
                "refused": dict(self.refused), "lost_workers": dict(self.lost_workers)}


def write_plan(folder, plan):
    """Write (or rewrite) ``run.json`` in ``folder``, atomically."""
    atomic_write_text(Path(folder) / PLAN_FILE, json.dumps(plan.as_dict(), indent=1) + "\n")


def read_plan(folder):
    """The plan of the run in ``folder``.

    Raises
    ------
    FileNotFoundError
        If ``folder`` does not exist.
    ValueError
        If it is not the folder of a distributed sweep (no valid ``run.json``).
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"--resume {folder}: no such folder")
    path = folder / PLAN_FILE
    if not folder.is_dir() or not path.is_file():
        raise ValueError(f"--resume {folder} is not the folder of a distributed sweep (no "
                         f"{PLAN_FILE}); only sweeps started with --scheduler can be resumed")
    document = read_json(path)
    try:
        check(document, RUN_PLAN, str(path))  # the format, the version, the config's types
    except SchemaError as exc:
        raise _explained(exc, path) from None
    try:
        config = _config(document["config"])
        config.check()  # the same checks as the command line's options
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} is not a valid run plan: {exc}") from None
    # As for the command line's options: a hand-edited plan too large for this machine
    # (the coordinator's memory; see check_sweep_memory) is refused before it runs.
    check_sweep_memory(config)
    return RunPlan(config=config, hosts=list(document["hosts"]),
                   scheduler=document["scheduler"], command=document.get("command", ""),
                   refused=_text_map(document.get("refused")),
                   lost_workers=_text_map(document.get("lost_workers")))


def _text_map(value):
    return {str(key): str(text) for key, text in (value or {}).items()}


def config_from_dict(data):
    """A :class:`SweepConfig` from its ``as_dict`` form (as ``run.json`` stores it).

    Raises
    ------
    SchemaError
        A field missing, undeclared or of the wrong type (named; see
        :data:`fastnn.schemas.SWEEP_CONFIG`).
    ValueError
        A malformed layer-sizes label.
    """
    check(data, SWEEP_CONFIG, "run.json", prefix="config")
    return _config(data)


def _config(data):
    """A SweepConfig from a ``config`` already checked against SWEEP_CONFIG."""
    settings = dict(data)
    settings["layer_sizes"] = tuple(parse_layer_sizes(label) for label in data["layer_sizes"])
    for name in _TUPLE_FIELDS:
        settings[name] = tuple(data[name])
    return SweepConfig(**settings)


def _explained(exc, path):
    """A schema error of ``run.json``, with what it means for the reader."""
    if exc.field in ("(top level)", "format"):
        hint = f"not a fastnn run plan (no '{PLAN_FORMAT}' marker)"
    elif exc.field == "version":
        hint = f"this fastnn reads plan version {PLAN_VERSION}"
    else:
        hint = "not a valid run plan"
    return SchemaError(str(path), exc.field, f"{exc.problem}; {hint}")


def settings_difference(recorded, given):
    """The settings in which two sweeps differ, as text; empty if they are the same.

    Parameters
    ----------
    recorded, given : SweepConfig
    """
    # As run.json has them (lists, not tuples), so that a read-back plan compares equal.
    ours, theirs = (json.loads(json.dumps(config.as_dict())) for config in (recorded, given))
    return "; ".join(f"{name} {ours[name]} in the run, {theirs.get(name)} given"
                     for name in ours if ours[name] != theirs.get(name))


def missing_points(plan, folder):
    """The cases of ``plan`` with no file in the case log of ``folder`` yet.

    Returns
    -------
    list of CasePoint
    """
    done = set(CaseLog(folder).keys())
    return [point for point in plan.points() if point.key not in done]
