"""The tutorials' data sets and example networks (docs/guide/reproduce.rst), seeded and cached.

- :func:`tutorial_a_example` / :func:`tutorial_a_network`: tutorial A's 3-3-1 network.
- :func:`tutorial_a_digits`: digits, ``StandardScaler``, 60/40 split, one-hot targets.
- :func:`tutorial_c_digits`: digits, ``MinMaxScaler``, ``OneHotEncoder``, 80/20 split with
  ``random_state=42``.
- :func:`gaussian_clouds`: tutorial B's three Gaussian clouds, bit for bit.

Each split is a :class:`Split` of float64 arrays. The scalers are fitted on all 1797
images before splitting, as the tutorials do (the pixel ranges are fixed, 0..16, so
this leaks nothing of consequence).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from fastnn import backends
from fastnn.model import MLP

TUTORIAL_A_INPUT = (1.5, 2.0, 3.0)
N_DIGIT_CLASSES = 10


@dataclass(frozen=True)
class Split:
    """A train/test split with one-hot targets and class labels.

    Attributes
    ----------
    X_train : ndarray, shape (m_train, n_features)
    X_test : ndarray, shape (m_test, n_features)
    T_train : ndarray, shape (m_train, n_classes)
        One-hot targets.
    T_test : ndarray, shape (m_test, n_classes)
    y_train : ndarray of int, shape (m_train,)
    y_test : ndarray of int, shape (m_test,)
    """

    X_train: np.ndarray
    X_test: np.ndarray
    T_train: np.ndarray
    T_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


def tutorial_a_example():
    """Tutorial A's 3-3-1 weights and biases, written as the tutorial writes them.

    Returns
    -------
    weights : list of ndarray, shapes (3, 3) and (1, 3)
        ``W[l]`` of shape ``(n_out, n_in)`` (the tutorial's layout, the transpose of fastnn's).
    biases : list of ndarray, shapes (3,) and (1,)
    """
    weights = [np.array([[0.2, 0.2, 0.2], [0.4, 0.4, 0.4], [0.6, 0.6, 0.6]]),
               np.array([[0.5, 0.5, 0.5]])]
    biases = [np.array([0.8, 0.8, 0.8]), np.array([0.2])]
    return weights, biases


def tutorial_a_network(backend="auto"):
    """Tutorial A's 3-3-1 example as a :class:`fastnn.MLP` (sigmoid, mse).

    Returns
    -------
    MLP
        Weights transposed into fastnn's ``(n_in, n_out)`` layout.
    """
    weights, biases = tutorial_a_example()
    net = MLP([3, 3, 1], activation="sigmoid", loss="mse", backend=backend)
    return net.set_params([W.T for W in weights], biases)


def tutorial_a_digits(seed):
    """Tutorial A's digits data: standardised, 60 % train / 40 % test, one-hot targets.

    Parameters
    ----------
    seed : int
        ``random_state`` of the split (the tutorial's split was unseeded).

    Returns
    -------
    Split
        1078 training and 719 test images of 64 features, targets of 10 columns.
    """
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    images, labels = _digits()
    X = StandardScaler().fit_transform(images)
    X_train, X_test, y_train, y_test = train_test_split(
        X, labels, test_size=0.4, random_state=seed)
    eye = np.eye(N_DIGIT_CLASSES)
    return Split(X_train, X_test, eye[y_train], eye[y_test], y_train, y_test)


@functools.lru_cache(maxsize=1)
def tutorial_c_digits():
    """Tutorial C's digits data: min-max scaled, one-hot encoded, 80/20 split, seed 42.

    Returns
    -------
    Split
        1437 training and 360 test images of 64 features in [0, 1], targets of 10
        columns. Cached; the arrays are read-only.
    """
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder

    images, labels = _digits()
    X = MinMaxScaler().fit_transform(images)
    T = OneHotEncoder(sparse_output=False).fit_transform(labels.reshape(-1, 1))
    X_train, X_test, T_train, T_test, y_train, y_test = train_test_split(
        X, T, labels, test_size=0.2, random_state=42)
    return Split(*(_read_only(array) for array in
                   (X_train, X_test, T_train, T_test, y_train, y_test)))


@functools.lru_cache(maxsize=1)
def gaussian_clouds():
    """Tutorial B's data: three clouds of 500 points, exactly as ``np.random.seed(1)`` drew them.

    The legacy ``RandomState`` is used here only because it reproduces the tutorial's
    numbers; everything else in fastnn draws from ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray, shape (1500, 2)
        Standard normal points shifted by (0, -2), (2, 2) and (-2, 2).
    T : ndarray, shape (1500, 3)
        One-hot targets.
    y : ndarray of int, shape (1500,)
        Labels 0, 1, 2, in blocks of 500. Cached; the arrays are read-only.
    """
    legacy = np.random.RandomState(1)
    centres = [(0, -2), (2, 2), (-2, 2)]
    X = np.vstack([legacy.randn(500, 2) + np.array(centre) for centre in centres])
    y = np.repeat(np.arange(3), 500)
    return _read_only(X), _read_only(np.eye(3)[y]), _read_only(y)


def timing_network(layer_sizes, seed=0):
    """A sigmoid/mse network of the given sizes with seeded random parameters, for timing.

    Returns
    -------
    weights_out_in : list of ndarray, shapes (n_out, n_in)
        The same weights in the tutorial's layout, for its looped and vectorised code.
    biases : list of ndarray, shapes (n_out,)
    net : MLP
        The network on the vectorised reference backend (``with_backend`` gives the others).
    """
    net = MLP(layer_sizes, activation="sigmoid", loss="mse",
              backend=backends.reference_backend(time_limited_ok=False),
              init="uniform01", seed=seed)
    weights_out_in = [np.ascontiguousarray(W.T) for W in net.weights]
    biases = [np.array(b) for b in net.biases]
    return weights_out_in, biases, net


@functools.lru_cache(maxsize=1)
def _digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    return _read_only(digits.data.astype(np.float64)), _read_only(digits.target.astype(np.intp))


def _read_only(array):
    array = np.asarray(array)
    array.flags.writeable = False
    return array
