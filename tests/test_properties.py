"""Property-based tests over shapes and values (hypothesis)."""

import numpy as np
from conftest import FAST_BACKENDS, REFERENCE
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fastnn import MLP
from fastnn.spec import HIDDEN_ACTIVATIONS, LOSSES, OUTPUT_ACTIVATIONS
from fastnn.testing import TOLERANCE, near_log_clip, relative_difference

layer_sizes = st.lists(st.integers(1, 8), min_size=2, max_size=4)


@st.composite
def networks_and_batches(draw):
    sizes = draw(layer_sizes)
    net = MLP(sizes, activation=draw(st.sampled_from(HIDDEN_ACTIVATIONS)),
              output_activation=draw(st.sampled_from(OUTPUT_ACTIVATIONS)),
              loss=draw(st.sampled_from(LOSSES)), backend=REFERENCE,
              seed=draw(st.integers(0, 2**32 - 1)))
    m = draw(st.integers(1, 6))
    values = st.floats(-20, 20, allow_nan=False, allow_infinity=False)
    X = draw(arrays(np.float64, (m, sizes[0]), elements=values))
    T = draw(arrays(np.float64, (m, sizes[-1]), elements=st.floats(0, 1)))
    return net, X, T


@settings(max_examples=60, deadline=None)
@given(networks_and_batches())
def test_backends_agree_on_arbitrary_inputs(case):
    # Arbitrary inputs reach saturation, where gradients are ~1e-16 and only
    # absolutely accurate (hence floor=1), and the clip edge of the clipped logs,
    # which is discontinuous (near_log_clip; tested in test_gradients.py).
    net, X, T = case
    expected_output = net.forward(X)
    assume(not near_log_clip(net.spec, expected_output))
    expected_loss, expected_w, expected_b = net.gradients(X, T)
    for backend in FAST_BACKENDS:
        other = net.with_backend(backend)
        assert relative_difference(other.forward(X), expected_output,
                                   floor=1.0) <= TOLERANCE["float64"]
        loss, dweights, dbiases = other.gradients(X, T)
        assert relative_difference(loss, expected_loss, floor=1.0) <= 1e-9
        for actual, expected in zip(dweights + dbiases, expected_w + expected_b):
            assert relative_difference(actual, expected, floor=1.0) <= 1e-9


@settings(max_examples=60, deadline=None)
@given(networks_and_batches())
def test_outputs_are_finite_and_in_the_activation_range(case):
    net, X, _ = case
    Y = net.with_backend("numpy").forward(X)
    assert Y.shape == (X.shape[0], net.spec.n_outputs)
    assert np.isfinite(Y).all()
    if net.spec.output_activation in ("sigmoid", "softmax"):
        assert (Y >= 0).all() and (Y <= 1).all()
    if net.spec.output_activation == "softmax":
        np.testing.assert_allclose(Y.sum(axis=1), 1.0)


@settings(max_examples=40, deadline=None)
@given(networks_and_batches())
def test_a_batch_equals_its_rows_one_by_one(case):
    net, X, _ = case
    net = net.with_backend("numpy")
    rows = np.array([net.forward(x) for x in X])
    np.testing.assert_allclose(net.forward(X), rows, rtol=1e-12, atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(networks_and_batches())
def test_loss_is_a_mean_over_samples(case):
    net, X, T = case
    net = net.with_backend("numpy")
    per_sample = [net.loss(x, t) for x, t in zip(X, T)]
    assert abs(net.loss(X, T) - np.mean(per_sample)) <= 1e-9 * max(1.0, abs(np.mean(per_sample)))


@settings(max_examples=20, deadline=None)
@given(networks_and_batches())
def test_save_load_round_trip(tmp_path_factory, case):
    net, X, _ = case
    path = tmp_path_factory.mktemp("model") / "net.npz"
    net.save(path)
    loaded = MLP.load(path, backend=REFERENCE)
    assert loaded.spec == net.spec
    np.testing.assert_array_equal(loaded.forward(X), net.forward(X))
