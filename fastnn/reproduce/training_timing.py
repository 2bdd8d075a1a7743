"""Training times per backend: tutorial A's per-sample algorithm, and the full-batch form.

Rounds are interleaved across backends by the shared timing loop
(:func:`fastnn.reporting.timing.time_rounds`), one round of each backend and then the
next, every round from the same starting parameters. Backends that declare themselves
time-limited (pure Python) run fewer rounds and, in quick runs, on a subset of the
samples. Where only part of a run is timed, the total is the measured time per pass
times the number of passes, and the result says so (``extrapolated``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fastnn import backends
from fastnn.params import init_params
from fastnn.reporting.timing import Timing, fresh_state_timer, time_rounds
from fastnn.reproduce.training import per_sample_pass, writable
from fastnn.testing import relative_difference

PER_SAMPLE = "per-sample loop"
FULL_BATCH = "full batch"
TIMING_SEED = 0
MAX_PASSES_PER_ROUND = 20


@dataclass(frozen=True)
class FormTiming:
    """Time per pass (epoch) of one backend in one form of training.

    Attributes
    ----------
    backend : str
    form : str
        :data:`PER_SAMPLE` or :data:`FULL_BATCH`.
    per_pass : Timing
        Seconds per pass over the whole training set, one value per round.
    passes_timed : int
        Passes (or steps) timed in each round.
    samples_timed : int
        Training samples per timed pass (fewer than the set: scaled up linearly).
    total_passes : int
        Passes of the experiment.
    """

    backend: str
    form: str
    per_pass: Timing
    passes_timed: int
    samples_timed: int
    total_passes: int
    training_samples: int

    @property
    def total(self):
        """Estimated (or measured) seconds for all passes: median per pass times passes."""
        return self.per_pass.median * self.total_passes

    @property
    def extrapolated(self):
        return self.passes_timed < self.total_passes or self.samples_timed < self.training_samples


def time_tutorial_a(settings, experiment, backend_names):
    """Time tutorial A's per-sample algorithm and the full-batch form on every backend.

    With ``settings.per_sample_subset`` set, per-sample passes (every backend) and the
    time-limited backends' full-batch steps run on that many samples, scaled up to the
    whole set.

    Returns
    -------
    list of FormTiming
        Per-sample timings first, then full-batch, each in ``backend_names`` order.
    """
    spec = experiment.spec
    split = experiment.data(TIMING_SEED)
    X, T = writable(split.X_train), writable(split.T_train)
    start = init_params(spec, experiment.init, TIMING_SEED)
    m = X.shape[0]
    subset = min(m, settings.per_sample_subset or m)
    rate = experiment.learning_rate

    def per_sample_case(name):
        backend = backends.get(name)

        def run(params):
            for _ in range(passes_per_round[name]):
                per_sample_pass(backend, spec, params, X[:subset], T[:subset], rate)
        return run

    # A time-limited backend's cost is linear in the samples: it may time a subset.
    full_batch_samples = {name: subset if _time_limited(name) else m for name in backend_names}

    def full_batch_case(name, steps):
        backend = backends.get(name)
        X_used, T_used = X[:full_batch_samples[name]], T[:full_batch_samples[name]]

        def run(params):
            for _ in range(steps):
                backend.train_step(spec, params, X_used, T_used, rate)
        return run

    for name in backend_names:
        _warm_up(backends.get(name), spec, start, X, T, rate)
    # Fast backends run several passes per round, so that a round is long enough to time.
    passes_per_round = dict.fromkeys(backend_names, 1)
    for name, one_pass in _interleave({name: per_sample_case(name) for name in backend_names},
                                      dict.fromkeys(backend_names, 1), start).items():
        passes_per_round[name] = min(MAX_PASSES_PER_ROUND, max(
            1, math.ceil(settings.timing_min_time / one_pass.median)))
    per_sample_rounds = {name: settings.per_sample_rounds[name] for name in backend_names}
    per_sample = _interleave({name: per_sample_case(name) for name in backend_names},
                             per_sample_rounds, start)
    steps = {name: settings.full_batch_steps[name] or experiment.epochs
             for name in backend_names}
    steps = {name: min(count, experiment.epochs) for name, count in steps.items()}
    full_batch = _interleave({name: full_batch_case(name, steps[name]) for name in backend_names},
                             dict.fromkeys(backend_names, settings.full_batch_rounds), start)
    results = [FormTiming(name, PER_SAMPLE,
                          _scale(per_sample[name], m / subset / passes_per_round[name]),
                          passes_per_round[name], subset, experiment.epochs, m)
               for name in backend_names]
    results += [FormTiming(name, FULL_BATCH,
                           _scale(full_batch[name], m / full_batch_samples[name] / steps[name]),
                           steps[name], full_batch_samples[name], experiment.epochs, m)
                for name in backend_names]
    return results


def time_epochs(settings, experiment, backend_names):
    """Time full-batch epochs (a training step, plus the test loss where recorded).

    A time-limited backend's cost is linear in the number of samples, so with
    ``settings.per_sample_subset`` set it runs one epoch on that many samples and the
    time is scaled up (reported as extrapolated); it always times one epoch per round.

    Returns
    -------
    list of FormTiming
        One per backend, form :data:`FULL_BATCH`.
    """
    spec = experiment.spec
    split = experiment.data(TIMING_SEED)
    X, T = writable(split.X_train), writable(split.T_train)
    X_test, T_test = writable(split.X_test), writable(split.T_test)
    start = init_params(spec, experiment.init, TIMING_SEED)
    m = X.shape[0]
    steps = {name: 1 if _time_limited(name)
             else min(settings.epoch_timing_steps, experiment.epochs) for name in backend_names}
    samples = {name: min(m, settings.per_sample_subset or m) if _time_limited(name) else m
               for name in backend_names}

    def epochs_case(name):
        backend = backends.get(name)
        fraction = samples[name] / m
        X_used, T_used = X[:samples[name]], T[:samples[name]]
        test_rows = max(1, round(X_test.shape[0] * fraction))
        X_test_used, T_test_used = X_test[:test_rows], T_test[:test_rows]

        def run(params):
            for _ in range(steps[name]):
                if experiment.record_test_loss:
                    backend.loss(spec, params, X_test_used, T_test_used)
                backend.train_step(spec, params, X_used, T_used, experiment.learning_rate)
        return run

    for name in backend_names:
        _warm_up(backends.get(name), spec, start, X, T, experiment.learning_rate)
    timings = _interleave({name: epochs_case(name) for name in backend_names},
                          dict.fromkeys(backend_names, settings.full_batch_rounds), start)
    return [FormTiming(name, FULL_BATCH, _scale(timings[name], m / samples[name] / steps[name]),
                       steps[name], samples[name], experiment.epochs, m)
            for name in backend_names]


def per_sample_matches_full_batch(experiment, passes=2):
    """Relative difference between tutorial A's per-sample passes and full-batch steps.

    Both start from the same parameters and run ``passes`` updates on the vectorised
    reference backend; a difference at rounding level shows they are the same algorithm.
    """
    spec = experiment.spec
    split = experiment.data(TIMING_SEED)
    X, T = writable(split.X_train), writable(split.T_train)
    backend = backends.get(backends.reference_backend(time_limited_ok=False))
    per_sample = init_params(spec, experiment.init, TIMING_SEED)
    full_batch = per_sample.copy()
    for _ in range(passes):
        per_sample_pass(backend, spec, per_sample, X, T, experiment.learning_rate)
        backend.train_step(spec, full_batch, X, T, experiment.learning_rate)
    return relative_difference(per_sample, full_batch)


def _warm_up(backend, spec, params, X, T, learning_rate):
    """Compile (or load from cache) everything the timed code calls, outside the timings."""
    backend.prepare(spec)
    backend.gradients(spec, params, X[:1], T[:1])
    backend.loss(spec, params, X[:2], T[:2])
    backend.train_step(spec, params.copy(), X[:2], T[:2], learning_rate)


def _interleave(cases, rounds, start):
    """Time ``case(params)`` once per round from a fresh copy of ``start``, interleaved."""
    timers = [fresh_state_timer(case, start.copy) for case in cases.values()]
    per_call = time_rounds(timers, [1] * len(timers), [rounds[name] for name in cases])
    return {name: Timing(tuple(times.tolist()), 1) for name, times in zip(cases, per_call)}


def _scale(timing, factor):
    return timing.scaled(factor)


def _time_limited(name):
    return backends.get(name).is_time_limited
