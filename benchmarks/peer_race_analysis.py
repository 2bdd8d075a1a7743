"""Issue 19's peer race, analysed: paired ratios with quartiles, GFLOP/s against the measured
1-thread sgemm / dgemm peak, and, where fastnn loses, what limits it.

Run from the repository root (one thread everywhere; rerun it on a quiet machine):

    python benchmarks/peer_race_analysis.py --out reports/peer-race-analysis
    python benchmarks/peer_race_analysis.py --quick --out /tmp/race      # 2 sizes x 2 batches

Two parts, written to ``OUT/analysis.json`` and ``OUT/analysis.md`` (atomically; an existing
folder is refused without ``--force``):

1. **race**: at every point of the grid (layer sizes x batches x ops x dtypes), fastnn's
   backend is the one ``backend="auto"`` picks there (:func:`fastnn.fastest_backend`,
   never the fastest of several: that minimum is biased in fastnn's favour), timed at the
   MLP level against each peer (forward: all peers; gradients and train_step: PyTorch
   and JAX), each from NumPy in to NumPy out, after the same correctness gate as
   ``fastnn bench --peers`` (the reference: NumPy's result recomputed in float64, not
   the backend under test). The timers run in rounds, interleaved, their order rotated
   each round; each round gives a paired ratio ``peer time / fastnn time`` (above 1:
   fastnn faster), summarised by its median and quartiles. GFLOP/s count the matrix
   products (:func:`fastnn.bench.workload.cases.flop_count`) over the median time, against the
   peak of a 1-thread ``np.dot`` of two 1024 x 1024 matrices in the same dtype.
2. **limits**, at every point some peer wins (median ratio below 1): fastnn's time split
   into what its products and its activations cost, measured from outside the kernels:
   the same network with identity activations (same weights, so the same products,
   without the activation pass), the difference being the activations' cost; the BLAS
   products alone (``np.matmul`` into preallocated arrays, bias and activation left out);
   and, for forward, a vectorised activation pass (``scipy.special.expit`` in place on
   arrays of the network's activation shapes) for scale.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import timeit
from pathlib import Path

import numpy as np

import fastnn
from fastnn.atomic import atomic_write_text
from fastnn.bench.measure.gate import checked_call, make_call, reference_result
from fastnn.bench.measure.sweep import case_row
from fastnn.bench.peers.measure import PEER_LEVEL, measure_peers
from fastnn.bench.workload.cases import Case, flop_count, make_case, sizes_label
from fastnn.ops import PEER_OPS
from fastnn.reporting.machine import machine_info, matmul_peak, peak_label, pinned_threads
from fastnn.reporting.timing import calibrate, time_rounds
from fastnn.spec import NetworkSpec

SIZES = ((64, 30, 10), (100, 100, 50, 10), (784, 256, 128, 10))
BATCHES = (1, 32, 256, 1024)
OPS = PEER_OPS
DTYPES = ("float32", "float64")
FORWARD_PEERS = ("torch", "jax", "onnxruntime", "openvino", "sklearn")
TRAINING_PEERS = ("torch", "jax")
QUICK = {"sizes": ((100, 100, 50, 10), (784, 256, 128, 10)), "batches": (1, 256)}
# The gate's reference: NumPy's result recomputed in float64 (not the backend timed).
REFERENCE = "numpy"
THREADS = 1
# The clocks a run can time with: wall time (what a user waits), or this process's CPU time
# (all its threads), which leaves out the time spent waiting for a CPU that other jobs hold:
# on a busy machine the one-thread figures closest to a quiet machine's, though a peer's
# helper threads that spin count against it.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
CLOCK_TEXT = {"wall": "wall time (`time.perf_counter`)",
              "cpu": "this process's CPU time, all threads (`time.process_time`)"}
TINY_STEP = 1e-9


def gemm_peak(dtype, n=1024, min_time=0.1, rounds=5, clock="wall"):
    """GFLOP/s of the best round of a 1-thread ``np.dot`` of two (n, n) ``dtype`` matrices
    (:func:`fastnn.reporting.machine.matmul_peak`, the peak ``fastnn bench`` measures)."""
    return matmul_peak(n, min_time, rounds, dtype=dtype, clock=CLOCKS[clock])["gflops"]


def quartiles(values):
    """``[q1, median, q3]`` of ``values``."""
    return [float(value) for value in np.percentile(np.asarray(values), [25, 50, 75])]


def race_point(sizes, batch, op, dtype, threads, rounds, min_time, peak, clock="wall"):
    """fastnn's auto backend and the peers at one point, timed interleaved.

    Returns
    -------
    dict
        ``fastnn`` (backend, median seconds, GFLOP/s, peak fraction) and ``peers``:
        name -> status, note, median seconds, GFLOP/s and the paired ratio's quartiles.
    """
    case = make_case(sizes, batch, dtype)
    expected = reference_result(REFERENCE, case, op)
    auto = fastnn.fastest_backend(sizes, batch, op, dtype)
    flops = flop_count(sizes, batch, op)
    point = {"layer_sizes": sizes_label(sizes), "batch_size": batch, "op": op,
             "dtype": dtype, "flops": flops, "fastnn": {"backend": auto}, "peers": {}}
    checked = checked_call(auto, "mlp", case, op, REFERENCE, expected)
    if not checked.passed:
        point["fastnn"]["note"] = checked.note
        return point
    timed = [(None, timeit.Timer(checked.call, setup=checked.reset or "pass"))]
    peers = FORWARD_PEERS if op == "forward" else TRAINING_PEERS
    with contextlib.ExitStack() as pins:
        rows = measure_peers(peers, case, op, threads, REFERENCE, expected, timed, pins,
                             lambda name: case_row(name, PEER_LEVEL, case, op, threads,
                                                   REFERENCE))
        timers = [_clocked(timer, clock) for _, timer in timed]
        numbers = [calibrate(timer, min_time) for timer in timers]
        per_call = time_rounds(timers, numbers, rounds, rotate=True)
    ours = per_call[0]
    point["fastnn"].update(_rate(ours, flops, peak))
    samples = dict(zip([row.backend for row, _ in timed[1:]], per_call[1:]))
    for row in rows:
        entry = {"status": row.status or "ok", "note": row.note}
        if row.backend in samples:
            theirs = samples[row.backend]
            entry.update(_rate(theirs, flops, peak))
            entry["ratio_quartiles"] = quartiles(theirs / ours)
        point["peers"][row.backend] = entry
    return point


def _clocked(timer, clock):
    """``timer`` reading ``CLOCKS[clock]`` (``timeit.Timer.timeit`` reads ``timer.timer``)."""
    timer.timer = CLOCKS[clock]
    return timer


def _rate(per_call, flops, peak):
    median = float(np.median(per_call))
    gflops = flops / median / 1e9
    return {"median_s": median, "quartiles_s": quartiles(per_call), "gflops": gflops,
            "peak_fraction": gflops / peak}


def lost(point):
    """The peers faster than fastnn at a point (median paired ratio below 1)."""
    return [name for name, entry in point["peers"].items()
            if "ratio_quartiles" in entry and entry["ratio_quartiles"][1] < 1.0]


def limits_point(sizes, batch, op, dtype, rounds, min_time, peak, clock="wall"):
    """What fastnn's time at one point goes to, measured from outside its kernels.

    Returns
    -------
    dict
        Median seconds of: ``network`` (the benchmark network, sigmoid), ``identity``
        (the same weights, identity activations), ``blas_products`` (the forward
        products alone with ``np.matmul``), ``vector_activation`` (forward only:
        ``scipy.special.expit`` over the same activations); and the derived
        ``activation_share`` and ``products_gflops`` / ``products_peak_fraction`` (the
        identity network's product rate).
    """
    from scipy.special import expit

    case = make_case(sizes, batch, dtype)
    auto = fastnn.fastest_backend(sizes, batch, op, dtype)
    identity_spec = NetworkSpec.create(sizes, "identity", "identity", "mse", dtype)
    identity = Case(identity_spec, case.params.copy(), case.X, case.T)
    calls = {"network": _op_call(auto, case, op), "identity": _op_call(auto, identity, op)}
    weights = fastnn.MLP.from_spec(case.spec, case.params, backend="numpy").weights
    outs = [np.empty((batch, w.shape[1]), dtype=dtype) for w in weights]
    inputs = [case.X] + outs[:-1]

    def products():
        for A, W, out in zip(inputs, weights, outs):
            np.matmul(A, W, out=out)
    calls["blas_products"] = products
    if op == "forward":
        def activations():
            for out in outs:
                expit(out, out=out)
        calls["vector_activation"] = activations
    timers = [_clocked(timeit.Timer(call), clock) for call in calls.values()]
    numbers = [calibrate(timer, min_time) for timer in timers]
    per_call = time_rounds(timers, numbers, rounds, rotate=True)
    medians = {name: float(np.median(times)) for name, times in zip(calls, per_call)}
    flops = flop_count(sizes, batch, op)
    forward_flops = flop_count(sizes, batch, "forward")
    result = {"layer_sizes": sizes_label(sizes), "batch_size": batch, "op": op,
              "dtype": dtype, "backend": auto, "median_s": medians,
              "activation_share": (medians["network"] - medians["identity"])
              / medians["network"],
              "products_gflops": flops / medians["identity"] / 1e9,
              "blas_products_gflops": forward_flops / medians["blas_products"] / 1e9}
    result["products_peak_fraction"] = result["products_gflops"] / peak
    result["blas_products_peak_fraction"] = result["blas_products_gflops"] / peak
    return result


def _op_call(backend, case, op):
    """The MLP-level call of ``op`` on ``backend`` (warmed up: compiled outside timing).

    train_step takes a tiny learning rate here: the identity network would diverge over
    thousands of steps at the benchmark's; the step costs the same.
    """
    if op == "train_step":
        net = fastnn.MLP.from_spec(case.spec, case.params, backend=backend)

        def call():
            return net.train_step(case.X, case.T, TINY_STEP)
    else:
        call, _, _ = make_call(backend, "mlp", case, op)
    call()
    return call


def run(args):
    """Both parts over the chosen grid; returns the document written."""
    sizes, batches = (QUICK["sizes"], QUICK["batches"]) if args.quick else (SIZES, BATCHES)
    sizes = args.sizes or sizes
    batches = args.batches or batches
    document = {"load_average_start": os.getloadavg()[0], "cpus": os.cpu_count(),
                "command": " ".join(["python benchmarks/peer_race_analysis.py", *sys.argv[1:]]),
                "threads": THREADS, "clock": args.clock, "rounds": args.rounds,
                "min_time": args.min_time,
                "reference": REFERENCE, "points": [], "limits": []}
    with pinned_threads(THREADS) as in_force:
        threads = {"blas_threads": in_force["blas_threads"] or THREADS,
                   "numba_threads": in_force["numba_threads"] or THREADS}
        document["machine"] = machine_info()
        document["threads_in_force"] = in_force
        peaks = {dtype: gemm_peak(dtype, clock=args.clock) for dtype in args.dtypes}
        document["gemm_peak_gflops"] = peaks
        for dtype in args.dtypes:
            for op in args.ops:
                for layer_sizes in sizes:
                    for batch in batches:
                        point = race_point(layer_sizes, batch, op, dtype, threads,
                                           args.rounds, args.min_time, peaks[dtype],
                                           args.clock)
                        document["points"].append(point)
                        _progress(point)
                        if lost(point):
                            document["limits"].append(limits_point(
                                layer_sizes, batch, op, dtype, args.rounds, args.min_time,
                                peaks[dtype], args.clock))
    document["load_average_end"] = os.getloadavg()[0]
    return document


def _progress(point):
    ratios = ", ".join(f"{name} {entry['ratio_quartiles'][1]:.2f}"
                       for name, entry in point["peers"].items() if "ratio_quartiles" in entry)
    print(f"{point['dtype']} {point['op']} {point['layer_sizes']} x{point['batch_size']}: "
          f"{ratios}", file=sys.stderr, flush=True)


def markdown(document):
    """The two tables (race, limits) as Markdown."""
    lines = ["# Peer race analysis (issue 19)\n",
             f"Command: `{document['command']}`. "
             f"Clock: {CLOCK_TEXT[document.get('clock', 'wall')]}. "
             "One thread (BLAS, Numba, each peer); "
             f"{document['rounds']} interleaved rounds with rotated order, at least "
             f"{document['min_time']} s each. Peaks (best round of a 1-thread 1024x1024 "
             "`np.dot` in the dtype): "
             + ", ".join(f"{peak_label(dtype)} matmul peak {value:.1f} GFLOP/s"
                         for dtype, value in document["gemm_peak_gflops"].items())
             + ".\n",
             _noise_line(document), document.get("note", ""),
             "Cells: peer / fastnn time, median of the paired per-round ratios [q1-q3] "
             "(above 1: fastnn faster). fastnn: the backend `auto` picks, its median time, "
             "GFLOP/s and fraction of the matmul peak in the point's dtype (fp32 for "
             "float32, fp64 for float64).\n"]
    peers = list(dict.fromkeys(name for point in document["points"] for name in point["peers"]))
    lines.append("| dtype | op | network | batch | fastnn | GFLOP/s (peak) | "
                 + " | ".join(peers) + " |")
    lines.append("|" + "---|" * (6 + len(peers)))
    for point in document["points"]:
        ours = point["fastnn"]
        if "median_s" not in ours:
            lines.append(f"| {point['dtype']} | {point['op']} | {point['layer_sizes']} | "
                         f"{point['batch_size']} | {ours['backend']}: {ours.get('note', '')} |")
            continue
        cells = [_ratio_cell(point["peers"].get(name)) for name in peers]
        lines.append(f"| {point['dtype']} | {point['op']} | {point['layer_sizes']} | "
                     f"{point['batch_size']} | {ours['backend']} {_us(ours['median_s'])} | "
                     f"{ours['gflops']:.1f} ({100 * ours['peak_fraction']:.0f}%) | "
                     + " | ".join(cells) + " |")
    lines.extend(_dtype_lines(document["points"]))
    if document["limits"]:
        lines.append("\n## Where fastnn loses: what its time goes to\n")
        lines.append("network: the benchmark network (sigmoid); identity: the same weights "
                     "with identity activations (the products without the activation pass); "
                     "activations: their share of the network's time; products GFLOP/s: the "
                     "identity network's; BLAS: the forward products alone with np.matmul; "
                     "expit: scipy.special.expit in place over the same activations.\n")
        lines.append("| dtype | op | network | batch | network | identity | activations | "
                     "products GFLOP/s (peak) | BLAS products | BLAS GFLOP/s (peak) | expit |")
        lines.append("|" + "---|" * 11)
        for item in document["limits"]:
            times = item["median_s"]
            lines.append(
                f"| {item['dtype']} | {item['op']} | {item['layer_sizes']} | "
                f"{item['batch_size']} | {_us(times['network'])} | {_us(times['identity'])} | "
                f"{100 * item['activation_share']:.0f}% | {item['products_gflops']:.1f} "
                f"({100 * item['products_peak_fraction']:.0f}%) | "
                f"{_us(times['blas_products'])} | {item['blas_products_gflops']:.1f} "
                f"({100 * item['blas_products_peak_fraction']:.0f}%) | "
                f"{_us(times['vector_activation']) if 'vector_activation' in times else '-'} |")
    return "\n".join(lines) + "\n"


def _noise_line(document):
    """How busy the machine was (1-minute load average at the start and end) and a warning
    when it had more runnable work than CPUs: such a run's figures are not comparable."""
    start, end = document.get("load_average_start"), document.get("load_average_end")
    cpus = document.get("cpus") or 1
    if start is None or end is None:
        return ""
    line = f"Load average (1 min): {start:.1f} at the start, {end:.1f} at the end, {cpus} CPUs."
    if max(start, end) > cpus:
        line += (" **NOISY: more runnable work than CPUs; the times, GFLOP/s and peaks of "
                 "this run are not comparable with a quiet machine's. Rerun it quietly.**")
    return line + "\n"


def dtype_ratios(points):
    """fastnn's float32 time over its float64 time, per (op, network, batch) timed in both.

    Returns
    -------
    dict of (op, layer sizes, batch) -> float
    """
    times = {(point["op"], point["layer_sizes"], point["batch_size"], point["dtype"]):
             point["fastnn"]["median_s"] for point in points if "median_s" in point["fastnn"]}
    return {key[:3]: seconds / times[key[:3] + ("float64",)]
            for key, seconds in times.items()
            if key[3] == "float32" and key[:3] + ("float64",) in times}


def _dtype_lines(points):
    ratios = dtype_ratios(points)
    if not ratios:
        return []
    lines = ["\n## fastnn: float32 time / float64 time (target at batch 1 forward: <= 0.6)\n",
             "| op | network | batch | float32 / float64 |", "|---|---|---|---|"]
    lines += [f"| {op} | {sizes} | {batch} | {ratio:.2f} |"
              for (op, sizes, batch), ratio in ratios.items()]
    return lines


def _ratio_cell(entry):
    if entry is None:
        return ""
    if "ratio_quartiles" not in entry:
        return entry["status"] + (": " + entry["note"].split(";")[0][:60] if entry["note"]
                                  else "")
    q1, median, q3 = entry["ratio_quartiles"]
    return f"{median:.2f} [{q1:.2f}-{q3:.2f}]"


def _us(seconds):
    return f"{seconds * 1e6:.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="the folder to write into")
    parser.add_argument("--force", action="store_true", help="replace its files")
    parser.add_argument("--quick", action="store_true",
                        help="2 networks x batches 1 and 256 instead of the full grid")
    parser.add_argument("--sizes", help="layer sizes, e.g. 100-100-50-10,784-256-128-10")
    parser.add_argument("--batches", help="batch sizes, e.g. 1,256")
    parser.add_argument("--dtypes", default=",".join(DTYPES))
    parser.add_argument("--ops", default=",".join(OPS))
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                        help="wall time, or the process's CPU time (on a busy machine)")
    parser.add_argument("--min-time", type=float, default=0.02)
    args = parser.parse_args(argv)
    args.dtypes = tuple(args.dtypes.split(","))
    args.ops = tuple(args.ops.split(","))
    args.sizes = tuple(tuple(int(size) for size in item.split("-"))
                       for item in args.sizes.split(",")) if args.sizes else None
    args.batches = tuple(int(batch) for batch in args.batches.split(",")) if args.batches \
        else None
    out = Path(args.out)
    if (out / "analysis.json").exists() and not args.force:
        parser.error(f"{out} holds an analysis already; --force to replace it")
    document = run(args)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "analysis.json", json.dumps(document, indent=1, default=str))
    atomic_write_text(out / "analysis.md", markdown(document))
    print(f"wrote {out / 'analysis.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
