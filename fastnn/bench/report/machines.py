"""The report sections of a run over several machines (``fastnn bench --scheduler``).

Rows from Dask workers carry the machine that measured them (``host``) and the worker
(``worker``). These sections show the machines and their workers (refused ones with the
reason), one table per machine, the same case across machines, and the fastest backend
per machine. The other sections of ``report.md`` show one machine's rows
(:func:`primary_machine_rows`): a pivot of several machines' rows would mix them.
"""

from __future__ import annotations

import pandas as pd

from fastnn.backends.tuning import LIBRARY_VERSIONS
from fastnn.bench.report.tables import headline_selection, time_table
from fastnn.reporting.formatting import format_time, markdown_table
from fastnn.reporting.machine import MachineRecord

MACHINE_COLUMN = "host"
# Versions that make two machines' numbers the same code's.
COMPARED_VERSIONS = (*LIBRARY_VERSIONS, "python")


def machines(frame):
    """The machines of ``frame``, in order of appearance; empty for a single-machine run."""
    if MACHINE_COLUMN not in frame.columns:
        return []
    return list(dict.fromkeys(value for value in frame[MACHINE_COLUMN] if pd.notna(value)))


def primary_machine_rows(frame):
    """The rows of the first machine (all of ``frame`` where no machine is recorded)."""
    names = machines(frame)
    return frame[frame[MACHINE_COLUMN] == names[0]] if len(names) > 1 else frame


def machines_markdown(frame, metadata):
    """The machines, per-machine and cross-machine sections; ``""`` without machines.

    Parameters
    ----------
    frame : pandas.DataFrame
        Every row of the run, a ``host`` column naming each one's machine.
    metadata : dict
        ``machines`` (host -> machine record), ``refused_workers`` (address -> reason).

    Returns
    -------
    str
    """
    names = machines(frame)
    if not names:
        return ""
    parts = [_machines_list(frame, metadata, names)]
    if len(names) > 1:
        parts.append(f"The headline, summary and per-op sections below show `{names[0]}`; "
                     f"the sections on machines show every machine.\n")
    selection = headline_selection(frame)
    for name in names:
        data = selection[selection[MACHINE_COLUMN] == name]
        if len(data):
            parts.append(f"## Machine `{name}`: median time per call\n\n"
                         f"{markdown_table(time_table(data, spread=True))}")
    parts.append(_across_machines(selection, names))
    parts.append(_fastest_per_machine(selection, names))
    return "\n".join(part for part in parts if part)


def across_machines_table(data, names):
    """Median time of each case and backend on each machine, and the fastest machine.

    Parameters
    ----------
    data : pandas.DataFrame
        Rows of one level, dtype and thread count.
    names : list of str
        The machines, in column order.

    Returns
    -------
    pandas.DataFrame of str
        Index (op, layer sizes, batch, backend); a column per machine, then ``fastest``.
    """
    timed = data[data["status"] == "ok"]
    if timed.empty:
        return pd.DataFrame()
    medians = timed.pivot_table(index=["op", "layer_sizes", "batch_size", "backend"],
                                columns=MACHINE_COLUMN, values="median_s", aggfunc="first")
    medians = medians.reindex(columns=[name for name in names if name in medians.columns])
    table = medians.map(format_time)
    table["fastest"] = medians.idxmin(axis=1, skipna=True)
    table.columns.name = None
    return table


def fastest_backend_table(data, names):
    """The fastest backend of each case on each machine, with its time.

    Returns
    -------
    pandas.DataFrame of str
        Index (op, layer sizes, batch); a column per machine.
    """
    timed = data[data["status"] == "ok"]
    if timed.empty:
        return pd.DataFrame()
    best = timed.loc[timed.groupby(["op", "layer_sizes", "batch_size", MACHINE_COLUMN])
                     ["median_s"].idxmin()]
    best = best.assign(cell=best["backend"] + " (" + best["median_s"].map(format_time) + ")")
    table = best.pivot_table(index=["op", "layer_sizes", "batch_size"],
                             columns=MACHINE_COLUMN, values="cell", aggfunc="first")
    table = table.reindex(columns=[name for name in names if name in table.columns])
    table.columns.name = None
    return table


def version_differences(records):
    """``"numpy: 2.4.6 on a, 2.3.0 on b"`` per version that differs between machines.

    Parameters
    ----------
    records : dict of str -> dict
        Machine name -> machine record.

    Returns
    -------
    list of str
    """
    lines = []
    for key in COMPARED_VERSIONS:
        values = {name: (record or {}).get(key) for name, record in records.items()}
        if len(set(values.values())) > 1:
            lines.append(f"{key}: " + ", ".join(f"{value} on {name}"
                                                for name, value in values.items()))
    return lines


def _machines_list(frame, metadata, names):
    records = metadata.get("machines") or {}
    lines = ["## Machines\n"]
    for name in names:
        record = records.get(name)
        summary = MachineRecord.from_dict(record).summary() if record else "not recorded"
        data = frame[frame[MACHINE_COLUMN] == name]
        cases = data.drop_duplicates(["op", "layer_sizes", "batch_size", "dtype",
                                      "blas_threads"])
        workers = cases["worker"].value_counts() if "worker" in cases.columns else pd.Series()
        lines.append(f"- `{name}`: {summary}. {len(cases)} cases; measured by "
                     + (", ".join(f"{worker} ({count} cases)" for worker, count in workers.items())
                        or "no worker") + ".")
    for key, reason in (metadata.get("not_measured") or {}).items():
        lines.append(f"- Not measured: `{key}`: {reason}.")
    refused = metadata.get("refused_workers") or {}
    for worker, reason in refused.items():
        lines.append(f"- Refused worker {worker}: {reason}.")
    for worker, what in (metadata.get("lost_workers") or {}).items():
        lines.append(f"- Lost worker {worker}: {what}.")
    differences = version_differences({name: records.get(name) for name in names})
    if differences:
        lines.append("\n**Versions differ between machines** (their numbers measure different "
                     "code): " + "; ".join(differences) + ".")
    lines.append("\nEach machine times one case at a time (a timing lock per machine); its "
                 "workers stand in for each other. A worker is refused if its fastnn, NumPy or "
                 "Numba version differs from the coordinator's or if it fails the correctness "
                 "gate on a probe case before its first timing.\n")
    return "\n".join(lines)


def _across_machines(selection, names):
    table = across_machines_table(selection, names)
    if table.empty:
        return ""
    return ("## Across machines: the same case\n\nMedian time per call on each machine; "
            "`fastest`: the machine with the shortest.\n\n" + markdown_table(table))


def _fastest_per_machine(selection, names):
    table = fastest_backend_table(selection, names)
    if table.empty:
        return ""
    return "## Fastest backend per machine\n\n" + markdown_table(table)
