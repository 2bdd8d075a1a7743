"""The tutorials' data sets and example networks."""

import numpy as np
import pytest
from conftest import BACKENDS
from sklearn.model_selection import train_test_split

from fastnn.reproduce import datasets


def test_tutorial_a_example_is_written_out_by_in_and_transposed_for_fastnn():
    weights, biases = datasets.tutorial_a_example()
    assert [W.shape for W in weights] == [(3, 3), (1, 3)]
    net = datasets.tutorial_a_network("numpy")
    np.testing.assert_array_equal(net.weights[0], weights[0].T)
    np.testing.assert_array_equal(net.weights[1], weights[1].T)
    np.testing.assert_array_equal(net.biases[1], biases[1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_tutorial_a_network_gives_0_8354(backend):
    output = datasets.tutorial_a_network(backend).forward(datasets.TUTORIAL_A_INPUT)
    # sigmoid(0.2 + 0.5 * (0.890903 + 0.967705 + 0.990987)) = sigmoid(1.624798) = 0.835456
    assert output[0] == pytest.approx(0.835456, abs=1e-6)


def test_tutorial_a_digits_split_sizes_targets_and_seeding():
    split = datasets.tutorial_a_digits(seed=3)
    assert split.X_train.shape == (1078, 64) and split.X_test.shape == (719, 64)
    assert split.T_train.shape == (1078, 10) and split.T_test.shape == (719, 10)
    np.testing.assert_array_equal(split.T_train.sum(axis=1), 1.0)
    np.testing.assert_array_equal(np.argmax(split.T_test, axis=1), split.y_test)
    # Standardised before splitting: the whole set has zero mean per (non-constant) pixel.
    everything = np.vstack([split.X_train, split.X_test])
    np.testing.assert_allclose(everything.mean(axis=0), 0, atol=1e-12)
    again = datasets.tutorial_a_digits(seed=3)
    np.testing.assert_array_equal(again.X_train, split.X_train)
    other = datasets.tutorial_a_digits(seed=4)
    assert not np.array_equal(other.y_train, split.y_train)


def test_tutorial_c_digits_is_sklearns_seed_42_split_scaled_to_unit_range():
    split = datasets.tutorial_c_digits()
    assert split.X_train.shape == (1437, 64) and split.X_test.shape == (360, 64)
    assert split.X_train.min() >= 0 and split.X_train.max() <= 1
    labels = np.arange(1797)
    _, test_index = train_test_split(labels, test_size=0.2, random_state=42)
    from sklearn.datasets import load_digits
    np.testing.assert_array_equal(split.y_test, load_digits().target[test_index])
    np.testing.assert_array_equal(np.argmax(split.T_train, axis=1), split.y_train)
    assert datasets.tutorial_c_digits() is split  # cached
    with pytest.raises(ValueError, match="read-only"):
        split.X_train[0, 0] = 1.0


def test_gaussian_clouds_are_the_tutorials_seed_1_draws():
    X, T, y = datasets.gaussian_clouds()
    assert X.shape == (1500, 2) and T.shape == (1500, 3)
    # np.random.seed(1); randn() starts 1.62434536, -0.61175641; the first cloud is
    # shifted by (0, -2).
    np.testing.assert_allclose(X[0], [1.62434536, -2.61175641], atol=1e-8)
    np.testing.assert_array_equal(y, np.repeat([0, 1, 2], 500))
    for label, centre in enumerate([(0, -2), (2, 2), (-2, 2)]):
        np.testing.assert_allclose(X[y == label].mean(axis=0), centre, atol=0.15)
    np.testing.assert_array_equal(np.argmax(T, axis=1), y)
    # The legacy generator is private to the data set: the global state is untouched.
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - the legacy state is the point
    datasets.gaussian_clouds.cache_clear()
    datasets.gaussian_clouds()
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_timing_network_gives_the_same_weights_in_both_layouts():
    weights_out_in, biases, net = datasets.timing_network((5, 4, 2), seed=7)
    for W_out_in, W in zip(weights_out_in, net.weights):
        np.testing.assert_array_equal(W_out_in, W.T)
    again, _, _ = datasets.timing_network((5, 4, 2), seed=7)
    np.testing.assert_array_equal(again[0], weights_out_in[0])
    assert 0 <= min(b.min() for b in biases) and max(b.max() for b in biases) < 1
