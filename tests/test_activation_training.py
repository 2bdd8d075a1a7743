"""Every activation trains identically on every backend, whole epochs included.

The cross-check covers single train steps; this covers ``fit``, where a backend that
runs whole epochs (``runs_epochs``) trains in its own compiled loop.
"""

import numpy as np
import pytest
from conftest import FAST_BACKENDS, REFERENCE

from fastnn import MLP
from fastnn.spec import HIDDEN_ACTIVATIONS
from fastnn.testing import TOLERANCE, relative_difference


@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
def test_fit_gives_the_reference_parameters(activation):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((40, 3))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    options = dict(optimizer="adam", learning_rate=0.01, epochs=5, batch_size=8, seed=0)
    reference = MLP([3, 6, 2], activation=activation, loss="cross_entropy",
                    backend=REFERENCE, seed=0)
    expected = reference.copy().fit(X, y, **options).flat_parameters
    for backend in FAST_BACKENDS:
        trained = reference.with_backend(backend).fit(X, y, **options).flat_parameters
        assert relative_difference(trained, expected) <= TOLERANCE["float64"], backend
