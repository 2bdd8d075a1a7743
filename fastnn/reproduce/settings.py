"""How much work a reproduce run does: the full run, ``--quick``, and a tiny one for tests."""

from __future__ import annotations

from dataclasses import dataclass, replace

from fastnn import backends

# Table 1's networks. The tutorial does not give its 4-layer sizes; 3-3-3-1 (the 3-3-1
# example with one more hidden layer of three) does 21 multiply-adds over 7 neurons against
# 3-3-1's 12 over 4, both ratios 1.75 - the ratio of the tutorial's looped times, 70/40 us.
SPEEDUP_NETWORKS = ((3, 3, 1), (3, 3, 3, 1), (100, 100, 50, 10))


@dataclass(frozen=True)
class ByCapability:
    """A count that depends on what a backend declares, looked up by backend name.

    ``counts[name]`` is ``time_limited`` for a backend that declares ``is_time_limited``
    (the pure-Python one: a few rounds are all it can afford), else ``default``.

    Attributes
    ----------
    default : int or None
    time_limited : int or None
    """

    default: int | None
    time_limited: int | None

    def __getitem__(self, backend_name):
        limited = backends.get(backend_name).is_time_limited
        return self.time_limited if limited else self.default


@dataclass(frozen=True)
class Settings:
    """The knobs of one run.

    Attributes
    ----------
    label : str
        ``"full"``, ``"quick"`` or ``"tiny"``; printed in the report.
    seeds : tuple of int
        Seeds of the training runs (initial parameters; tutorial A's split too).
    timing_rounds : int
        Timed rounds per case in table 1.
    timing_min_time : float
        Seconds per round in table 1, at least.
    passes_a, epochs_b, epochs_c : int
        Training length of tutorials A, B and C (the tutorials: 3000, 10 000, 1000).
    per_sample_rounds : ByCapability
        Per backend, passes of tutorial A's per-sample loop that are timed.
    per_sample_subset : int or None
        Samples per timed per-sample pass (None: the whole training set).
    full_batch_steps : ByCapability
        Per backend, full-batch steps timed in one round (None: all ``passes_a``).
    full_batch_rounds : int
        Timed rounds of the full-batch form.
    epoch_timing_steps : int
        Steps timed per round for tutorials B and C's per-epoch times.
    epochs_keras : int
        Epochs of tutorial C's Keras comparison (the tutorial: 1000).
    """

    label: str
    seeds: tuple
    timing_rounds: int
    timing_min_time: float
    passes_a: int
    epochs_b: int
    epochs_c: int
    per_sample_rounds: ByCapability
    per_sample_subset: int | None
    full_batch_steps: ByCapability
    full_batch_rounds: int
    epoch_timing_steps: int
    epochs_keras: int

    @property
    def is_full(self):
        return self.label == "full"

    def with_seeds(self, count):
        """The same settings with seeds ``0 .. count - 1``."""
        return replace(self, seeds=tuple(range(count)))


FULL = Settings(
    # Many short rounds: on a shared machine a short round is more often left alone by
    # other processes, and the median of many of them is steadier than of a few long ones.
    label="full", seeds=tuple(range(5)), timing_rounds=25, timing_min_time=0.05,
    passes_a=3000, epochs_b=10_000, epochs_c=1000,
    per_sample_rounds=ByCapability(7, time_limited=2), per_sample_subset=None,
    full_batch_steps=ByCapability(None, time_limited=2), full_batch_rounds=3,
    epoch_timing_steps=100, epochs_keras=1000,
)

QUICK = Settings(
    label="quick", seeds=(0, 1), timing_rounds=3, timing_min_time=0.02,
    passes_a=1000, epochs_b=1000, epochs_c=300,
    per_sample_rounds=ByCapability(3, time_limited=1), per_sample_subset=200,
    full_batch_steps=ByCapability(30, time_limited=1), full_batch_rounds=3,
    epoch_timing_steps=10, epochs_keras=30,
)

# For the test suite: every code path, a fraction of a second of training.
TINY = Settings(
    label="tiny", seeds=(0,), timing_rounds=2, timing_min_time=0.001,
    passes_a=5, epochs_b=20, epochs_c=5,
    per_sample_rounds=ByCapability(2, time_limited=1), per_sample_subset=10,
    full_batch_steps=ByCapability(2, time_limited=1), full_batch_rounds=2,
    epoch_timing_steps=2, epochs_keras=2,
)
