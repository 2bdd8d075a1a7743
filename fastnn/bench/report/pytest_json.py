"""pytest-benchmark JSON files (``pytest benchmarks/ --benchmark-json=FILE``) as results tables.

A benchmark joins the table when its ``extra_info`` names the case, as the tests in
``benchmarks/`` record it: ``backend``, ``layer_sizes``, ``batch_size``, ``op``,
``dtype`` (and ``level``, ``flops``, ``blas_threads``, ``numba_threads``). Others (a
benchmark of something else in the same file) are left out and counted.

A row's GFLOP/s is a fraction of the matmul peak in its dtype, as the benchmarks' conftest
records them (``machine_info.fastnn.matmul_peaks``, one per dtype). Files written before
it recorded them have the float64 peak only (``matmul_peak``): their float32 rows have
no fraction.
"""

from __future__ import annotations

import math

from fastnn.bench.workload.cases import flop_count, parse_layer_sizes, sizes_label
from fastnn.params import parameter_count
from fastnn.reporting.machine import MachineRecord, peak_dtype
from fastnn.reporting.results import read_json
from fastnn.reporting.rows import Row
from fastnn.reporting.timing import UNSTABLE_IQR_RATIO, Summary
from fastnn.schemas import PYTEST_BENCHMARK, PYTEST_BENCHMARK_ENTRY, SchemaError, check

CASE_KEYS = ("backend", "layer_sizes", "batch_size", "op", "dtype")


def load_pytest_benchmark(path, unstable_ratio=UNSTABLE_IQR_RATIO):
    """Read a pytest-benchmark JSON file as rows of the results table.

    Parameters
    ----------
    path : path-like
    unstable_ratio : float
        IQR / median above which a row is flagged unstable.

    Returns
    -------
    rows : list of Row
    metadata : dict
        ``machine``, ``peaks``, ``source``, ``left_out`` (names of benchmarks without
        a fastnn case in ``extra_info``).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not valid JSON, not a pytest-benchmark file, or holds no fastnn case.
    """
    document = read_json(path)
    if not isinstance(document, dict) or "benchmarks" not in document \
            or "machine_info" not in document:
        raise ValueError(f"{path} is not a pytest-benchmark JSON file (it needs 'machine_info' "
                         f"and a 'benchmarks' list; write one with "
                         f"`pytest benchmarks/ --benchmark-json={path}`)")
    check(document, PYTEST_BENCHMARK, str(path))
    machine = _machine(document["machine_info"], document.get("datetime"))
    peaks = _peaks(document["machine_info"], path)
    rows, left_out = [], []
    for index, benchmark in enumerate(document["benchmarks"]):
        if _is_fastnn_case(benchmark):
            rows.append(_row(benchmark, peaks, unstable_ratio, f"{path}",
                             f"benchmarks[{index}]"))
        else:
            left_out.append(str(benchmark.get("fullname", benchmark.get("name", "?")))
                            if isinstance(benchmark, dict) else repr(benchmark)[:60])
    if not rows:
        raise ValueError(f"{path} holds no fastnn benchmark: none of its {len(left_out)} "
                         f"benchmarks has extra_info with {', '.join(CASE_KEYS)} and stats")
    metadata = {"machine": machine, "peaks": list(peaks.values()),
                "source": f"pytest-benchmark file `{path}`", "left_out": left_out,
                "records_skips": False,
                "config": {"unstable_ratio": unstable_ratio},
                "method": _METHOD + (f" Left out (no fastnn case in extra_info): "
                                     f"{len(left_out)} benchmark(s)." if left_out else "")}
    return rows, metadata


_METHOD = ("Timed by pytest-benchmark (its own calibration, rounds and statistics); the "
           "benchmarks validate each backend against the reference and compile outside the "
           "timed region. Points the suite skipped (the pure-Python backend where it would "
           "be too slow) are not in its JSON file and so not in the tables.")


def _is_fastnn_case(benchmark):
    """A benchmark of a fastnn case: its ``extra_info`` names one (the others are left out)."""
    info = benchmark.get("extra_info") if isinstance(benchmark, dict) else None
    return isinstance(info, dict) and all(key in info for key in CASE_KEYS)


