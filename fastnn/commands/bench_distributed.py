"""``fastnn bench --scheduler`` and ``--resume``: a sweep on Dask workers, into one report.

The order of the steps keeps bad input harmless: the options and the output folder are
checked, then the scheduler is reached (a bounded wait), and only then is the run folder
made; ``--resume`` changes nothing in a folder that is not a run or whose settings
differ from the options given.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tqdm import tqdm

from fastnn.bench.distributed.cluster import Coordinator, connect, worker_machines
from fastnn.bench.distributed.resume import (
    RunPlan,
    missing_points,
    read_plan,
    settings_difference,
    write_plan,
)
from fastnn.bench.measure.sweep import case_row
from fastnn.bench.report.document import write_report
from fastnn.bench.workload.cases import make_case
from fastnn.commands.bench_options import default_run_folder, finished_status, reproduce_command
from fastnn.reporting.machine import source_revision
from fastnn.reporting.results import CaseLog
from fastnn.reporting.roles import BackendRoles
from fastnn.reporting.rows import results_frame
from fastnn.reporting.run_folder import LiveFolder, RunFolder


def run(config, scheduler, out=None, force=False):
    """Start a sweep on the Dask workers of ``scheduler``; returns the exit status.

    Parameters
    ----------
    config : SweepConfig
    scheduler : str
        A scheduler address (``tcp://host:8786``) or ``local:N``.
    out : pathlib.Path or None
        The run folder; default :func:`~fastnn.commands.bench_options.default_run_folder`.
    force : bool
        Replace the run folder if it exists.
    """
    out = out or default_run_folder()
    RunFolder(out, force=force)  # the same checks as a local run, before connecting
    with connect(scheduler) as client:
        hosts = sorted(set(worker_machines(client).values()))
        command = f"{reproduce_command(config, out)} --scheduler {scheduler}"
        plan = RunPlan(config, hosts, scheduler, command)
        folder = LiveFolder.create(out, force=force)
        write_plan(folder, plan)
        print(f"fastnn bench: {len(plan.points())} cases ({len(config.cases())} points x "
              f"{len(config.threads)} thread count(s) x {len(hosts)} machine(s): "
              f"{', '.join(hosts)}) on {scheduler} -> {out}", file=sys.stderr)
        return sweep_and_report(client, plan, folder, plan.points(), out)


def resume(out, scheduler=None, config=None):
    """Measure the cases of the run folder ``out`` that have no result yet, then report.

    Parameters
    ----------
    out : pathlib.Path
        The run folder of an interrupted ``--scheduler`` sweep.
    scheduler : str or None
        Default: the run's own.
    config : SweepConfig or None
        The sweep options given with ``--resume``, which must be the run's own.
    """
    plan = read_plan(out)
    if config is not None:
        difference = settings_difference(plan.config, config)
        if difference:
            raise ValueError(f"--resume {out} is a run of other settings ({difference}); "
                             f"resume it without sweep options to keep its own")
    points = missing_points(plan, out)
    if not points and (out / "report.md").exists():
        print(f"fastnn bench: {out} is complete; nothing to resume", file=sys.stderr)
        return 0
    scheduler = scheduler or plan.scheduler
    with connect(scheduler) as client:
        print(f"fastnn bench: resuming {out}: {len(points)} of {len(plan.points())} cases "
              f"left, on {scheduler}", file=sys.stderr)
        return sweep_and_report(client, plan, LiveFolder.reopen(out), points, out)


def sweep_and_report(client, plan, folder, points, out):
    """Run the coordinator over ``points``, then write the merged report of the whole run."""
    revision = source_revision()
    start = time.perf_counter()
    quiet = not sys.stderr.isatty() or bool(os.environ.get("CI"))
    with tqdm(total=len(points), desc="fastnn bench", unit="case", disable=quiet,
              file=sys.stderr) as bar:
        coordinator = Coordinator(client, plan, folder, points, progress=lambda key: bar.update())
        try:
            outcome = coordinator.run()
        except (KeyboardInterrupt, ConnectionError) as exc:
            # The finished cases stay; the exit status is the command line's (fastnn.cli).
            write_plan(folder, plan)
            kept = (f"{len(CaseLog(folder).keys())} of {len(plan.points())} cases are kept in "
                    f"{out}; finish with: fastnn bench --resume {out}")
            if isinstance(exc, KeyboardInterrupt):
                print(f"fastnn bench: stopped by Ctrl-C; {kept}", file=sys.stderr)
                raise
            raise ConnectionError(f"{exc}; {kept}") from None
    write_plan(folder, plan)
    duration = time.perf_counter() - start
    frame, metadata = merged_results(plan, folder, outcome.not_measured, out, duration, revision)
    write_report(folder, frame, metadata)
    folder.publish()
    print(f"report: {out / 'report.md'} ({len(outcome.measured)} cases measured in "
          f"{duration:.0f} s)")
    return finished_status(frame, outcome.not_measured, out)


def merged_results(plan, folder, not_measured, out, duration, revision=None):
    """The rows of every case in the run folder (and of those given up) and the metadata.

    Returns
    -------
    frame : pandas.DataFrame
    metadata : dict
    """
    documents = CaseLog(folder).documents()
    rows = [row for document in documents for row in document["rows"]]
    rows.extend(not_measured_rows(plan, not_measured))
    machines = {}
    for document in documents:
        if document.get("machine"):
            machines[document["machine"].get("host") or document["key"].split()[0]] = \
                document["machine"]
    first = machines.get(plan.hosts[0]) if plan.hosts else None
    metadata = {"title": f"fastnn bench: {Path(out).name}",
                "source": f"`fastnn bench --scheduler {plan.scheduler}` on "
                          f"{len(plan.hosts)} machine(s)",
                "duration_s": duration, "command": plan.command,
                "machine": first or next(iter(machines.values()), None),
                "machines": machines, "revision": revision,
                "config": plan.config.as_dict(), "peaks": [],
                "backend_roles": BackendRoles.of_registry().as_dict(),
                "scheduler": plan.scheduler, "refused_workers": dict(plan.refused),
                "lost_workers": dict(plan.lost_workers),
                "not_measured": dict(not_measured)}
    return results_frame(rows), metadata


def not_measured_rows(plan, not_measured):
    """Skipped rows (every backend and level) for the cases given up, with the reason."""
    points = {point.key: point for point in plan.points()}
    rows = []
    for key, reason in not_measured.items():
        point = points[key]
        case = make_case(point.layer_sizes, point.batch_size, point.dtype, plan.config.seed)
        threads = {"blas_threads": point.threads, "numba_threads": point.threads}
        for name in plan.config.backend_names():
            for level in plan.config.levels:
                row = case_row(name, level, case, point.op, threads, None)
                row.not_timed("skipped", f"not measured: {reason}")
                row.extra["host"] = point.host
                rows.append(row.as_dict())
    return rows
