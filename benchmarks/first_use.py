"""Fresh-process timings of a first use (issue 18's targets 1-4), two trees alternated.

Every sample is a new Python process with the tree under test first on ``PYTHONPATH`` and
its own cache directories, so "cold" means an empty Numba cache. The trees are measured
alternately (old, new, old, new, ...) and each figure is reported as the median with
quartiles; compare the ratios, not the absolute seconds.

    python benchmarks/first_use.py --old /work/main --new . --repeats 5
    python benchmarks/first_use.py --new . --only cold_forward --repeats 3 --out first.json

Measurements (the network is 64-32-10, sigmoid, mse, float64, ``backend="auto"``):

``cold_forward``
    import + ``MLP(...)`` + first ``forward``, empty caches (target 1: <= 0.3 s); then
    ``numba_live_s``: seconds from the first call until ``net.backend`` is a Numba
    backend, calling ``forward`` every 50 ms (target 2: <= 3 s; with a foreground
    compile it is the first call's time), and ``numpy_call_ms_median`` /
    ``numpy_call_ms_max``: those calls' times until the switch.
``warm_forward``
    the same with the caches written by a previous process (target 3: <= 0.3 s on
    Numba, or NumPy answering while Numba loads in a thread and ``numba_live_s`` <= 1 s).
``reinstall``
    the same after the tree's files are rewritten with new modification times, as
    ``pip install --force-reinstall`` of the same version does (target 4), in a copy.
``estimator_fit``
    import + ``fastnn.estimator.MLPClassifier(random_state=0).fit(digits)`` cold, and
    scikit-learn's own ``MLPClassifier(random_state=0).fit(digits)`` in the same process
    pattern (target 1, second half).

Thread pools are pinned to one thread (``OMP_NUM_THREADS`` etc., ``NUMBA_NUM_THREADS``)
and recorded with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "NUMBA_NUM_THREADS": "1"}

FORWARD = r"""
import json, sys, time
started = time.perf_counter()
import numpy as np
import fastnn
net = fastnn.MLP([64, 32, 10], seed=0)
x = np.linspace(-1.0, 1.0, 64)
net.forward(x)
first = time.perf_counter()
record = {"first_result_s": first - started, "backend_at_first": net.backend,
          "numba_imported_at_first": "numba" in sys.modules,
          "scipy_imported_at_first": "scipy" in sys.modules}
deadline = first + float(sys.argv[1])
numpy_calls = []
while not net.backend.startswith("numba") and time.perf_counter() < deadline:
    time.sleep(0.05)
    called = time.perf_counter()
    net.forward(x)
    numpy_calls.append(time.perf_counter() - called)
