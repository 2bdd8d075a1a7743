"""pytest-benchmark: fitting fastnn's MLPClassifier versus scikit-learn's, on its own settings.

Digits (``load_digits``, ``train_test_split(test_size=0.25, random_state=0)``,
``StandardScaler`` fitted on the training part), one hidden layer of 64 relu units,
adam, ``learning_rate_init=0.001``, ``alpha=1e-4``, ``batch_size=64``, ``max_iter=60`` with
``tol=0`` and ``n_iter_no_change=1000`` so that both run all 60 epochs, threads pinned by
``benchmarks/conftest.py`` (one by default). fastnn's estimator uses ``backend="auto"``.

The two fits alternate, round by round, with the same ``random_state`` in a round:
pytest-benchmark times fastnn's fit, and the round's setup (outside the timed region)
times scikit-learn's with ``time.perf_counter``. ``extra_info`` records both medians and
interquartile ranges, the median and IQR of the per-round speedup, both test accuracies,
and the thread settings. The fit itself is not asserted to be fast (no wall-clock
assertions); the test asserts that both classifiers reach the same accuracy (within 2
points), which is what makes the speedup a fair comparison.

Run: ``pytest benchmarks/test_sklearn_fit.py --benchmark-json=fit.json``
(``FASTNN_FIT_ROUNDS`` sets the number of rounds, default 9).
"""

import os
import time
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.preprocessing import StandardScaler

from fastnn.estimator import MLPClassifier

ROUNDS = int(os.environ.get("FASTNN_FIT_ROUNDS", "9"))

# scikit-learn's parameter names; the same dict configures both estimators.
SETTINGS = {
    "hidden_layer_sizes": (64,),
    "activation": "relu",
    "solver": "adam",
    "alpha": 1e-4,
    "batch_size": 64,
    "learning_rate_init": 0.001,
    "max_iter": 60,
    "tol": 0.0,
    "n_iter_no_change": 1000,
}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def _fit(make, seed, X_train, y_train):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # all 60 epochs, by design
        return make(random_state=seed, **SETTINGS).fit(X_train, y_train)


def _median_and_iqr(values):
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return float(median), float(q3 - q1)


def test_fit_against_scikit_learn(benchmark, bench_threads, digits):
    X_train, X_test, y_train, y_test = digits
    start = time.perf_counter()
    warm = _fit(MLPClassifier, 0, X_train, y_train)  # compiles / loads the kernels
    first_fit_seconds = time.perf_counter() - start
    sklearn_seconds, sklearn_accuracy, fastnn_accuracy, seeds = [], [], [], iter(range(ROUNDS))

    def fit_scikit_learn_then_hand_over_the_seed():
        seed = next(seeds)
        start = time.perf_counter()
        reference = _fit(SklearnMLPClassifier, seed, X_train, y_train)
        sklearn_seconds.append(time.perf_counter() - start)
        assert reference.n_iter_ == SETTINGS["max_iter"]
        sklearn_accuracy.append(reference.score(X_test, y_test))
        return (seed,), {}

    def fit_fastnn(seed):
        model = _fit(MLPClassifier, seed, X_train, y_train)
        fastnn_accuracy.append(model.score(X_test, y_test))
        return model

    model = benchmark.pedantic(fit_fastnn, setup=fit_scikit_learn_then_hand_over_the_seed,
                               rounds=ROUNDS, iterations=1)
    assert model.n_iter_ == SETTINGS["max_iter"]
    fastnn_seconds = np.array(benchmark.stats.stats.data)
    speedups = np.array(sklearn_seconds) / fastnn_seconds
    figures = {
        "backend": warm.backend_,
        "rounds": ROUNDS,
        # Reported apart: the first fit of the session also loads (or compiles) the kernels.
        "fastnn_first_fit_seconds": first_fit_seconds,
        "sklearn_seconds_median_iqr": _median_and_iqr(sklearn_seconds),
        "fastnn_seconds_median_iqr": _median_and_iqr(fastnn_seconds),
        "speedup_median_iqr": _median_and_iqr(speedups),
        "sklearn_accuracy_median": float(np.median(sklearn_accuracy)),
        "fastnn_accuracy_median": float(np.median(fastnn_accuracy)),
        "sklearn_accuracies": [round(a, 4) for a in sklearn_accuracy],
        "fastnn_accuracies": [round(a, 4) for a in fastnn_accuracy],
        "settings": {key: list(value) if isinstance(value, tuple) else value
                     for key, value in SETTINGS.items()},
        **bench_threads,
    }
    benchmark.group = "fit digits 64-64-10 adam, 60 epochs: fastnn vs scikit-learn"
    benchmark.extra_info.update(figures)
    print(f"\nfit vs scikit-learn ({figures['backend']}, {ROUNDS} rounds): speedup median "
          f"{figures['speedup_median_iqr'][0]:.2f}x (IQR {figures['speedup_median_iqr'][1]:.2f}); "
          f"accuracy fastnn {figures['fastnn_accuracy_median']:.4f}, "
          f"scikit-learn {figures['sklearn_accuracy_median']:.4f}")
    assert abs(figures["fastnn_accuracy_median"] - figures["sklearn_accuracy_median"]) <= 0.02
