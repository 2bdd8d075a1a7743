"""Measure this machine's kernel crossovers and fastest-backend table; store them.

The result goes to the user cache (``$FASTNN_TUNE_FILE``, else
``$XDG_CACHE_HOME/fastnn/tune.json``, else ``~/.cache/fastnn/tune.json``), written
atomically with the CPU model, the versions and the date, and is used automatically:
``backend="auto"`` and ``fastnn.fastest_backend`` read its table; the BLAS / loop
crossovers and the forward pass's rows per block are stored for the Numba kernels. A
file measured on another CPU or with another fastnn or Numba version is ignored (with a
warning), and the shipped table is used. About 40 s once the Numba kernels are compiled
(about 20 s more the first time). It also times a first ``forward`` in a new process
(import included), which ``fastnn info`` shows.

examples:
  fastnn tune                    measure and store
  fastnn tune --show             what is in force, without measuring
  fastnn tune --forget           remove the tune file: back to the shipped table
  FASTNN_TUNE_FILE=/tmp/t.json fastnn tune    store it elsewhere
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time

from fastnn import backends
from fastnn.backends import selection, tuning
from fastnn.bench.measure import backend_table, crossovers, external_gemm, row_block
from fastnn.reporting.machine import check_thread_count, pinned_threads

HELP = ("measure this machine's kernel crossovers and fastest-backend table; stored in the "
        "user cache and used automatically")


def add_arguments(parser):
    """Register the ``fastnn tune`` options."""
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="BLAS threads while measuring (default: 1, as fastnn bench)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--show", action="store_true",
                        help="print the tuning in force and stop")
    action.add_argument("--forget", action="store_true",
                        help="remove the tune file (the shipped table is used again)")


def run_from_args(args):
    """Read the parsed options into plain values and run; returns the exit status."""
    action = "show" if args.show else "forget" if args.forget else "measure"
    return run(action, args.threads)


def run(action="measure", threads=1):
    """Measure and store, or show, or forget the tuning; returns the exit status.

    Parameters
    ----------
    action : {"measure", "show", "forget"}
    threads : int
        BLAS threads while measuring.
    """
    path = tuning.tune_file_path()
    if action == "show":
        print(show_text(path))
        return 0
    if action == "forget":
        tuning.check_destination(path)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            print(f"fastnn tune: removed {path}", file=sys.stderr)
        tuning.reload()
        print(tuning.status())
        return 0
    if action != "measure":
        raise ValueError(f"action must be measure, show or forget; got {action!r}")
    if threads < 1:
        raise ValueError(f"--threads must be at least 1; got {threads}")
    check_thread_count(threads)
    tuning.check_destination(path)  # before the measurements (about half a minute)
    start = time.perf_counter()
    record = measure(threads)
    record["duration_s"] = round(time.perf_counter() - start, 2)
    path = tuning.save(crossovers=record.pop("crossovers"), table=record.pop("table"),
                       extra=record, path=path)
    print(summary_text(path))
    print(f"fastnn tune: stored in {path} ({record['duration_s']:.0f} s)", file=sys.stderr)
    return 0


def measure(threads):
    """Measure the crossovers (where a backend with crossover kernels is available) and the
    table.

    Returns
    -------
    dict
        ``crossovers`` (or None), ``table``, and what they were measured from.
    """
    record = {"threads": threads}
    tuned = crossovers.tuned_backend()
    _load_scipy_blas()
    with pinned_threads(threads):
        if tuned:
            record.update(_measure_crossovers(tuned))
            record.update(_measure_row_block(record["crossovers"]))
            record.update(_measure_external_gemm())
        else:
            record["crossovers"] = None
        began = time.perf_counter()
        _say("timing the backends on the selection grid")
        record["table"] = backend_table.measure()
        record["table_s"] = round(time.perf_counter() - began, 2)
    if tuned:
        _say("timing a first forward in a new process (import included)")
        record["warm_first_forward_s"] = round(warm_first_forward(), 3)
    return record


# A user's first call with the kernels cached: import, one network, one forward.
FIRST_FORWARD_SCRIPT = (
    "import time; start = time.perf_counter(); import numpy, fastnn; "
    "fastnn.MLP([100, 100, 50, 10], backend={backend!r}, seed=0).forward(numpy.ones(100)); "
    "print(time.perf_counter() - start)")


def warm_first_forward(backend=None):
    """Seconds of ``import fastnn`` and a first ``forward`` in a new process (cache filled).

    Parameters
    ----------
    backend : str or None
        Default: the backend whose crossovers are tuned
        (:func:`fastnn.bench.measure.crossovers.tuned_backend`).

    Returns
    -------
    float
    """
    script = FIRST_FORWARD_SCRIPT.format(backend=backend or crossovers.tuned_backend())
    result = subprocess.run([sys.executable, "-c", script], capture_output=True,
                            text=True, timeout=600, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def show_text(path):
    """The tuning in force, and the file's contents if it is used."""
    tuning.reload()
    tuning_record, _ = tuning.inspect(path)
    lines = [tuning.status()]
    if tuning_record is not None:
        lines.append(summary_text(path, headline=False))
    return "\n".join(lines)


