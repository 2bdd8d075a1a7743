"""Compile the Numba kernels of common configurations ahead of time (for a Docker image or
a CI cache), into the on-disk cache that ``backend="auto"`` and ``backend="numba"`` load.

``fastnn warmup`` compiles the default configuration (float64); ``--all`` every
configuration; ``--config dtype=float32`` (repeatable) the ones named. A configuration
is what decides the compiled code (:func:`fastnn.backends.tiered.configuration`). What
is compiled is listed by ``fastnn info``.
"""

from __future__ import annotations

import sys
import time

HELP = "compile the common kernel configurations ahead of time (for images and CI caches)"

# Every configuration --all compiles: the fields of tiered.configuration and their values.
CONFIGURATION_VALUES = {"dtype": ("float64", "float32")}
DEFAULT = {"dtype": "float64"}


def add_arguments(parser):
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--all", action="store_true", help="every configuration")
    group.add_argument("--config", action="append", metavar="KEY=VALUE[,KEY=VALUE]",
                       help="a configuration, e.g. dtype=float32 (repeatable)")
    parser.add_argument("--target", default="numba", choices=("numba", "numba_parallel"),
                        help="the compiled backend (default numba)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args):
    """Compile the configurations asked for; returns 0."""
    from fastnn import warmup
    from fastnn.backends import tiered

    if args.all:
        configs = [{"dtype": dtype} for dtype in CONFIGURATION_VALUES["dtype"]]
    elif args.config:
        configs = [parse_configuration(text) for text in args.config]
    else:
        configs = [dict(DEFAULT)]
    stages = warmup.STAGES
    bar = None if args.no_progress else _progress_bar(len(configs) * len(stages))
    for config in configs:
        started = time.perf_counter()
        was_ready = tiered.is_ready(config, complete=True)
        warmup.warm(config, args.target, progress=_advance(bar, config), wait=True)
        if bar is not None and was_ready:
            bar.update(len(stages))
        state = "already compiled" if was_ready else "compiled"
        print(f"{_label(config)}: {state} ({time.perf_counter() - started:.1f} s)",
              file=sys.stderr if bar is not None else sys.stdout)
    if bar is not None:
        bar.close()
    return 0


def parse_configuration(text):
    """``"dtype=float32"`` -> ``{"dtype": "float32"}``; ValueError naming what is wrong."""
    config = dict(DEFAULT)
    for item in text.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise ValueError(f"--config takes KEY=VALUE pairs; got {item!r}")
        if key not in CONFIGURATION_VALUES:
            raise ValueError(f"unknown configuration key {key!r}; known: "
                             f"{', '.join(CONFIGURATION_VALUES)}")
        if value not in CONFIGURATION_VALUES[key]:
            raise ValueError(f"{key} must be one of {', '.join(CONFIGURATION_VALUES[key])}; "
                             f"got {value!r}")
        config[key] = value
    return config


def _label(config):
    return ", ".join(f"{key}={value}" for key, value in sorted(config.items()))


def _progress_bar(total):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="warmup", unit="stage")


def _advance(bar, config):
    if bar is None:
        return None

    def advance(stage):
        bar.set_postfix_str(f"{_label(config)}: {stage}")
        bar.update(1)

    return advance
