"""Time the backends across layer sizes, batch sizes, ops and dtypes; write a report.

Every point is validated against the reference backend before it is timed. The run
goes into its own folder (default reports/bench-<UTC date-time>): results.csv,
results.json, report.md and PNG plots. An existing folder is never replaced without
--force. Exit status: 0 on success, 1 if a backend failed the correctness gate,
2 for usage errors.

examples:
  fastnn bench                                   an overview in under two minutes (compile included)
  fastnn bench --full                            the thorough sweep (the committed baseline)
  fastnn bench --quick                           a smaller sweep, under a minute
  fastnn bench --sizes 100-100-50-10 --batches 1,256 --backends numpy,numba --out reports/mine
  fastnn bench --quick --peers torch,jax,onnxruntime,sklearn   race fastnn against the peers
  fastnn bench --quick --peers torch,jax,onnxruntime,openvino,sklearn --dtypes float32,float64
  fastnn bench --model my_net.onnx --batches 1,64 --peers onnxruntime   your own network
  fastnn bench --quick --scheduler local:2       the sweep on a local Dask cluster of 2 workers
  fastnn bench --scheduler tcp://head:8786       on every machine of a Dask cluster, one report
  fastnn bench --resume reports/bench-...        finish an interrupted --scheduler sweep
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tqdm import tqdm

from fastnn.bench.measure.sweep import run_sweep
from fastnn.bench.peers import peer_versions, peers_metadata
from fastnn.bench.peers.report import peer_console_text, without_peers
from fastnn.bench.report.document import headline_caption, headline_table, write_report
from fastnn.bench.workload.cases import (
    DEFAULT_BATCH_SIZES,
    DEFAULT_LAYER_SIZES,
    OPS,
    OVERVIEW_BATCH_SIZES,
    OVERVIEW_LAYER_SIZES,
    sizes_label,
)
from fastnn.commands.bench_options import (
    config_from_args,
    default_run_folder,
    finished_status,
    reproduce_command,
    sweep_options_given,
)
from fastnn.ops import SWEPT_OPS
from fastnn.reporting.formatting import markdown_table
from fastnn.reporting.machine import machine_info, source_revision
from fastnn.reporting.roles import BackendRoles
from fastnn.reporting.rows import results_frame
from fastnn.reporting.run_folder import RunFolder

HELP = "time the backends across sizes, batches and ops; write tables and plots into reports/"



def add_arguments(parser):
    """Register the ``fastnn bench`` options."""
    parser.add_argument("--sizes", action="append", metavar="SIZES",
                        help="layer sizes such as 100-100-50-10; repeat or comma-separate "
                             "(default: " + ",".join(map(sizes_label, OVERVIEW_LAYER_SIZES))
                             + "; --full: " + ",".join(map(sizes_label, DEFAULT_LAYER_SIZES))
                             + ")")
    parser.add_argument("--batches", action="append", metavar="N",
                        help="batch sizes, e.g. 1,32,256 (default: "
                             + ",".join(map(str, OVERVIEW_BATCH_SIZES)) + "; --full: "
                             + ",".join(map(str, DEFAULT_BATCH_SIZES)) + ")")
    parser.add_argument("--backends", action="append", metavar="NAME",
                        help="backends to time (default: all available)")
    parser.add_argument("--ops", action="append", metavar="OP",
                        help=f"operations among {', '.join(OPS)} (default: {', '.join(SWEPT_OPS)})")
    parser.add_argument("--dtypes", action="append", metavar="DTYPE",
                        help="float64 and/or float32 (default: float64)")
    parser.add_argument("--threads", action="append", metavar="N",
                        help="BLAS and Numba thread counts, one pass each (default: 1)")
    parser.add_argument("--levels", action="append", metavar="LEVEL",
                        help="mlp (the public MLP call) and/or backend (pre-validated arrays); "
                             "default: mlp (--full: both)")
    parser.add_argument("--rounds", type=int, metavar="N",
                        help="timed rounds per measurement (default: 5; --full: 7; "
                             "--quick: 3)")
    parser.add_argument("--min-time", type=float, metavar="SECONDS",
                        help="target duration of one round (default: 0.05; --full: 0.1; "
                             "--quick: 0.01)")
    parser.add_argument("--python-limit", type=float, metavar="SECONDS",
                        help="time the pure-Python backend only where one call is estimated "
                             "to take at most this long (default: 0.25; --quick: 0.02)")
    parser.add_argument("--out", metavar="FOLDER",
                        help="the run folder (default: reports/bench-<UTC date-time>)")
    parser.add_argument("--force", action="store_true",
                        help="replace the run folder if it exists (e.g. a saved baseline)")
    sweep = parser.add_mutually_exclusive_group()
    sweep.add_argument("--full", action="store_true",
                       help="the thorough sweep: " + ",".join(map(sizes_label, DEFAULT_LAYER_SIZES))
                            + " x batches " + ",".join(map(str, DEFAULT_BATCH_SIZES))
                            + ", both levels, 7 rounds of 0.1 s (about 5 minutes; it makes "
                              "reports/baseline)")
    sweep.add_argument("--quick", action="store_true",
                       help="a smaller sweep that finishes in under a minute")
    parser.add_argument("--peers", action="append", metavar="NAME",
                        help="peer libraries to race: torch, jax, onnxruntime, openvino, sklearn "
                             "(any subset; one not installed is reported as such)")
    parser.add_argument("--model", metavar="FILE",
                        help="time your own network (.npz from MLP.save, or .onnx) instead "
                             "of the benchmark networks, over --batches")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the sweep on Dask workers: a scheduler address "
                             "(tcp://host:8786) or local:N (a local cluster of N worker "
                             "processes); every machine runs the sweep, one case at a time")
    parser.add_argument("--resume", metavar="RUNDIR",
                        help="finish an interrupted --scheduler sweep in its run folder")


def run_from_args(args):
    """Read the parsed options into plain values and run; returns the exit status."""
    if args.resume:
        if args.out or args.force:
            raise ValueError("--resume writes into the run folder it names, keeping its "
                             "finished cases; drop --out and --force")
        from fastnn.commands import bench_distributed  # imports Dask only when asked for

        config = config_from_args(args) if sweep_options_given(args) else None
        return bench_distributed.resume(Path(args.resume), args.scheduler, config)
    config = config_from_args(args)
    out = Path(args.out) if args.out else None
    if args.scheduler:
        from fastnn.commands import bench_distributed

        return bench_distributed.run(config, args.scheduler, out, args.force)
    return run(config, out, args.force)


def run(config, out=None, force=False):
    """Run the sweep on this machine and write the report; returns the exit status.

    Parameters
    ----------
    config : SweepConfig
        What to measure (checked: :func:`~fastnn.commands.bench_options.config_from_args`).
    out : pathlib.Path or None
        The run folder; default :func:`~fastnn.commands.bench_options.default_run_folder`.
    force : bool
        Replace the run folder if it exists.
    """
    out = out or default_run_folder()
    with RunFolder(out, force=force) as staging:
        _announce(config, out)
        revision = source_revision()  # before the sweep: the code it imports and measures
        start = time.perf_counter()
        result = _sweep_with_progress(config)
        duration = time.perf_counter() - start
        frame = results_frame(result.rows)
        metadata = {"title": f"fastnn bench: {out.name}",
                    "source": f"`fastnn bench`, a sweep of {duration:.0f} s"
                              + (f", of the network in {config.model}" if config.model else ""),
                    "duration_s": duration,
                    "command": reproduce_command(config, out),
                    "machine": machine_info(peers=peer_versions(config.peers)),
                    "peers": peers_metadata(config.peers),
                    "revision": revision,
                    "config": config.as_dict(), "peaks": result.peaks,
                    "backend_roles": BackendRoles.of_registry().as_dict(),
                    "time_limited_flop_rates": result.flop_rates, "noise": result.noise}
        write_report(staging, frame, metadata)
    backend_frame = without_peers(frame, metadata)
    print(f"\n## {headline_caption(backend_frame)}\n\n"
          f"{markdown_table(headline_table(backend_frame))}{peer_console_text(frame, metadata)}")
    print(f"report: {out / 'report.md'} (the sweep took {duration:.0f} s)")
    return finished_status(frame)


def _announce(config, out):
    print(f"fastnn bench: {config.n_points()} points x backends "
          f"{', '.join(config.backend_names())}, levels {', '.join(config.levels)}"
          + (f", peers {', '.join(config.peers)}" if config.peers else "") + f" -> {out}",
          file=sys.stderr)


def _sweep_with_progress(config):
    """Run the sweep with a progress bar (a terminal) or progress lines (a log, CI)."""
    total = config.n_points()
    if sys.stderr.isatty() and not os.environ.get("CI"):
        with tqdm(total=total, desc="fastnn bench", unit="point", file=sys.stderr,
                  bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]"
                             "{postfix}") as bar:
            def advance(label):
                bar.set_postfix_str(label, refresh=False)
                bar.update()
            return run_sweep(config, progress=advance)
    return run_sweep(config, progress=ProgressLines(total, sys.stderr))


class ProgressLines:
    """Progress as text lines, for a log or CI where a bar would not redraw.

    One line every ``every`` points (and at the last), with the elapsed time and an
    estimate of the time left. The estimate uses the rate of the points after the first:
    the first carries the compile time, which the others do not pay again.

    Parameters
    ----------
    total : int
        Points in the sweep.
    stream : file object
    every : int or None
        Points between lines; default: every point up to 50 points, else 50 lines.
    clock : callable
        Seconds, monotonic (``time.perf_counter``).
    """

    def __init__(self, total, stream, every=None, clock=time.perf_counter):
        self.total, self.stream, self.clock = total, stream, clock
        self.every = every or max(1, -(-total // 50))
        self.start = clock()
        self.done = 0
        self.first_done_at = None

    def __call__(self, label):
        self.done += 1
        now = self.clock()
        if self.first_done_at is None:
            self.first_done_at = now
        if self.done % self.every and self.done != self.total:
            return
        print(f"fastnn bench: {self.done}/{self.total} points, {label}; elapsed "
              f"{_clock_text(now - self.start)}, {self.time_left_text(now)}",
              file=self.stream, flush=True)

    def time_left_text(self, now):
        """``"about 1:05 left"``, ``"done"`` or ``"time left unknown"`` (one point so far)."""
        left = self.total - self.done
        if left == 0:
            return "done"
        if self.done < 2:
            return "time left unknown"
        per_point = (now - self.first_done_at) / (self.done - 1)
        return f"about {_clock_text(per_point * left)} left"


def _clock_text(seconds):
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}:{seconds:02d}"