def summary_text(path, headline=True):
    """What the tune file holds, against the shipped values."""
    tuning.reload()
    record, problem = tuning.inspect(path)
    if record is None:
        return f"fastnn tune: {path} not usable: {problem or 'missing'}"
    lines = [f"tuned: {path} (measured {record.created})"] if headline else []
    if record.crossovers:
        shipped = dict(zip(tuning.PRODUCTS, tuning.shipped_crossovers()))
        lines.append("BLAS / loop crossovers (" + ", ".join(tuning.CROSSOVER_FIELDS)
                     + "; tuned vs shipped):")
        lines += [f"  {name:<16} {_triple(record.crossovers[name])}  vs  "
                  f"{_triple(shipped[name])}" for name in tuning.PRODUCTS]
    block = record.extra.get(tuning.ROW_BLOCK_KEY)
    if block is not None:
        lines.append(f"forward row block (rows; 0: whole batches): {block}  vs  "
                     f"{tuning.shipped_row_block()}")
    rule = record.extra.get(tuning.EXTERNAL_KEY)
    if rule is not None:
        lines.append("float32 forward products to oneDNN (min rows, min weights): "
                     f"{_triple(rule)}  vs  {_triple(tuning.shipped_external_gemm())}")
    rule = record.extra.get(tuning.EXTERNAL_GRADIENT_KEY)
    if rule is not None:
        lines.append("float32 gradient products to oneDNN (min multiply-adds: weight "
                     f"gradient, back delta): {_triple(rule)}  vs  "
                     f"{_triple(tuning.shipped_external_gradient_gemm())}")
    if record.table:
        shipped_winners = selection.shipped_table()
        differs = [key for key, entry in sorted(record.table.items())
                   if shipped_winners.get(key) not in (None, entry["winner"])]
        lines.append(f"fastest backend: {len(record.table)} points measured, "
                     f"{len(differs)} differ from the shipped table"
                     + (":" if differs else ""))
        lines += [f"  {key}: {record.table[key]['winner']} (shipped: {shipped_winners[key]})"
                  for key in differs]
    return "\n".join(lines)


def _measure_crossovers(backend):
    began = time.perf_counter()
    _say(f"compiling the {backend} kernels (about 20 s the first time, then cached)")
    from fastnn.spec import NetworkSpec

    backends.get(backend).prepare(NetworkSpec.create((1, 1)))
    crossovers.measure(shapes=((2, 2),), rows=(1,), rounds=1, min_time=0.0)  # compiles
    compile_s = time.perf_counter() - began
    _say("timing BLAS against the loops for each matrix product")
    began = time.perf_counter()
    points = crossovers.measure()
    return {"crossovers": crossovers.fit_rule(points),
            "crossover_points": [point.as_dict() for point in points],
            "compile_s": round(compile_s, 2),
            "crossovers_s": round(time.perf_counter() - began, 2)}


def _measure_row_block(measured_crossovers):
    _say("timing the forward pass's row blocks")
    began = time.perf_counter()
    in_order = None if measured_crossovers is None else \
        [measured_crossovers[name] for name in tuning.PRODUCTS]
    times = row_block.measure(crossovers=in_order)
    return {tuning.ROW_BLOCK_KEY: row_block.best(times),
            "row_block_times_s": {str(block): value for block, value in times.items()},
            "row_block_s": round(time.perf_counter() - began, 2)}


def _measure_external_gemm():
    from fastnn.backends import _external_gemm

    if not _external_gemm.AVAILABLE:
        return {tuning.EXTERNAL_KEY: None, tuning.EXTERNAL_GRADIENT_KEY: None}
    _say("timing oneDNN's sgemm against np.dot for float32 layer products")
    began = time.perf_counter()
    points = external_gemm.measure()
    gradient_points = external_gemm.measure_gradient()
    return {tuning.EXTERNAL_KEY: list(external_gemm.fit_rule(points)),
            tuning.EXTERNAL_GRADIENT_KEY: list(external_gemm.fit_gradient_rule(
                gradient_points)),
            "external_sgemm_library": _external_gemm.LIBRARY,
            "external_sgemm_points": points,
            "external_sgemm_gradient_points": gradient_points,
            "external_sgemm_s": round(time.perf_counter() - began, 2)}


def _load_scipy_blas():
    """Numba's ``np.dot`` calls SciPy's BLAS: loaded now, it is pinned with the others."""
    with contextlib.suppress(ImportError):
        import scipy.linalg.cython_blas  # noqa: F401


def _triple(values):
    return "(" + ", ".join("never" if value >= tuning.NEVER else str(value)
                           for value in values) + ")"


def _say(text):
    print(f"fastnn tune: {text}", file=sys.stderr, flush=True)