def _row(benchmark, peaks, unstable_ratio, where, name):
    """The row of one fastnn benchmark, its fields checked (SchemaError naming the first
    bad one: a report is never made from statistics that cannot be)."""
    check(benchmark, PYTEST_BENCHMARK_ENTRY, where, prefix=name)
    info, stats = benchmark["extra_info"], benchmark["stats"]
    _check_order(stats, where, f"{name}.stats")
    try:
        sizes = parse_layer_sizes(info["layer_sizes"])
    except (TypeError, ValueError) as exc:
        raise SchemaError(where, f"{name}.extra_info.layer_sizes", f"is not layer sizes: {exc}") \
            from None
    batch = info["batch_size"]
    flops = int(info.get("flops") or flop_count(sizes, batch, info["op"]))
    median = float(stats["median"])
    summary = Summary(number=int(stats["iterations"]), rounds=int(stats["rounds"]),
                      min=float(stats["min"]), median=median, q1=float(stats["q1"]),
                      q3=float(stats["q3"]), iqr=float(stats["iqr"]), mean=float(stats["mean"]),
                      unstable=bool(median > 0 and float(stats["iqr"]) / median
                                    > unstable_ratio))
    row = Row(backend=str(info["backend"]), level=str(info.get("level", "mlp")),
              layer_sizes=sizes_label(sizes), n_params=parameter_count(sizes),
              batch_size=batch, op=str(info["op"]), dtype=str(info["dtype"]),
              activation=info.get("activation"), loss=info.get("loss"), flops=flops,
              blas_threads=info.get("blas_threads"), numba_threads=info.get("numba_threads"),
              reference=info.get("reference"), max_rel_diff=info.get("max_rel_diff"),
              compile_s=info.get("compile_s"), first_call_s=info.get("first_call_s"),
              extra={"group": benchmark.get("group"), "name": benchmark.get("fullname")})
    peak = peaks.get(row.dtype)
    return row.timed(summary, peak["gflops"] if peak else None)


def _check_order(stats, where, name):
    """min <= q1 <= median <= q3 <= max (max where recorded), the IQR their difference,
    the mean within [min, max]."""
    keys = ["min", "q1", "median", "q3"] + (["max"] if "max" in stats else [])
    for low, high in zip(keys, keys[1:]):
        if not stats[low] <= stats[high]:
            shown = ", ".join(f"{key} {stats[key]}" for key in keys)
            named, other, relation = ((low, high, "above") if low == "median"
                                      else (high, low, "below"))
            raise SchemaError(where, f"{name}.{named}", f"is {relation} {other}: "
                                                       f"{' <= '.join(keys)} does not hold "
                                                       f"({shown})")
    if not math.isclose(stats["iqr"], stats["q3"] - stats["q1"], rel_tol=1e-6, abs_tol=1e-12):
        raise SchemaError(where, f"{name}.iqr", f"is not q3 - q1 ({stats['iqr']} vs "
                                               f"{stats['q3'] - stats['q1']})")
    if stats["mean"] < stats["min"] * (1 - 1e-9):
        raise SchemaError(where, f"{name}.mean", f"is below the minimum ({stats['mean']} < "
                                                f"{stats['min']})")
    if "max" in stats and stats["mean"] > stats["max"] * (1 + 1e-9):
        raise SchemaError(where, f"{name}.mean", f"is above the maximum ({stats['mean']} > "
                                                f"{stats['max']})")


def _peaks(machine_info, path):
    """The matmul peaks the fastnn conftest records, checked: dtype -> peak (may be empty).

    ``matmul_peaks`` (a list, one per dtype) where the file has it; else the one
    ``matmul_peak`` of older files, which was always measured in float64.
    """
    ours = machine_info.get("fastnn")
    if not isinstance(ours, dict):
        return {}
    if "matmul_peaks" in ours:
        recorded = ours["matmul_peaks"]
        if not isinstance(recorded, list):
            raise SchemaError(str(path), "machine_info.fastnn.matmul_peaks",
                              f"must be a list; got {recorded!r:.60}")
        fields = [f"machine_info.fastnn.matmul_peaks[{index}]" for index in range(len(recorded))]
    else:
        recorded = [] if ours.get("matmul_peak") is None else [ours["matmul_peak"]]
        fields = ["machine_info.fastnn.matmul_peak"]
    peaks = {}
    for peak, field in zip(recorded, fields):
        if not isinstance(peak, dict) or not _is_number(peak.get("gflops")) \
                or peak["gflops"] <= 0:
            raise SchemaError(str(path), f"{field}.gflops",
                              f"must be a positive number; got {peak!r:.60}")
        peaks.setdefault(peak_dtype(peak), dict(peak, dtype=peak_dtype(peak)))
    return peaks


def _machine(info, date):
    """The machine record: ours if the conftest added it, else from pytest-benchmark's keys."""
    ours = info.get("fastnn")
    if isinstance(ours, dict) and isinstance(ours.get("machine"), dict):
        record = MachineRecord.from_dict(ours["machine"])
    else:
        cpu = info.get("cpu") if isinstance(info.get("cpu"), dict) else {}
        record = MachineRecord(
            cpu_model=cpu.get("brand_raw") or info.get("processor") or "unknown",
            logical_cores=cpu.get("count"), python=info.get("python_version") or "?",
            system=f"{info.get('system', '')} {info.get('release', '')}".strip())
    if date:
        record.date_utc = date
    return record.as_dict()


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)
