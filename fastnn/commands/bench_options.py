"""The options of ``fastnn bench``, shared by a local sweep (:mod:`fastnn.commands.bench`)
and a sweep on Dask workers (:mod:`fastnn.commands.bench_distributed`): the presets, the
:class:`~fastnn.bench.measure.sweep.SweepConfig` they make, the default run folder, the
command line that repeats a run, and the exit status of a finished one.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

from fastnn.bench.measure.sweep import SweepConfig
from fastnn.bench.peers import peer_names
from fastnn.bench.workload.cases import (
    LEVELS,
    OPS,
    OVERVIEW_BATCH_SIZES,
    OVERVIEW_LAYER_SIZES,
    parse_dtypes,
    parse_layer_sizes,
    parse_names,
    parse_positive_ints,
    sizes_label,
    split_list,
)
from fastnn.bench.workload.memory import check_sweep_memory
from fastnn.bench.workload.user_model import load_model

# Plain ``fastnn bench``: the headline networks at batch 1 and 256, every op, the public
# MLP call only (what users get; --full adds the backend level, whose difference is the
# model's validation overhead). About 45-50 s on a 2-core machine with an empty Numba
# cache, of which about 20 s compile (the full sweep: about 5 minutes).
OVERVIEW = {"layer_sizes": OVERVIEW_LAYER_SIZES, "batch_sizes": OVERVIEW_BATCH_SIZES,
            "levels": ("mlp",), "rounds": 5, "min_time": 0.05}
# --full: the thorough sweep, SweepConfig's defaults; it makes reports/baseline.
FULL = {}
# --quick: a sweep that finishes in well under a minute (numba compile included).
QUICK = {"layer_sizes": ((3, 3, 1), (64, 30, 10), (100, 100, 50, 10)), "batch_sizes": (1, 32),
         "levels": ("mlp",), "rounds": 3, "min_time": 0.01, "python_limit": 0.02,
         "peak_size": 512}

# The options that change what a sweep measures (a resumed run must not change them).
SWEEP_OPTIONS = ("quick", "full", "peers", "model", "sizes", "batches", "backends", "ops",
                 "dtypes", "threads", "levels", "rounds", "min_time", "python_limit")


def sweep_options_given(args):
    """Whether the command line sets any option of :data:`SWEEP_OPTIONS`."""
    return any(getattr(args, name) not in (None, False) for name in SWEEP_OPTIONS)


def config_from_args(args):
    """A validated :class:`SweepConfig` from the parsed options (ValueError if malformed)."""
    settings = dict(_base_settings(args))
    if args.sizes:
        settings["layer_sizes"] = tuple(parse_layer_sizes(item) for item in split_list(args.sizes))
    if args.batches:
        settings["batch_sizes"] = parse_positive_ints(args.batches, "batch sizes")
    if args.backends:
        settings["backends"] = tuple(split_list(args.backends))
    if args.ops:
        settings["ops"] = parse_names(args.ops, OPS, "op")
    if args.dtypes:
        settings["dtypes"] = parse_dtypes(args.dtypes)
    if args.threads:
        settings["threads"] = parse_positive_ints(args.threads, "thread counts")
    if args.levels:
        settings["levels"] = parse_names(args.levels, LEVELS, "level")
    if args.peers:
        settings["peers"] = peer_names(split_list(args.peers))
    if args.model:
        settings.update(_model_settings(args))
    for name, value in (("rounds", args.rounds), ("min_time", args.min_time),
                        ("python_limit", args.python_limit)):
        if value is not None:
            settings[name] = value
    config = SweepConfig(**settings)
    config.check()  # a bad setting is a usage error now, not a failure mid-run
    check_sweep_memory(config)  # before anything is allocated or written
    return config


def _base_settings(args):
    """The preset the options start from: --quick, --full or the overview."""
    if args.quick:
        return QUICK
    if getattr(args, "full", False):
        return FULL
    return OVERVIEW


def _model_settings(args):
    """The settings of ``--model FILE``: its path, layer sizes and (default) dtype."""
    if args.sizes:
        raise ValueError("--model and --sizes exclude each other: the model's sizes are timed")
    net = load_model(args.model)
    settings = {"model": str(args.model), "layer_sizes": (net.spec.layer_sizes,)}
    if not args.dtypes:
        settings["dtypes"] = (net.spec.dtype,)
    return settings


def default_run_folder():
    """``reports/bench-YYYYMMDD-HHMMSS`` (UTC): a new folder per run, never a baseline."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path("reports") / f"bench-{stamp}"


def reproduce_command(config, out):
    """The ``fastnn bench`` command line that repeats this sweep."""
    parts = ["fastnn bench",
             f"--model {config.model}" if config.model else
             "--sizes " + ",".join(sizes_label(sizes) for sizes in config.layer_sizes),
             "--batches " + ",".join(map(str, config.batch_sizes)),
             "--backends " + ",".join(config.backend_names()),
             "--ops " + ",".join(config.ops), "--dtypes " + ",".join(config.dtypes),
             "--threads " + ",".join(map(str, config.threads)),
             "--levels " + ",".join(config.levels), f"--rounds {config.rounds}",
             f"--min-time {config.min_time:g}", f"--python-limit {config.python_limit:g}",
             *([f"--peers {','.join(config.peers)}"] if config.peers else []),
             f"--out {out}"]
    return " ".join(parts)


def finished_status(frame, not_measured=(), out=None):
    """The exit status of a finished sweep, saying on stderr what made it 1.

    Parameters
    ----------
    frame : pandas.DataFrame
        The run's result rows (:func:`fastnn.reporting.rows.results_frame`).
    not_measured : collection
        The cases a distributed sweep gave up (their keys).
    out : pathlib.Path or None
        The run folder, for the ``--resume`` hint.

    Returns
    -------
    int
        1 if a backend failed the correctness gate or a case was not measured, else 0.
    """
    status = 0
    broken = frame[frame["status"].isin(["failed", "error"])]
    if len(broken):
        print(f"fastnn bench: {len(broken)} measurement(s) failed the correctness gate; "
              f"see 'Points not timed' in the report", file=sys.stderr)
        status = 1
    if not_measured:
        print(f"fastnn bench: {len(not_measured)} case(s) not measured (see the "
              f"report); measure them with: fastnn bench --resume {out}", file=sys.stderr)
        status = 1
    return status
