"""Seconds to compile one network's Numba kernels, call by call, in fresh processes with an
empty Numba cache (issue 18's target 2 counted without the tier switch), two trees
alternated.

Each sample is a new Python process with the tree first on ``PYTHONPATH`` and a fresh
``NUMBA_CACHE_DIR``; it times, on ``backend="numba"`` (a foreground compile), the first
``forward`` of one row, ``gradients``, ``train_step``, ``loss`` and a one-epoch ``fit``
(its optimizer's epoch kernel) of a 64-32-10 network, then the same calls again in a
second fresh process that finds the cache written (``warm``). Figures are medians with
the spread over ``--repeats``; they are noisy on a shared machine: compare the ratios.

    python benchmarks/compile_stages.py --old /work/main --new . --repeats 3
    python benchmarks/compile_stages.py --new . --activation tanh --loss cross_entropy \
        --optimizer sgd
    python benchmarks/compile_stages.py --old /work/main --new . --plain
    python benchmarks/compile_stages.py --new . --opt 0     # the floor without LLVM's work

``numba_start`` is the fixed part of a first compile: ``import numba`` and the first call
of a one-line kernel (Numba's target set up; no cache), before ``import fastnn``
(``import_and_build``: the rest of the imports and ``MLP(...)``). ``--opt`` sets ``NUMBA_OPT`` in
the timed processes (0: LLVM does the least, so what remains is Numba's typing and
lowering); ``--defer`` sets ``FASTNN_DEFER_HELPERS=1`` (helpers linked into their callers
without a translation of their own: fastnn/_numba_linking.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "NUMBA_NUM_THREADS": "1"}

STAGES = r"""
import json, sys, time
marks = {}
started = time.perf_counter()
import numpy as np
begin = time.perf_counter()
import numba
numba.njit(lambda x: x + 1)(1)
marks["numba_start"] = time.perf_counter() - begin
begin = time.perf_counter()
import fastnn
activation, loss, optimizer = sys.argv[1:4]
net = fastnn.MLP([64, 32, 10], activation=activation, loss=loss, backend="numba", seed=0)
rng = np.random.default_rng(0)
X = rng.standard_normal((20, 64))
T = np.eye(10)[rng.integers(0, 10, 20)]
marks["import_and_build"] = time.perf_counter() - begin
def timed(name, call):
    begin = time.perf_counter()
    call()
    marks[name] = time.perf_counter() - begin
timed("forward", lambda: net.forward(X[0]))
timed("gradients", lambda: net.gradients(X, T))
timed("train_step", lambda: net.train_step(X, T, 0.01))
timed("fit_epoch", lambda: net.fit(X, T, epochs=1, batch_size=8, optimizer=optimizer, seed=0))
timed("loss", lambda: net.loss(X, T))
marks["first_call_to_epoch"] = sum(marks[name] for name in
                                   ("forward", "gradients", "train_step", "fit_epoch"))
marks["total"] = time.perf_counter() - started
print(json.dumps(marks))
"""


def run(tree, cache, arguments, plain=False, extra_env=None):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree), NUMBA_CACHE_DIR=cache,
               FASTNN_CACHE_DIR=cache + "-fastnn", FASTNN_TIERED="0", **THREADS,
               **(extra_env or {}))
    env.pop("FASTNN_SPECIALISED_KERNELS", None)
    if plain:
        env["FASTNN_SPECIALISED_KERNELS"] = "0"
    os.makedirs(cache + "-fastnn", exist_ok=True)  # the cwd: not the tree, which -c would import
    out = subprocess.run([sys.executable, "-c", STAGES, *arguments], env=env,
                         capture_output=True, text=True, timeout=1800, cwd=cache + "-fastnn")
    if out.returncode != 0:
        raise RuntimeError(f"the timed process failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def summary(values):
    values = sorted(values)
    return {"median": round(statistics.median(values), 3), "min": round(values[0], 3),
            "max": round(values[-1], 3)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", help="the tree to compare with (e.g. a main checkout)")
    parser.add_argument("--new", default=".", help="the tree under test (default .)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--activation", default="sigmoid")
    parser.add_argument("--loss", default="mse")
    parser.add_argument("--optimizer", default="sgd")
    parser.add_argument("--plain", action="store_true",
                        help="FASTNN_SPECIALISED_KERNELS=0: the kernels that read the codes "
                             "at run time (what the test suite compiles)")
    parser.add_argument("--opt", choices=("0", "1", "2", "3"),
                        help="NUMBA_OPT in the timed processes (default: Numba's own, 3)")
    parser.add_argument("--defer", action="store_true",
                        help="FASTNN_DEFER_HELPERS=1: helpers linked without a translation "
                             "of their own (an experiment, off by default)")
    args = parser.parse_args(argv)
    extra_env = {}
    if args.opt is not None:
        extra_env["NUMBA_OPT"] = args.opt
    if args.defer:
        extra_env["FASTNN_DEFER_HELPERS"] = "1"
    trees = {"old": args.old, "new": args.new} if args.old else {"new": args.new}
    arguments = (args.activation, args.loss, args.optimizer)
    samples = {label: {"cold": [], "warm": []} for label in trees}
    for _ in range(args.repeats):
        for label, tree in trees.items():
            with tempfile.TemporaryDirectory() as work:
                cache = os.path.join(work, "numba")
                samples[label]["cold"].append(run(tree, cache, arguments, args.plain,
                                                  extra_env))
                samples[label]["warm"].append(run(tree, cache, arguments, args.plain,
                                                  extra_env))
    report = {label: {state: {key: summary([sample[key] for sample in runs])
                              for key in runs[0]}
                      for state, runs in by_state.items()}
              for label, by_state in samples.items()}
    print(json.dumps({"configuration": arguments, "plain": args.plain, "repeats": args.repeats,
                      "environment": extra_env,
                      **report}, indent=1))


if __name__ == "__main__":
    main()
