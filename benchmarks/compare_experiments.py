"""A/A and A/B experiments for `fastnn compare`: does it flag exactly what changed?

Runs `fastnn bench --quick` several times and tabulates `fastnn compare`'s verdicts:

- A/A quiet: the same commit swept twice; every regression flagged is a false alarm;
- A/A busy (``--busy``): the second sweep runs with a CPU-bound job (a spinning process)
  on the machine the whole time;
- A/B: the second sweep with a test-only 15 % slowdown injected into one op of one
  backend (``FASTNN_TEST_SLOWDOWN``, :mod:`fastnn.bench.measure.slowdown`): the measurements of
  that backend and op should be flagged (at the batch sizes where the slowdown is above
  the noise), and nothing else.

Run it on a quiet machine (the numbers are only as good as the machine is quiet):

    python benchmarks/compare_experiments.py --repeats 10 --busy --out /tmp/experiments

It writes the runs, each comparison's Markdown and ``experiments.md`` (the tables) into
``--out``. ``--bench-args`` passes options to every sweep (e.g. ``"--backends numpy,numba"``).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

from fastnn.bench.report.compare import compare_text

BUSY_CODE = "while True:\n    pass\n"


def bench(folder, rounds, extra, environ=None):
    """One `fastnn bench --quick` sweep into ``folder``."""
    command = [sys.executable, "-m", "fastnn", "bench", "--quick", "--rounds", str(rounds),
               "--out", str(folder), *extra]
    subprocess.run(command, check=True, env=environ, stdout=subprocess.DEVNULL)


def compare(old, new, out):
    """`fastnn compare`'s exit status and table for two runs (the Markdown saved)."""
    status = subprocess.run([sys.executable, "-m", "fastnn", "compare", str(old), str(new),
                             "--markdown", str(out)], stdout=subprocess.DEVNULL).returncode
    _, table = compare_text(old, new)
    return status, table


def _bench_beside(folder, rounds, extra, variables, busy):
    """One sweep with ``variables`` set, beside a CPU-bound process if ``busy``."""
    spinner = subprocess.Popen([sys.executable, "-c", BUSY_CODE]) if busy else None
    try:
        bench(folder, rounds, extra, dict(os.environ, **variables))
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()


def counts(table):
    return {verdict: int((table["verdict"] == verdict).sum())
            for verdict in ("regressed", "improved", "inconclusive", "same")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=9,
                        help="rounds per sweep (3 rounds, --quick's default, can never be "
                             "significant after correction; default 9)")
    parser.add_argument("--slowdown", default="numba:forward:0.15",
                        help="BACKEND:OP:FRACTION injected in the A/B runs")
    parser.add_argument("--busy", action="store_true",
                        help="also the A/A pair with a CPU-bound job during the second sweep")
    parser.add_argument("--bench-args", default="", help="extra options for every sweep")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--again", action="store_true",
                        help="no new sweeps: compare the runs already in --out again (e.g. "
                             "after a change to fastnn compare's rule)")
    args = parser.parse_args(argv)
    extra = shlex.split(args.bench_args)
    args.out.mkdir(parents=True, exist_ok=True)
    backend, op, _ = args.slowdown.split(":")
    lines = ["| repeat | experiment | regressed | improved | inconclusive | same | exit | "
             "slowed measurements flagged |", "|---|---|---|---|---|---|---|---|"]
    for repeat in range(args.repeats):
        base = args.out / f"r{repeat}-A"
        if not args.again:
            bench(base, args.rounds, extra)
        experiments = [("A/A quiet", "AA-quiet", {}, False)]
        if args.busy:
            experiments.append(("A/A busy", "AA-busy", {}, True))
        experiments.append(("A/B " + args.slowdown, "AB",
                            {"FASTNN_TEST_SLOWDOWN": args.slowdown}, False))
        for name, slug, variables, busy in experiments:
            folder = args.out / f"r{repeat}-{slug}"
            if not args.again:
                _bench_beside(folder, args.rounds, extra, variables, busy)
            status, table = compare(base, folder, args.out / f"r{repeat}-{slug}.compare.md")
            found = counts(table)
            slowed = table[(table["backend"] == backend) & (table["op"] == op)]
            flagged = slowed[slowed["verdict"] == "regressed"]
            detail = (f"{len(flagged)} of {len(slowed)} (batches "
                      f"{', '.join(str(batch) for batch in flagged['batch_size'])})"
                      if name.startswith("A/B") else "")
            lines.append(f"| {repeat} | {name} | {found['regressed']} | {found['improved']} | "
                         f"{found['inconclusive']} | {found['same']} | {status} | {detail} |")
            print(lines[-1], flush=True)
    command = " ".join(shlex.quote(part) for part in ["python", *sys.argv])
    text = ("# fastnn compare: A/A and A/B experiments\n\n" + "\n".join(lines)
            + f"\n\nReproduce: `{command}`\n")
    (args.out / ("experiments-again.md" if args.again else "experiments.md")).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
