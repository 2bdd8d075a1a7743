"""Shared fixtures. Every backend in the registry joins the parametrised tests automatically."""

import numpy as np
import pytest

import fastnn
from fastnn.spec import HIDDEN_ACTIVATIONS, LOSSES, OUTPUT_ACTIVATIONS

BACKENDS = fastnn.available_backends()
FAST_BACKENDS = [name for name in BACKENDS if name != "python"]
FLOAT32_BACKENDS = [name for name in BACKENDS if "float32" in fastnn.backends.get(name).dtypes]

# Every (hidden activation, output activation, loss) combination.
COMBINATIONS = [(hidden, output, loss) for hidden in HIDDEN_ACTIVATIONS
                for output in OUTPUT_ACTIVATIONS for loss in LOSSES]


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
