"""Every backend against the pure-Python reference, for every activation x loss pair.

For each combination three seeded random architectures (1-4 weight layers, widths
1-40, batches 1-50) are drawn; the same parameters must give the same forward output, loss,
gradients and parameters after five train steps on every backend. The reference and
the others are found by their declared capabilities (``is_reference``).
"""

import numpy as np
import pytest
from conftest import COMBINATIONS, FAST_BACKENDS, FLOAT32_BACKENDS, REFERENCE

from fastnn import MLP
from fastnn.params import flatten
from fastnn.testing import TOLERANCE, random_case, relative_difference

CASES_PER_COMBINATION = 3
CASES = [(case, combination) for combination in COMBINATIONS
         for case in range(CASES_PER_COMBINATION)]
N_STEPS = 5
# Each step moves no parameter by more than this, so the trajectory stays where the
# loss is well-conditioned (see fastnn.testing.random_case) for every pair.
MAX_PARAMETER_STEP = 0.01


def _network(spec, params, backend, dtype="float64"):
    spec32 = spec if dtype == "float64" else type(spec).create(
        spec.layer_sizes, spec.activation, spec.output_activation, spec.loss, dtype)
    return MLP.from_spec(spec32, params, backend)


def _results(net, X, T, learning_rate=None):
    """Everything the cross-check compares, computed on ``net`` (which it trains)."""
    output = net.forward(X)
    loss = net.loss(X, T)
    _, dweights, dbiases = net.gradients(X, T)
    gradients = flatten(dweights, dbiases)
    if learning_rate is None:
        learning_rate = MAX_PARAMETER_STEP / max(np.max(np.abs(gradients)), 1.0)
    step_losses = [net.train_step(X, T, learning_rate) for _ in range(N_STEPS)]
    return {
        "forward": output,
        "loss": loss,
        "gradients": gradients,
        "learning_rate": learning_rate,
        "step_losses": np.array(step_losses),
        "params_after_steps": net.flat_parameters.copy(),
    }


@pytest.fixture(scope="module")
def reference_results():
    """Reference results per combination, computed once for every backend to compare with."""
    cache = {}

    def compute(index, combination):
        if index not in cache:
            rng = np.random.default_rng(1000 + index)
            spec, params, X, T = random_case(rng, *combination)
            cache[index] = (spec, params, X, T,
                            _results(_network(spec, params, REFERENCE), X, T))
        return cache[index]

    return compute


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("index,combination", list(enumerate(c for _, c in CASES)),
                         ids=[f"{'-'.join(c)}-{case}" for case, c in CASES])
def test_backend_matches_reference(reference_results, index, combination, backend, dtype):
    if dtype == "float32" and backend not in FLOAT32_BACKENDS:
        pytest.skip(f"{backend} has no float32")
    spec, params, X, T, expected = reference_results(index, combination)
    actual = _results(_network(spec, params, backend, dtype), X, T, expected["learning_rate"])
    for key, value in expected.items():
        difference = relative_difference(actual[key], value)
        assert difference <= TOLERANCE[dtype], (
            f"{backend} {dtype} {key} differs from the reference by {difference:.3g} "
            f"for {spec}")


def test_crosscheck_covers_every_combination():
    # 8 hidden activations; 10 outputs (softmax and exp are output-only); 4 losses.
    assert len(COMBINATIONS) == 8 * 10 * 4
    assert {combination for _, combination in CASES} == set(COMBINATIONS)
