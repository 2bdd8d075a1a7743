"""The peer race's gradient points with and without the gradient's oneDNN rule, alternated.

Runs ``fastnn bench`` (numba against JAX, float32, one thread) ``--repeats`` times with
each of two tune files in turn: ``--on`` (a tune file whose ``external_sgemm_gradient``
sends the gradient's products to oneDNN) and ``--off`` (the same machine's file without
it), and prints per point the medians over the repeats of fastnn's time, JAX's, and the
ratio fastnn / JAX (quartiles of the per-run ratios in brackets). One command, from the
worktree root::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=$PWD \\
    NUMBA_CACHE_DIR=$PWD/.numba_cache nice -n 5 python benchmarks/gradient_gemm_race_ab.py \\
        --on /tmp/tune-gemm.json --off /work/tune-quiet.json
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile

import numpy as np


def bench(tune_file, out, sizes, batches, ops, rounds):
    command = [sys.executable, "-m", "fastnn", "bench", "--sizes", sizes, "--batches", batches,
               "--backends", "numba", "--ops", ops, "--dtypes", "float32", "--threads", "1",
               "--levels", "mlp", "--rounds", str(rounds), "--min-time", "0.02",
               "--python-limit", "0.02", "--peers", "jax", "--out", out, "--force"]
    subprocess.run(command, env=dict(os.environ, FASTNN_TUNE_FILE=tune_file), check=True,
                   stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "results.csv")) as handle:
        return {(row["backend"], row["layer_sizes"], int(row["batch_size"]), row["op"]):
                float(row["median_s"]) for row in csv.DictReader(handle)
                if row["status"] == "ok"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--on", required=True, help="tune file with the gradient rule")
    parser.add_argument("--off", required=True, help="tune file without it")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="784-256-128-10")
    parser.add_argument("--batches", default="32,256,1024")
    parser.add_argument("--ops", default="gradients,train_step")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    runs = {"on": [], "off": []}
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(args.repeats):
            for name in (("on", "off") if repeat % 2 == 0 else ("off", "on")):
                runs[name].append(bench(getattr(args, name), os.path.join(scratch, name),
                                        args.sizes, args.batches, args.ops, args.rounds))
    points = sorted({key[1:] for run in runs["on"] for key in run if key[0] == "numba"},
                    key=lambda key: (key[0], key[2], key[1]))
    print("medians over the repeats (ms); fastnn / JAX ratio [quartiles of the runs' ratios]")
    print(f"{'point':<34}{'on':>8}{'off':>8}{'on/off':>8}   "
          f"{'JAX':>8}{'on/JAX':>22}{'off/JAX':>22}")
    for point in points:
        cells = {}
        for name, results in runs.items():
            mine = np.array([run[("numba", *point)] for run in results])
            ratios = np.array([run[("numba", *point)] / run[("jax", *point)]
                               for run in results if ("jax", *point) in run])
            cells[name] = (np.median(mine), ratios)
        jax = np.median([run[("jax", *point)] for results in runs.values() for run in results
                         if ("jax", *point) in run])
        line = f"{' '.join(map(str, point)):<34}{cells['on'][0] * 1e3:>8.3f}" \
               f"{cells['off'][0] * 1e3:>8.3f}{cells['on'][0] / cells['off'][0]:>8.3f}   " \
               f"{jax * 1e3:>8.3f}"
        for name in ("on", "off"):
            ratios = cells[name][1]
            q1, median, q3 = np.percentile(ratios, [25, 50, 75])
            line += f"{median:>10.3f} [{q1:.3f}-{q3:.3f}]"
        print(line)


if __name__ == "__main__":
    main()