live = time.perf_counter()
record["numba_live_s"] = (live - first) if net.backend.startswith("numba") else None
if numpy_calls:  # the calls until the switch (the last one may be the first on Numba)
    record["numpy_call_ms_median"] = 1e3 * sorted(numpy_calls)[len(numpy_calls) // 2]
    record["numpy_call_ms_max"] = 1e3 * max(numpy_calls)
record["backend_at_end"] = net.backend
print(json.dumps(record))
"""

ESTIMATOR = r"""
import json, sys, time, warnings
started = time.perf_counter()
from sklearn.datasets import load_digits
X, y = load_digits(return_X_y=True)
if sys.argv[1] == "fastnn":
    from fastnn.estimator import MLPClassifier
else:
    from sklearn.neural_network import MLPClassifier
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    estimator = MLPClassifier(random_state=0).fit(X, y)
print(json.dumps({"fit_s": time.perf_counter() - started,
                  "backend": getattr(estimator, "backend_", "sklearn"),
                  "accuracy": float((estimator.predict(X) == y).mean())}))
"""


def run(tree, code, args, caches, timeout):
    env = dict(os.environ, PYTHONPATH=str(tree), NUMBA_CACHE_DIR=str(caches / "numba"),
               FASTNN_CACHE_DIR=str(caches / "fastnn"), **THREADS)
    env.pop("FASTNN_TIERED", None)
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                         cwd=caches,
                         text=True, timeout=timeout, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def wait_for_background_compiles(caches, timeout):
    """Until no process holds a compile lock in ``caches`` (a tiered run's worker)."""
    import fcntl

    deadline = time.monotonic() + timeout
    for lock in (caches / "fastnn").rglob("*.lock"):
        with open(lock, "a+b") as handle:
            while time.monotonic() < deadline:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError:
                    time.sleep(0.2)


def measure(name, tree, work, live_timeout):
    caches = Path(tempfile.mkdtemp(dir=work))
    if name == "cold_forward":
        result = run(tree, FORWARD, [str(live_timeout)], caches, live_timeout + 600)
    elif name == "warm_forward":
        run(tree, FORWARD, [str(live_timeout)], caches, live_timeout + 600)
        wait_for_background_compiles(caches, live_timeout)
        result = run(tree, FORWARD, [str(live_timeout)], caches, live_timeout + 600)
    elif name == "reinstall":
        copy = Path(tempfile.mkdtemp(dir=work)) / "tree"
        shutil.copytree(Path(tree) / "fastnn", copy / "fastnn")
        run(copy, FORWARD, [str(live_timeout)], caches, live_timeout + 600)
        wait_for_background_compiles(caches, live_timeout)
        time.sleep(0.05)
        shutil.rmtree(copy / "fastnn")
        # new modification times, as a reinstall writes (copytree's copy2 would keep them)
        shutil.copytree(Path(tree) / "fastnn", copy / "fastnn", copy_function=shutil.copy)
        result = run(copy, FORWARD, [str(live_timeout)], caches, live_timeout + 600)
    elif name == "estimator_fit":
        result = run(tree, ESTIMATOR, ["fastnn"], caches, 3600)
        wait_for_background_compiles(caches, live_timeout)
    elif name == "sklearn_fit":
        result = run(tree, ESTIMATOR, ["sklearn"], caches, 3600)
    else:
        raise ValueError(f"unknown measurement {name!r}")
    wait_for_background_compiles(caches, live_timeout)
    for marker in (caches / "fastnn").rglob("*.ready"):
        record = json.loads(marker.read_text())
        for stage, seconds in record.get("stages", {}).items():
            result[f"background compile: {stage}"] = seconds
    shutil.rmtree(caches, ignore_errors=True)
    return result


def summary(values):
    values = [value for value in values if isinstance(value, (int, float))]
    if not values:
        return None
    if len(values) == 1:
        return {"median": values[0], "q1": values[0], "q3": values[0], "n": 1}
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return {"median": median, "q1": q1, "q3": q3, "n": len(values)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", help="the tree to compare with (e.g. a main checkout)")
    parser.add_argument("--new", default=".", help="the tree under test (default .)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", action="append",
                        choices=("cold_forward", "warm_forward", "reinstall", "estimator_fit",
                                 "sklearn_fit"))
    parser.add_argument("--live-timeout", type=float, default=300.0,
                        help="seconds to wait for the Numba tier (default 300)")
    parser.add_argument("--out", help="write the results here as JSON (never overwrites)")
    args = parser.parse_args(argv)
    names = args.only or ["cold_forward", "warm_forward", "reinstall", "estimator_fit",
                          "sklearn_fit"]
    trees = {"new": Path(args.new).resolve()}
    if args.old:
        trees = {"old": Path(args.old).resolve(), **trees}
    samples = {(name, label): [] for name in names for label in trees}
    with tempfile.TemporaryDirectory() as work:
        for repeat in range(args.repeats):
            for name in names:
                labels = list(trees) if repeat % 2 == 0 else list(reversed(trees))
                for label in labels:
                    if name == "sklearn_fit" and label == "old":
                        continue  # scikit-learn is the same in both
                    result = measure(name, trees[label], Path(work), args.live_timeout)
                    samples[(name, label)].append(result)
                    print(f"{name:14s} {label:3s} #{repeat}: {json.dumps(result)}", flush=True)
    report = {"threads": THREADS, "python": sys.version.split()[0], "repeats": args.repeats,
              "trees": {label: str(path) for label, path in trees.items()}, "results": {}}
    for (name, label), results in samples.items():
        if not results:
            continue
        keys = [key for key, value in results[0].items() if isinstance(value, (int, float))
                and not isinstance(value, bool)]
        report["results"][f"{name}/{label}"] = {
            "summary": {key: summary([result.get(key) for result in results]) for key in keys},
            "samples": results}
    print("\nmedian [q1, q3] seconds")
    for key, entry in report["results"].items():
        for field, stats in entry["summary"].items():
            if stats:
                print(f"  {key:22s} {field:16s} {stats['median']:8.3f} "
                      f"[{stats['q1']:.3f}, {stats['q3']:.3f}] n={stats['n']}")
    if args.out:
        from fastnn.atomic import atomic_write_text

        atomic_write_text(args.out, json.dumps(report, indent=2), overwrite=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
