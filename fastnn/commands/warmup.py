"""Compile the Numba kernels of common configurations ahead of time (for a Docker image or
a CI cache), into the on-disk cache that ``backend="auto"`` and ``backend="numba"`` load.

``fastnn warmup`` compiles the default configuration (``MLP``'s defaults, float64);
``--all`` the common ones (the defaults of ``MLP``, ``MLPClassifier`` and
``MLPRegressor``, in both dtypes); ``--config dtype=float32,loss=cross_entropy``
(repeatable) the ones named, the unnamed keys taking ``MLP``'s defaults. A configuration
is what decides the compiled code (:func:`fastnn.backends.tiered.configuration`: the
dtype, the hidden and output activations, the loss and the optimizer; the dtype alone
with ``FASTNN_SPECIALISED_KERNELS=0``). What is compiled is listed by ``fastnn info``.
"""

from __future__ import annotations

import sys
import time

HELP = "compile the common kernel configurations ahead of time (for images and CI caches)"

DTYPES = ("float64", "float32")
# The (hidden, output, loss, optimizer) of --all, in each dtype: MLP's defaults; the
# estimators' (relu hidden layers, adam): a multi-class and a binary or multilabel
# classifier, a regressor.
COMMON = (("sigmoid", "sigmoid", "mse", "adam"), ("relu", "softmax", "cross_entropy", "adam"),
          ("relu", "sigmoid", "binary_cross_entropy", "adam"), ("relu", "identity", "mse", "adam"))


def add_arguments(parser):
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--all", action="store_true", help="every configuration")
    group.add_argument("--config", action="append", metavar="KEY=VALUE[,KEY=VALUE]",
                       help="a configuration, e.g. dtype=float32 (repeatable)")
    parser.add_argument("--target", default="numba", choices=("numba", "numba_parallel"),
                        help="the compiled backend (default numba)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_from_args(args):
    """The parsed options as plain values for :func:`run`; returns its exit status."""
    if args.all:
        configs = common_configurations()
    elif args.config:
        configs = [parse_configuration(text) for text in args.config]
    else:
        configs = [default_configuration()]
    return run(configs, target=args.target, progress=not args.no_progress)


def run(configs, target="numba", progress=True):
    """Compile the configurations ``configs`` for ``target``; returns 0.

    Parameters
    ----------
    configs : list of dict
        Configurations as :func:`fastnn.backends.tiered.configuration` makes them (see
        :func:`parse_configuration`, :func:`common_configurations`).
    target : {"numba", "numba_parallel"}
    progress : bool
        Show a progress bar (on stderr; the per-configuration lines then go there too).
    """
    from fastnn import warmup
    from fastnn.backends import tiered

    stages = warmup.STAGES
    bar = _progress_bar(len(configs) * len(stages)) if progress else None
    for config in configs:
        started = time.perf_counter()
        was_ready = tiered.is_ready(config, complete=True)
        warmup.warm(config, target, progress=_advance(bar, config), wait=True)
        if bar is not None and was_ready:
            bar.update(len(stages))
        state = "already compiled" if was_ready else "compiled"
        print(f"{_label(config)}: {state} ({time.perf_counter() - started:.1f} s)",
              file=sys.stderr if bar is not None else sys.stdout)
    if bar is not None:
        bar.close()
    return 0


def configuration_values():
    """Every key of a configuration and its allowed values (from the tables)."""
    from fastnn import config as settings

    if not settings.SPECIALISED_KERNELS:
        return {"dtype": DTYPES}
    from fastnn.optimizers import OPTIMIZERS
    from fastnn.spec import HIDDEN_ACTIVATIONS, LOSSES, OUTPUT_ACTIVATIONS

    return {"dtype": DTYPES, "hidden": tuple(HIDDEN_ACTIVATIONS),
            "output": tuple(OUTPUT_ACTIVATIONS), "loss": tuple(LOSSES),
            "optimizer": tuple(OPTIMIZERS)}


def default_configuration(dtype="float64"):
    """The configuration of ``MLP``'s defaults."""
    from fastnn.backends import tiered
    from fastnn.spec import NetworkSpec

    return tiered.configuration(NetworkSpec.create([1, 1, 1], dtype=dtype))


def common_configurations():
    """The configurations of ``--all`` (see :data:`COMMON`)."""
    from fastnn.backends import tiered
    from fastnn.spec import NetworkSpec

    configs = []
    for dtype in DTYPES:
        for hidden, output, loss, optimizer in COMMON:
            spec = NetworkSpec.create([1, 1, 1], hidden, output, loss, dtype)
            config = tiered.configuration(spec, optimizer)
            if config not in configs:
                configs.append(config)
    return configs


def parse_configuration(text):
    """``"dtype=float32,loss=cross_entropy"`` -> that configuration, the keys not named
    taking ``MLP``'s defaults (the output activation: the loss's); ValueError naming what
    is wrong."""
    from fastnn.backends import tiered
    from fastnn.spec import NetworkSpec

    values = configuration_values()
    named = {}
    for item in text.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise ValueError(f"--config takes KEY=VALUE pairs; got {item!r}")
        if key not in values:
            raise ValueError(f"unknown configuration key {key!r}; known: "
                             f"{', '.join(values)}")
        if value not in values[key]:
            raise ValueError(f"{key} must be one of {', '.join(values[key])}; "
                             f"got {value!r}")
        named[key] = value
    defaults = NetworkSpec.create([1, 1, 1])
    spec = NetworkSpec.create([1, 1, 1], named.get("hidden", defaults.activation),
                              named.get("output"), named.get("loss", defaults.loss),
                              named.get("dtype", "float64"))
    return tiered.configuration(spec, named.get("optimizer"))


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
