"""Shared fixtures. Every backend in the registry joins the parametrised tests automatically."""

import os
from collections import Counter

# scikit-learn runs its array-API estimator checks only when SciPy was imported with
# this set; without it they are skipped rather than run.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
# backend="auto" resolves in the foreground in the tests (as FASTNN_TIERED=0 makes it for
# users): tests/test_tiered.py turns tiering on where it tests it.
os.environ.setdefault("FASTNN_TIERED", "0")
# The kernels that read the activations, loss and optimizer at run time serve the hundreds
# of configurations the tests sweep with one compile per dtype (a network compiles kernels
# of its own configuration otherwise); tests/test_specialised_kernels.py checks the
# specialised kernels against them.
os.environ.setdefault("FASTNN_SPECIALISED_KERNELS", "0")

import numpy as np
import pytest
from hypothesis import settings

import fastnn
from fastnn.spec import HIDDEN_ACTIVATIONS, LOSSES, OUTPUT_ACTIVATIONS

BACKENDS = fastnn.available_backends()
# The readable reference every other backend is checked against, and the others.
REFERENCE = fastnn.backends.reference_backend()
FAST_BACKENDS = fastnn.backends.backends_where(is_reference=False)
FLOAT32_BACKENDS = [name for name in BACKENDS if "float32" in fastnn.backends.get(name).dtypes]

# Every (hidden activation, output activation, loss) combination.
COMBINATIONS = [(hidden, output, loss) for hidden in HIDDEN_ACTIVATIONS
                for output in OUTPUT_ACTIVATIONS for loss in LOSSES]


# Fuzz profiles: "default" keeps the suite fast; `tox -e fuzz` runs "long".
settings.register_profile("default", max_examples=150, deadline=None)
settings.register_profile("long", max_examples=3000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# Outcomes of the fuzz tests, printed at the end of the run.
FUZZ_OUTCOMES = Counter()


def pytest_terminal_summary(terminalreporter):
    if FUZZ_OUTCOMES:
        total = sum(FUZZ_OUTCOMES.values())
        terminalreporter.section("fuzz outcomes")
        for outcome, count in sorted(FUZZ_OUTCOMES.items()):
            terminalreporter.write_line(f"{outcome:<52} {count:>7} ({count / total:.1%})")
        terminalreporter.write_line(f"{'total cases':<52} {total:>7}")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True, scope="session")
def no_user_tuning(tmp_path_factory):
    """Keep a developer's own `fastnn tune` file out of the tests: the shipped table rules."""
    from fastnn.backends import tuning

    previous = os.environ.get("FASTNN_TUNE_FILE")
    os.environ["FASTNN_TUNE_FILE"] = str(tmp_path_factory.mktemp("tuning") / "absent.json")
    tuning.reload()
    yield
    if previous is None:
        os.environ.pop("FASTNN_TUNE_FILE", None)
    else:
        os.environ["FASTNN_TUNE_FILE"] = previous
    tuning.reload()
