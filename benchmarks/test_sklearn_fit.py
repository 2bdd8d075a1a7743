"""pytest-benchmark: fit time of fastnn's estimators against scikit-learn's, every solver.

Two data sets, each split with ``train_test_split(test_size=0.25, random_state=0)`` and
scaled with a ``StandardScaler`` fitted on the training part:

- digits (``load_digits``): ``MLPClassifier``, test accuracy;
- diabetes (``load_diabetes``, target standardised): ``MLPRegressor``, test R^2.

One hidden layer of 64 relu units; for every solver — ``lbfgs``, ``sgd`` with each
``learning_rate`` schedule, ``adam`` — the same parameters (:data:`SOLVERS`, otherwise
scikit-learn's defaults, ``max_iter`` :data:`MAX_ITER`) configure both estimators.
fastnn's uses ``backend="auto"``. Threads are pinned by ``benchmarks/conftest.py`` (one by
default).

The fits alternate round by round, with ``random_state`` = the round's seed (0 .. ROUNDS-1)
for both: pytest-benchmark times fastnn's fit, and the round's setup (outside the timed
region) times scikit-learn's with ``time.perf_counter``. ``extra_info`` holds both medians
and interquartile ranges, the median and IQR of the per-round speedup, and both scores
per seed. The test asserts no speed (the machine may be shared); it asserts that the two
mean test scores agree within one standard deviation over the seeds, which is what makes
the speedup a comparison at equal accuracy. (They agree exactly in practice: the same
``random_state`` gives the same model to rounding.)

Run: ``pytest benchmarks/test_sklearn_fit.py --benchmark-json=fit.json -s``
(``FASTNN_FIT_ROUNDS`` sets the number of rounds, default 5); the ``-s`` output has one
line per case.
"""

import os
import time
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnClassifier
from sklearn.neural_network import MLPRegressor as SklearnRegressor
from sklearn.preprocessing import StandardScaler

from fastnn.estimator import MLPClassifier, MLPRegressor

ROUNDS = int(os.environ.get("FASTNN_FIT_ROUNDS", "5"))
MAX_ITER = 100

# scikit-learn's parameter names; each dict configures both estimators.
SOLVERS = {
    "lbfgs": {"solver": "lbfgs"},
    "sgd-constant": {"solver": "sgd", "learning_rate": "constant", "learning_rate_init": 0.01},
    "sgd-invscaling": {"solver": "sgd", "learning_rate": "invscaling",
                       "learning_rate_init": 0.05},
    "sgd-adaptive": {"solver": "sgd", "learning_rate": "adaptive", "learning_rate_init": 0.01},
    "adam": {"solver": "adam", "learning_rate_init": 0.001},
}
COMMON = {"hidden_layer_sizes": (64,), "activation": "relu", "max_iter": MAX_ITER}
ESTIMATORS = {"digits": (MLPClassifier, SklearnClassifier),
              "diabetes": (MLPRegressor, SklearnRegressor)}


def _split_and_scale(X, y):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


@pytest.fixture(scope="module")
def datasets():
    X, y = load_diabetes(return_X_y=True)
    return {"digits": _split_and_scale(*load_digits(return_X_y=True)),
            "diabetes": _split_and_scale(X, (y - y.mean()) / y.std())}


def _fit(make, seed, solver, X_train, y_train):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed budget, by design
        return make(random_state=seed, **COMMON, **SOLVERS[solver]).fit(X_train, y_train)


def _median_and_iqr(values):
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return float(median), float(q3 - q1)


@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("dataset", list(ESTIMATORS))
def test_fit_against_scikit_learn(benchmark, bench_threads, datasets, dataset, solver):
    X_train, X_test, y_train, y_test = datasets[dataset]
    ours, theirs = ESTIMATORS[dataset]
    start = time.perf_counter()
    warm = _fit(ours, 0, solver, X_train, y_train)  # compiles / loads the kernels
    first_fit_seconds = time.perf_counter() - start
    sklearn_seconds, sklearn_scores, fastnn_scores, seeds = [], [], [], iter(range(ROUNDS))

    def fit_scikit_learn_then_hand_over_the_seed():
        seed = next(seeds)
        start = time.perf_counter()
        reference = _fit(theirs, seed, solver, X_train, y_train)
        sklearn_seconds.append(time.perf_counter() - start)
        sklearn_scores.append(reference.score(X_test, y_test))
        return (seed,), {}

    def fit_fastnn(seed):
        model = _fit(ours, seed, solver, X_train, y_train)
        fastnn_scores.append(model.score(X_test, y_test))
        return model

    benchmark.pedantic(fit_fastnn, setup=fit_scikit_learn_then_hand_over_the_seed,
                       rounds=ROUNDS, iterations=1)
    fastnn_seconds = np.array(benchmark.stats.stats.data)
    speedups = np.array(sklearn_seconds) / fastnn_seconds
    spread = max(np.std(sklearn_scores), np.std(fastnn_scores))
    figures = {
        "backend": warm.backend_,
        "rounds": ROUNDS,
        # Reported apart: the first fit of the session also loads (or compiles) the kernels.
        "fastnn_first_fit_seconds": first_fit_seconds,
        "sklearn_seconds_median_iqr": _median_and_iqr(sklearn_seconds),
        "fastnn_seconds_median_iqr": _median_and_iqr(fastnn_seconds),
        "speedup_median_iqr": _median_and_iqr(speedups),
        "score": "accuracy" if dataset == "digits" else "r2",
        "sklearn_score_mean_std": (float(np.mean(sklearn_scores)), float(np.std(sklearn_scores))),
        "fastnn_score_mean_std": (float(np.mean(fastnn_scores)), float(np.std(fastnn_scores))),
        "sklearn_scores": [round(score, 4) for score in sklearn_scores],
        "fastnn_scores": [round(score, 4) for score in fastnn_scores],
        "settings": {**{key: list(value) if isinstance(value, tuple) else value
                        for key, value in COMMON.items()}, **SOLVERS[solver]},
        **bench_threads,
    }
    benchmark.group = f"fit {dataset} 64 relu: fastnn vs scikit-learn"
    benchmark.extra_info.update(figures)
    speedup, speedup_iqr = figures["speedup_median_iqr"]
    print(f"\n| {dataset} | {solver} | {figures['sklearn_seconds_median_iqr'][0] * 1e3:.1f} ms | "
          f"{figures['fastnn_seconds_median_iqr'][0] * 1e3:.1f} ms | {speedup:.2f}x "
          f"(IQR {speedup_iqr:.2f}) | {figures['sklearn_score_mean_std'][0]:.4f} | "
          f"{figures['fastnn_score_mean_std'][0]:.4f} | {figures['backend']} |")
    assert abs(np.mean(fastnn_scores) - np.mean(sklearn_scores)) <= spread + 1e-12
